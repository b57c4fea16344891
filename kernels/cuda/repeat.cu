// y [N * K, ...] = x [N, ...] with each row repeated K times (row n*K + k of y is row n of x), on the device.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void repeat_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t row,
                                   int64_t K) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[(i / (row * K)) * row + i % row];
}
}  // namespace

void repeat_rows(Context& ctx, ConstView x, View y) {
  const int64_t N = x.dim(0), K = N ? y.dim(0) / N : 0, row = N ? x.numel() / N : 0;
  GB_CHECK(N > 0 && K * N == y.dim(0) && y.numel() == K * x.numel(), "repeat_rows: ", shape_str(x.shape),
           " does not repeat into ", shape_str(y.shape));
  if (y.numel() == 0) return;
  GB_LAUNCH(repeat_rows_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(x.data, y.data, y.numel(), row,
                                                                                   K);
  check_launch("repeat_rows");
}

}  // namespace glassbox::kernels::cuda
