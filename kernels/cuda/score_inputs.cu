// Score-CAM's masked inputs on the device (kernels/cpu/score_inputs.cpp states the sources): copies of one image
// x [C, H, W] by masks [M, H, W], y[j, c, p] = x[c, p] * (scale * masks[j, p] + noise_std * gaussian_noise(seed,
// noise_offset + j * H * W + p)) (score_input_at in element_formulas.h). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void score_inputs_kernel(const float* __restrict__ x, const float* __restrict__ masks,
                                    float* __restrict__ y, int64_t n, int64_t C, int64_t P, float scale,
                                    float noise_std, uint32_t seed, uint64_t noise_offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i / (C * P), p = i % P, mp = j * P + p;
    y[i] = score_input_at(x[i % (C * P)], masks[mp], scale, noise_std, seed, noise_offset + uint64_t(mp));
  }
}
}  // namespace

void score_inputs(Context& ctx, float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x,
                  ConstView masks, View y) {
  const auto [M, C, P] = check_score_inputs(x, masks, y);
  if (y.numel() == 0) return;
  GB_LAUNCH(score_inputs_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(
      x.data, masks.data, y.data, y.numel(), C, P, scale, noise_std, seed, noise_offset);
  check_launch("score_inputs");
}

}  // namespace glassbox::kernels::cuda
