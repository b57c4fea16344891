// y [M, ...] = rows index[j] of x [R, ...] on the device (index [M] as floats; one outside [0, R) gives a zero
// row: index_in_range in element_formulas.h). One thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void gather_rows_kernel(const float* __restrict__ x, const float* __restrict__ index,
                                   float* __restrict__ y, int64_t n, int64_t row, int64_t R) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = index_in_range(index[i / row], R);
    y[i] = r < 0 ? 0.f : x[r * row + i % row];
  }
}
}  // namespace

void gather_rows(Context& ctx, ConstView x, ConstView index, View y) {
  const int64_t R = x.shape.empty() ? 0 : x.dim(0), M = index.numel(), row = R ? x.numel() / R : 0;
  GB_CHECK(!x.shape.empty() && !y.shape.empty() && y.dim(0) == M && y.numel() == M * row,
           "gather_rows: ", M, " rows of ", shape_str(x.shape), " (index ", shape_str(index.shape),
           ") do not fill ", shape_str(y.shape));
  if (y.numel() == 0) return;
  GB_LAUNCH(gather_rows_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(x.data, index.data, y.data,
                                                                                   y.numel(), row, R);
  check_launch("gather_rows");
}

}  // namespace glassbox::kernels::cuda
