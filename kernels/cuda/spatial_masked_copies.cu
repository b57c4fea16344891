// ReciproCAM's copies of one feature map on the device (kernels/cpu/spatial_masked_copies.cpp states the source):
// a [C, h, w], one copy per spatial position q = first + j, y[j, c, p] = a[c, p] * m_q(p) (one-hot or the 3x3
// Gaussian cut at the borders: spatial_mask_at in element_formulas.h). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void spatial_masked_copies_kernel(bool gaussian, int64_t first, const float* __restrict__ a,
                                             float* __restrict__ y, int64_t n, int64_t C, int64_t P, int64_t w) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t q = first + i / (C * P);
    y[i] = a[i % (C * P)] * spatial_mask_at(gaussian, q, i % P, w);
  }
}
}  // namespace

void spatial_masked_copies(Context& ctx, bool gaussian, int64_t first, ConstView a, View y) {
  const auto [M, C, P] = check_spatial_masked_copies(first, a, y);
  const int64_t w = a.dim(-1);
  if (y.numel() == 0) return;
  GB_LAUNCH(spatial_masked_copies_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(
      gaussian, first, a.data, y.data, y.numel(), C, P, w);
  check_launch("spatial_masked_copies");
}

}  // namespace glassbox::kernels::cuda
