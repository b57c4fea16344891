// One attention rollout matrix in place on the device (kernels.h: rollout_step): a = a + I; with normalize,
// Ahat = (a + I) / 2 with each row divided by its sum (Abnar & Zuidema 2020), one block of 256 threads per row;
// without, I + Abar (Chefer et al. 2021, R = R + Abar R), one thread per diagonal entry.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void add_identity_kernel(float* a, int64_t N, int64_t T) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < N * T; r += int64_t(gridDim.x) * blockDim.x)
    a[r * T + r % T] += 1.f;  // row i = r % T of matrix r / T
}

__global__ void rollout_rows_kernel(float* a, int64_t T) {
  __shared__ float scratch[256];
  const int64_t r = blockIdx.x, i = r % T;
  float* row = a + r * T;
  float local = 0.f;
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) local += 0.5f * (row[j] + (j == i ? 1.f : 0.f));
  const float sum = block_reduce<256>(local, scratch, SumOp{});
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) row[j] = 0.5f * (row[j] + (j == i ? 1.f : 0.f)) / sum;
}

}  // namespace

void rollout_step(Context& ctx, bool normalize, View a) {
  GB_CHECK(a.shape.size() == 3 && a.dim(1) == a.dim(2), "rollout_step: a ", shape_str(a.shape), " must be [N, T, T]");
  const int64_t N = a.dim(0), T = a.dim(1);
  if (N * T == 0) return;
  if (normalize) {
    GB_LAUNCH(rollout_rows_kernel, static_cast<unsigned>(N * T), 256, 0, ctx.stream())(a.data, T);
  } else {
    GB_LAUNCH(add_identity_kernel, ctx.grid_for(N * T, 256), 256, 0, ctx.stream())(a.data, N, T);
  }
  check_launch("rollout_step");
}

}  // namespace glassbox::kernels::cuda
