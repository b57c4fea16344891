// LayerNormalization, CPU: each row of x viewed as [rows, len] (len = the product of the normalized dimensions)
// is normalized by its mean and (biased) variance, float64 statistics: y = (x - mean) / sigma * scale + bias,
// sigma = sqrt(var + epsilon).
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

namespace {

struct RowStats {
  double mean, inv_sigma;  // 1 / sqrt(var + epsilon)
};

RowStats row_stats(const float* x, int64_t len, float epsilon) {
  double sum = 0;
  for (int64_t k = 0; k < len; ++k) sum += x[k];
  const double mean = sum / double(len);
  double sq = 0;
  for (int64_t k = 0; k < len; ++k) sq += (x[k] - mean) * (x[k] - mean);
  return {mean, 1.0 / std::sqrt(sq / double(len) + epsilon)};
}

}  // namespace

void layer_norm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, View y) {
  const int64_t len = scale.numel(), rows = len ? x.numel() / len : 0;
  ctx.pool.parallel_for(rows, 4, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x.data + r * len;
      float* yr = y.data + r * len;
      const RowStats s = row_stats(xr, len, epsilon);
      for (int64_t k = 0; k < len; ++k)
        yr[k] = float((xr[k] - s.mean) * s.inv_sigma) * scale.data[k] + (bias.data ? bias.data[k] : 0.f);
    }
  });
}

// Backward: dx = (1/sigma) (g - mean(g) - xhat mean(g xhat)) per row, g = dy * scale.
void layer_norm_backward(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView dy, View dx) {
  const int64_t len = scale.numel(), rows = len ? x.numel() / len : 0;
  ctx.pool.parallel_for(rows, 4, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float *xr = x.data + r * len, *gr = dy.data + r * len;
      const RowStats s = row_stats(xr, len, epsilon);
      double sum_g = 0, sum_gx = 0;
      for (int64_t k = 0; k < len; ++k) {
        const double g = double(gr[k]) * scale.data[k];
        sum_g += g;
        sum_gx += g * (xr[k] - s.mean) * s.inv_sigma;
      }
      const float mean_g = float(sum_g / double(len)), mean_gx = float(sum_gx / double(len));
      for (int64_t k = 0; k < len; ++k)
        dx.data[r * len + k] = layer_norm_dx(gr[k] * scale.data[k], float((xr[k] - s.mean) * s.inv_sigma), mean_g,
                                             mean_gx, float(s.inv_sigma));
    }
  });
}

}  // namespace glassbox::kernels::cpu
