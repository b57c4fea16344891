// Ablation-CAM's copies of one feature map on the device (kernels/cpu/ablate_channels.cpp states the source):
// a [C, h, w] -> y[j] = a with channel channels[j] set to 0 (channels [M] as floats; one outside [0, C) zeroes
// nothing: index_in_range in element_formulas.h). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void ablate_channels_kernel(const float* __restrict__ a, const float* __restrict__ channels,
                                       float* __restrict__ y, int64_t n, int64_t C, int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i / (C * P), c = (i / P) % C;
    y[i] = index_in_range(channels[j], C) == c ? 0.f : a[i % (C * P)];
  }
}
}  // namespace

void ablate_channels(Context& ctx, ConstView a, ConstView channels, View y) {
  const auto [M, C, P] = check_ablate_channels(a, channels, y);
  if (y.numel() == 0) return;
  GB_LAUNCH(ablate_channels_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(a.data, channels.data,
                                                                                       y.data, y.numel(), C, P);
  check_launch("ablate_channels");
}

}  // namespace glassbox::kernels::cuda
