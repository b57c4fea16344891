// The gradient of the squared total variation of each plane (activation maximization's smoothness prior; Mahendran
// & Vedaldi 2015, beta = 2), CPU: dx += scale * dTV/dx (element_formulas.h: tv_gradient_at).
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void tv_gradient(Context& ctx, float scale, ConstView x, View dx) {
  const CopySizes sizes = check_tv_gradient(x, dx);
  const int64_t planes = sizes.M, H = sizes.C, W = sizes.P;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(planes, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* plane = x.data + r * H * W;
      float* out = dx.data + r * H * W;
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) out[i * W + j] += scale * tv_gradient_at(plane, H, W, i, j);
    }
  });
}

}  // namespace glassbox::kernels::cpu
