// Deletion and insertion copies of one image on the device (kernels.h: ranked_copies; kernels/cpu/ranked_copies.cpp
// states the source): one thread per output element, ranked_copy_at in element_formulas.h.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void ranked_copies_kernel(int64_t first_step, int64_t pixels_per_step, const float* __restrict__ from,
                                     const float* __restrict__ to, const float* __restrict__ ranks,
                                     float* __restrict__ y, int64_t n, int64_t C, int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i / (C * P), e = i % (C * P), p = e % P;
    y[i] = ranked_copy_at(first_step + j, pixels_per_step, ranks[p], from[e], to[e]);
  }
}
}  // namespace

void ranked_copies(Context& ctx, int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to,
                   ConstView ranks, View y) {
  const auto [M, C, P] = check_ranked_copies(first_step, pixels_per_step, from, to, ranks, y);
  (void)M;
  if (y.numel() == 0) return;
  GB_LAUNCH(ranked_copies_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(
      first_step, pixels_per_step, from.data, to.data, ranks.data, y.data, y.numel(), C, P);
  check_launch("ranked_copies");
}

}  // namespace glassbox::kernels::cuda
