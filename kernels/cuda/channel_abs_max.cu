// Saliency on the device: y[n, p] = max over channels c of |x[n, c, p]| (kernels/cpu/channel_abs_max.cpp states
// the source). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void channel_abs_max_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t C,
                                       int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float* in = x + (i / P) * C * P + i % P;
    float m = 0.f;
    for (int64_t c = 0; c < C; ++c) m = fmaxf(m, fabsf(in[c * P]));
    y[i] = m;
  }
}
}  // namespace

void channel_abs_max(Context& ctx, ConstView x, View y) {
  const auto [N, C, P] = check_channel_abs_max(x, y);
  if (N * P == 0) return;
  GB_LAUNCH(channel_abs_max_kernel, ctx.grid_for(N * P, 256), 256, 0, ctx.stream())(x.data, y.data, N * P, C, P);
  check_launch("channel_abs_max");
}

}  // namespace glassbox::kernels::cuda
