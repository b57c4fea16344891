// Softmax, CPU: y = exp(x - max) / sum(exp(x - max)) along one axis (max subtracted for stability).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void softmax(Context& ctx, int axis, ConstView x, View y) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t len = x.shape[axis];
  ctx.pool.parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / inner, i = t % inner;
      const float* xp = x.data + o * len * inner + i;
      float* yp = y.data + o * len * inner + i;
      float m = xp[0];
      for (int64_t k = 1; k < len; ++k) m = std::max(m, xp[k * inner]);
      double s = 0.0;
      for (int64_t k = 0; k < len; ++k) s += (yp[k * inner] = std::exp(xp[k * inner] - m));
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t k = 0; k < len; ++k) yp[k * inner] *= inv;
    }
  });
}

// Backward: dx = y * (dy - sum_axis(dy * y)).
void softmax_backward(Context& ctx, int axis, ConstView y, ConstView dy, View dx) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (size_t d = axis + 1; d < y.shape.size(); ++d) inner *= y.shape[d];
  const int64_t len = y.shape[axis];
  ctx.pool.parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t base = (t / inner) * len * inner + t % inner;
      double dot = 0;
      for (int64_t k = 0; k < len; ++k) dot += double(dy.data[base + k * inner]) * y.data[base + k * inner];
      for (int64_t k = 0; k < len; ++k)
        dx.data[base + k * inner] = y.data[base + k * inner] * (dy.data[base + k * inner] - float(dot));
    }
  });
}

}  // namespace glassbox::kernels::cpu
