// MaxPool / AveragePool (one thread per output; the window formula pool2d_at is shared with the CPU kernel) and
// GlobalAveragePool (one warp per plane).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void pool2d_kernel(Pool2dAttrs a, const float* __restrict__ x, float* __restrict__ y, int64_t planes,
                              int64_t H, int64_t W, int64_t OH, int64_t OW) {
  const int64_t n = planes * OH * OW;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
    y[i] = pool2d_at(a, x + plane * H * W, H, W, oh, ow);
  }
}

// y[r] = mean of the `len` values of row r; one warp per row, 8 rows per block.
__global__ void row_mean_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t len) {
  const int64_t row = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  if (row >= rows) return;
  const float* p = x + row * len;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < len; i += 32) s += p[i];
  s = warp_sum(s);
  if (threadIdx.x == 0) y[row] = s / static_cast<float>(len);
}

}  // namespace

void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  GB_LAUNCH(pool2d_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a, x.data, y.data, x.dim(0) * x.dim(1), x.dim(2),
                                                                x.dim(3), y.dim(2), y.dim(3));
  check_launch("pool2d");
}

void row_mean(Context& ctx, const float* x, float* y, int64_t rows, int64_t len) {
  if (rows == 0) return;
  const dim3 block(32, 8);
  const int64_t blocks = (rows + 7) / 8;
  GB_CHECK(blocks < (int64_t(1) << 31), "row mean over ", rows, " rows: too many for one launch");
  GB_LAUNCH(row_mean_kernel, static_cast<unsigned>(blocks), block, 0, ctx.stream())(x, y, rows, len);
  check_launch("row_mean");
}

void global_avg_pool(Context& ctx, ConstView x, View y) {
  const int64_t rows = x.dim(0) * x.dim(1);
  row_mean(ctx, x.data, y.data, rows, rows ? x.numel() / rows : 0);
}

namespace {
// One thread per output window; windows overlap, so the adds are atomic (pool2d_backward_at, shared with the CPU).
__global__ void pool2d_backward_kernel(Pool2dAttrs a, const float* __restrict__ x, const float* __restrict__ dy,
                                       float* dx, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  const int64_t n = planes * OH * OW;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
    float* dplane = dx + plane * H * W;
    pool2d_backward_at(a, x ? x + plane * H * W : nullptr, H, W, oh, ow, dy[i],
                       [dplane](int64_t j, float v) { atomicAdd(dplane + j, v); });
  }
}

__global__ void global_avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t n,
                                                int64_t plane) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[i / plane] / static_cast<float>(plane);
}
}  // namespace

void pool2d_backward(Context& ctx, const Pool2dAttrs& a, ConstView x, ConstView dy, View dx) {
  fill_zero(ctx, dx);
  const int64_t n = dy.numel();
  if (n == 0) return;
  GB_LAUNCH(pool2d_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(
      a, x.data, dy.data, dx.data, dx.dim(0) * dx.dim(1), dx.dim(2), dx.dim(3), dy.dim(2), dy.dim(3));
  check_launch("pool2d_backward");
}

void global_avg_pool_backward(Context& ctx, ConstView dy, View dx) {
  const int64_t n = dx.numel(), rows = dx.dim(0) * dx.dim(1);
  if (n == 0) return;
  GB_LAUNCH(global_avg_pool_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(dy.data, dx.data, n, n / rows);
  check_launch("global_avg_pool_backward");
}

}  // namespace glassbox::kernels::cuda
