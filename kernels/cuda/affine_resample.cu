// Affine bilinear resampling on the device and its transpose (kernels/cpu/affine_resample.cpp states the map):
// the forward one thread per output element; the backward zeroes dx and scatters each dy to its four taps with
// atomicAdd (taps of neighbouring outputs overlap).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void affine_resample_kernel(const float* __restrict__ params, const float* __restrict__ x,
                                       float* __restrict__ y, int64_t n, int64_t C, int64_t H, int64_t W, int64_t OH,
                                       int64_t OW) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, plane = i / (OH * OW);
    int64_t idx[4];
    float w[4];
    affine_taps(params + (plane / C) * 6, H, W, ox, oy, idx, w);
    const float* in = x + plane * H * W;
    y[i] = w[0] * in[idx[0]] + w[1] * in[idx[1]] + w[2] * in[idx[2]] + w[3] * in[idx[3]];
  }
}

__global__ void affine_resample_backward_kernel(const float* __restrict__ params, const float* __restrict__ dy,
                                                float* dx, int64_t n, int64_t C, int64_t H, int64_t W, int64_t OH,
                                                int64_t OW) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, plane = i / (OH * OW);
    int64_t idx[4];
    float w[4];
    affine_taps(params + (plane / C) * 6, H, W, ox, oy, idx, w);
    float* out = dx + plane * H * W;
    const float g = dy[i];
    for (int k = 0; k < 4; ++k) atomicAdd(out + idx[k], w[k] * g);
  }
}
}  // namespace

void affine_resample(Context& ctx, ConstView params, ConstView x, View y) {
  const auto s = check_affine_resample(params, x, y);
  if (y.numel() == 0) return;
  GB_LAUNCH(affine_resample_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(
      params.data, x.data, y.data, y.numel(), s.C, s.H, s.W, s.OH, s.OW);
  check_launch("affine_resample");
}

void affine_resample_backward(Context& ctx, ConstView params, ConstView dy, View dx) {
  const auto s = check_affine_resample(params, dx, dy);
  fill_zero(ctx, dx);
  if (dy.numel() == 0) return;
  GB_LAUNCH(affine_resample_backward_kernel, ctx.grid_for(dy.numel(), 256), 256, 0, ctx.stream())(
      params.data, dy.data, dx.data, dy.numel(), s.C, s.H, s.W, s.OH, s.OW);
  check_launch("affine_resample_backward");
}

}  // namespace glassbox::kernels::cuda
