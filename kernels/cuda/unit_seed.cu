// Seeds of activation maximization's unit objectives on the device (kernels/cpu/unit_seed.cpp): one thread per
// position of the channel's plane, or one thread for one position.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void unit_seed_kernel(float* plane, int64_t first, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    plane[first + i] += value;
}
}  // namespace

void unit_seed(Context& ctx, int64_t row, int64_t channel, int64_t position, float weight, View seed) {
  check_unit_seed(row, channel, position, seed);
  const int64_t C = seed.dim(1), P = seed.numel() / (seed.dim(0) * C);
  float* plane = seed.data + (row * C + channel) * P;
  const int64_t n = position >= 0 ? 1 : P;
  const float value = position >= 0 ? weight : weight / float(P);
  GB_LAUNCH(unit_seed_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(plane, position >= 0 ? position : 0, n,
                                                                        value);
  check_launch("unit_seed");
}

}  // namespace glassbox::kernels::cuda
