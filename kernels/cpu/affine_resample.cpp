// Affine bilinear resampling (activation maximization's jitter, scale and rotation as one map), CPU, and its
// transpose: y = A x with A the bilinear taps of element_formulas.h (affine_taps, reflected at the borders);
// the backward scatters dy to the taps, dx = A^T dy.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void affine_resample(Context& ctx, ConstView params, ConstView x, View y) {
  const auto s = check_affine_resample(params, x, y);
  ctx.pool.parallel_for(s.N * s.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* p = params.data + (r / s.C) * 6;
      const float* in = x.data + r * s.H * s.W;
      float* out = y.data + r * s.OH * s.OW;
      for (int64_t oy = 0; oy < s.OH; ++oy)
        for (int64_t ox = 0; ox < s.OW; ++ox) {
          int64_t idx[4];
          float w[4];
          affine_taps(p, s.H, s.W, ox, oy, idx, w);
          out[oy * s.OW + ox] = w[0] * in[idx[0]] + w[1] * in[idx[1]] + w[2] * in[idx[2]] + w[3] * in[idx[3]];
        }
    }
  });
}

void affine_resample_backward(Context& ctx, ConstView params, ConstView dy, View dx) {
  const auto s = check_affine_resample(params, dx, dy);
  ctx.pool.parallel_for(s.N * s.C, 1, [&](int64_t b, int64_t e) {  // one plane per task: no write is shared
    for (int64_t r = b; r < e; ++r) {
      const float* p = params.data + (r / s.C) * 6;
      const float* g = dy.data + r * s.OH * s.OW;
      float* out = dx.data + r * s.H * s.W;
      std::fill(out, out + s.H * s.W, 0.f);
      for (int64_t oy = 0; oy < s.OH; ++oy)
        for (int64_t ox = 0; ox < s.OW; ++ox) {
          int64_t idx[4];
          float w[4];
          affine_taps(p, s.H, s.W, ox, oy, idx, w);
          const float v = g[oy * s.OW + ox];
          for (int k = 0; k < 4; ++k) out[idx[k]] += w[k] * v;
        }
    }
  });
}

}  // namespace glassbox::kernels::cpu
