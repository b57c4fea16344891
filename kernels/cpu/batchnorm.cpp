// BatchNormalization (inference), CPU: y = scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + bias[c];
// backward dx = dy * scale[c] / sqrt(var[c] + epsilon).
#include <cmath>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void batchnorm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, ConstView mean, ConstView var,
               View y) {
  const int64_t N = x.dim(0), C = x.shape.size() > 1 ? x.dim(1) : 1;
  const int64_t inner = x.numel() / std::max<int64_t>(1, N * C);
  ctx.pool.parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      const float k = scale.data[c] / std::sqrt(var.data[c] + epsilon);
      const float s = bias.data[c] - k * mean.data[c];
      const float* xp = x.data + nc * inner;
      float* yp = y.data + nc * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = k * xp[i] + s;
    }
  });
}

// dx = dy * scale[c] / sqrt(var[c] + epsilon).
void batchnorm_backward(Context& ctx, float epsilon, ConstView scale, ConstView var, ConstView dy, View dx) {
  const int64_t N = dy.dim(0), C = dy.shape.size() > 1 ? dy.dim(1) : 1;
  const int64_t inner = dy.numel() / std::max<int64_t>(1, N * C);
  ctx.pool.parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      const float k = scale.data[c] / std::sqrt(var.data[c] + epsilon);
      for (int64_t i = 0; i < inner; ++i) dx.data[nc * inner + i] = k * dy.data[nc * inner + i];
    }
  });
}

}  // namespace glassbox::kernels::cpu
