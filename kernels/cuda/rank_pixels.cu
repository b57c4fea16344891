// The rank of every pixel of each map on the device (kernels.h: rank_pixels; kernels/cpu/rank_pixels.cpp sorts):
// rank by counting, one thread per pixel counts the pixels of its map that rank before it (ranks_before in
// element_formulas.h), so ties and NaN order exactly as on the CPU. O(P^2) per map: at 224 x 224, 2.5e9
// comparisons per map, a few milliseconds on a current GPU; simple, and the forward passes of the metric cost more.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void rank_pixels_kernel(const float* __restrict__ maps, float* __restrict__ ranks, int64_t n, int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % P;
    const float* m = maps + (i - p);
    const float v = m[p];
    int64_t before = 0;
    for (int64_t q = 0; q < P; ++q) before += ranks_before(m[q], q, v, p) ? 1 : 0;
    ranks[i] = float(before);
  }
}
}  // namespace

void rank_pixels(Context& ctx, ConstView maps, View ranks) {
  const auto [R, C, P] = check_rank_pixels(maps, ranks);
  (void)R, (void)C;
  if (maps.numel() == 0) return;
  GB_LAUNCH(rank_pixels_kernel, ctx.grid_for(maps.numel(), 256), 256, 0, ctx.stream())(maps.data, ranks.data,
                                                                                        maps.numel(), P);
  check_launch("rank_pixels");
}

}  // namespace glassbox::kernels::cuda
