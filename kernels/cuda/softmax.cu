// Softmax: y = exp(x - max) / sum exp(x - max) along one axis. x is viewed as [outer, len, inner]. With inner == 1
// (the usual last axis) one warp reduces each row; otherwise one thread walks each (outer, inner) column.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void softmax_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t len) {
  const int64_t row = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  if (row >= rows) return;
  const float* xr = x + row * len;
  float* yr = y + row * len;
  float m = -INFINITY;
  for (int64_t k = threadIdx.x; k < len; k += 32) m = fmaxf(m, xr[k]);
  m = warp_max(m);
  float s = 0.f;
  for (int64_t k = threadIdx.x; k < len; k += 32) s += (yr[k] = expf(xr[k] - m));
  const float inv = 1.f / warp_sum(s);
  for (int64_t k = threadIdx.x; k < len; k += 32) yr[k] *= inv;
}

__global__ void softmax_columns_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer,
                                       int64_t len, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (t / inner) * len * inner + t % inner;
    float m = x[base];
    for (int64_t k = 1; k < len; ++k) m = fmaxf(m, x[base + k * inner]);
    float s = 0.f;
    for (int64_t k = 0; k < len; ++k) s += (y[base + k * inner] = expf(x[base + k * inner] - m));
    const float inv = 1.f / s;
    for (int64_t k = 0; k < len; ++k) y[base + k * inner] *= inv;
  }
}

}  // namespace

void softmax(Context& ctx, int axis, ConstView x, View y) {
  if (y.numel() == 0) return;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t len = x.shape[axis];
  if (inner == 1) {
    const int64_t blocks = (outer + 7) / 8;
    GB_CHECK(blocks < (int64_t(1) << 31), "softmax over ", outer, " rows: too many for one launch");
    GB_LAUNCH(softmax_rows_kernel, static_cast<unsigned>(blocks), dim3(32, 8), 0, ctx.stream())(x.data, y.data, outer, len);
  } else {
    GB_LAUNCH(softmax_columns_kernel, ctx.grid_for(outer * inner, 256), 256, 0, ctx.stream())(x.data, y.data, outer, len,
                                                                                       inner);
  }
  check_launch("softmax");
}

namespace {
// dx = y * (dy - sum(dy * y)) along the axis; one warp per row (inner == 1) or one thread per column.
__global__ void softmax_backward_rows_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                             float* __restrict__ dx, int64_t rows, int64_t len) {
  const int64_t row = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  if (row >= rows) return;
  const float *yr = y + row * len, *gr = dy + row * len;
  float dot = 0.f;
  for (int64_t k = threadIdx.x; k < len; k += 32) dot += yr[k] * gr[k];
  dot = warp_sum(dot);
  for (int64_t k = threadIdx.x; k < len; k += 32) dx[row * len + k] = yr[k] * (gr[k] - dot);
}

__global__ void softmax_backward_columns_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                                float* __restrict__ dx, int64_t outer, int64_t len, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (t / inner) * len * inner + t % inner;
    float dot = 0.f;
    for (int64_t k = 0; k < len; ++k) dot += y[base + k * inner] * dy[base + k * inner];
    for (int64_t k = 0; k < len; ++k) dx[base + k * inner] = y[base + k * inner] * (dy[base + k * inner] - dot);
  }
}
}  // namespace

void softmax_backward(Context& ctx, int axis, ConstView y, ConstView dy, View dx) {
  if (dx.numel() == 0) return;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (size_t d = axis + 1; d < y.shape.size(); ++d) inner *= y.shape[d];
  const int64_t len = y.shape[axis];
  if (inner == 1) {
    const int64_t blocks = (outer + 7) / 8;
    GB_LAUNCH(softmax_backward_rows_kernel, static_cast<unsigned>(blocks), dim3(32, 8), 0, ctx.stream())(
        y.data, dy.data, dx.data, outer, len);
  } else {
    GB_LAUNCH(softmax_backward_columns_kernel, ctx.grid_for(outer * inner, 256), 256, 0, ctx.stream())(
        y.data, dy.data, dx.data, outer, len, inner);
  }
  check_launch("softmax_backward");
}

}  // namespace glassbox::kernels::cuda
