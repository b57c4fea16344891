// RISE's random masks on the device (kernels/cpu/rise_masks.cpp states the source): masks i = first + j of
// y [M, H, W], each element from rise_mask_at in element_formulas.h (its grid cells and shift are counter-based
// uniform numbers, the same on every backend). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void rise_masks_kernel(uint32_t seed, uint64_t first, int64_t cells, float probability,
                                  float* __restrict__ y, int64_t n, int64_t H, int64_t W) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = rise_mask_at(seed, first + uint64_t(i / (H * W)), cells, probability, H, W, (i / W) % H, i % W);
}
}  // namespace

void rise_masks(Context& ctx, uint32_t seed, uint64_t first, int64_t cells, float probability, View y) {
  GB_CHECK(y.shape.size() == 3 && cells >= 1, "rise_masks: masks ", shape_str(y.shape),
           " must be [M, H, W] and the grid ", cells, " x ", cells, " at least 1 x 1");
  if (y.numel() == 0) return;
  GB_LAUNCH(rise_masks_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(seed, first, cells, probability,
                                                                                  y.data, y.numel(), y.dim(1),
                                                                                  y.dim(2));
  check_launch("rise_masks");
}

}  // namespace glassbox::kernels::cuda
