// The gradient of the squared total variation on the device, dx += scale * dTV/dx (kernels/cpu/tv_gradient.cpp
// states the source): one thread per element, reading its four neighbours (element_formulas.h: tv_gradient_at).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void tv_gradient_kernel(float scale, const float* __restrict__ x, float* __restrict__ dx, int64_t n,
                                   int64_t H, int64_t W) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i % W, r = (i / W) % H, plane = i / (H * W);
    dx[i] += scale * tv_gradient_at(x + plane * H * W, H, W, r, j);
  }
}
}  // namespace

void tv_gradient(Context& ctx, float scale, ConstView x, View dx) {
  const auto [planes, H, W] = check_tv_gradient(x, dx);
  if (planes * H * W == 0) return;
  GB_LAUNCH(tv_gradient_kernel, ctx.grid_for(x.numel(), 256), 256, 0, ctx.stream())(scale, x.data, dx.data,
                                                                                     x.numel(), H, W);
  check_launch("tv_gradient");
}

}  // namespace glassbox::kernels::cuda
