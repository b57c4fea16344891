// y = a x + b y + c on the device (kernels.h: a term with a zero coefficient is not read).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void scale_add_kernel(float a, const float* __restrict__ x, float b, float c, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float r = c;
    if (a != 0.f) r += a * x[i];
    if (b != 0.f) r += b * y[i];
    y[i] = r;
  }
}
}  // namespace

void scale_add(Context& ctx, float a, ConstView x, float b, float c, View y) {
  if (a != 0.f) check_same_size("scale_add", x, y);
  if (y.numel() == 0) return;
  GB_LAUNCH(scale_add_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(a, x.data, b, c, y.data,
                                                                                 y.numel());
  check_launch("scale_add");
}

}  // namespace glassbox::kernels::cuda
