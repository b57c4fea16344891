// Score-CAM's masked inputs (Wang et al. 2020; SS-CAM's noisy masks, Wang et al. 2020b), CPU: copies of one image
// x [C, H, W] by masks [M, H, W], y[j, c, p] = x[c, p] * (scale * masks[j, p] + noise_std * gaussian_noise(seed,
// noise_offset + j * H * W + p)) (score_input_at in element_formulas.h; no noise term when noise_std is 0).
#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void score_inputs(Context& ctx, float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x,
                  ConstView masks, View y) {
  const CopySizes sizes = check_score_inputs(x, masks, y);
  const int64_t M = sizes.M, C = sizes.C, P = sizes.P;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(M * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t j = r / C, c = r % C;
      const float* in = x.data + c * P;
      const float* m = masks.data + j * P;
      float* out = y.data + r * P;
      for (int64_t p = 0; p < P; ++p)
        out[p] = score_input_at(in[p], m[p], scale, noise_std, seed, noise_offset + uint64_t(j * P + p));
    }
  });
}

}  // namespace glassbox::kernels::cpu
