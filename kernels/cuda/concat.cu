// Concat: y is the inputs laid side by side along `axis`. Viewed as [outer, row]: each input's rows are copied
// to their column offset in y's rows; one launch per input.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void concat_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t row,
                              int64_t y_row, int64_t offset) {
  const int64_t n = outer * row;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[(i / row) * y_row + offset + i % row] = x[i];
}

}  // namespace

void concat(Context& ctx, int axis, const std::vector<ConstView>& xs, View y) {
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  if (outer == 0) return;
  const int64_t y_row = y.numel() / outer;
  int64_t offset = 0;
  for (const ConstView& x : xs) {
    const int64_t row = x.numel() / outer;
    if (row) {
      GB_LAUNCH(concat_kernel, ctx.grid_for(outer * row, 256), 256, 0, ctx.stream())(x.data, y.data, outer, row, y_row,
                                                                              offset);
      check_launch("concat");
    }
    offset += row;
  }
}

namespace {
__global__ void concat_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t outer, int64_t row,
                                       int64_t y_row, int64_t offset) {
  const int64_t n = outer * row;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[(i / row) * y_row + offset + i % row];
}
}  // namespace

// Each input's gradient is its slice of dy (empty views skipped).
void concat_backward(Context& ctx, int axis, ConstView dy, const std::vector<View>& dxs) {
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= dy.shape[d];
  if (outer == 0) return;
  const int64_t y_row = dy.numel() / outer;
  int64_t offset = 0;
  for (const View& dx : dxs) {
    const int64_t row = numel(dx.shape) / outer;
    if (dx.data && row) {
      GB_LAUNCH(concat_backward_kernel, ctx.grid_for(outer * row, 256), 256, 0, ctx.stream())(dy.data, dx.data, outer,
                                                                                              row, y_row, offset);
      check_launch("concat_backward");
    }
    offset += row;
  }
}

}  // namespace glassbox::kernels::cuda
