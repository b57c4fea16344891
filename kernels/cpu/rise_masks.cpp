// RISE's random masks (Petsiuk et al. 2018), CPU: masks i = first + j of y [M, H, W], each a cells x cells binary
// grid (uniform_noise < probability) upsampled bilinearly to (cells + 1) * ch x (cells + 1) * cw (ch = ceil(H /
// cells), likewise cw) and cropped to H x W at a random shift below (ch, cw) (rise_mask_at in element_formulas.h;
// Backend::rise_masks in kernels.h states the numbers).
#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void rise_masks(Context& ctx, uint32_t seed, uint64_t first, int64_t cells, float probability, View y) {
  GB_CHECK(y.shape.size() == 3 && cells >= 1, "rise_masks: masks ", shape_str(y.shape),
           " must be [M, H, W] and the grid ", cells, " x ", cells, " at least 1 x 1");
  const int64_t M = y.dim(0), H = y.dim(1), W = y.dim(2);
  ctx.pool.parallel_for(M * H, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const uint64_t i = first + uint64_t(r / H);
      float* out = y.data + r * W;
      for (int64_t X = 0; X < W; ++X) out[X] = rise_mask_at(seed, i, cells, probability, H, W, r % H, X);
    }
  });
}

}  // namespace glassbox::kernels::cpu
