// ReduceMean: y = mean of x over `axes` (sorted); y keeps the reduced dimensions as 1. Trailing axes (a global
// average over H, W) take one warp per output; other axes one thread per output walking the reduced coordinates.
#include "kernels/cpu/ops.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

struct ReduceDims {
  int rank = 0;
  int64_t x_size[kMaxRank] = {}, x_stride[kMaxRank] = {}, y_size[kMaxRank] = {};
  bool reduced[kMaxRank] = {};
};

__global__ void reduce_mean_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n_out, int64_t count,
                                   ReduceDims d) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t base = 0, rem = o;
    for (int k = d.rank - 1; k >= 0; --k) {
      base += (rem % d.y_size[k]) * d.x_stride[k];
      rem /= d.y_size[k];
    }
    float s = 0.f;
    for (int64_t r = 0; r < count; ++r) {  // r enumerates the reduced coordinates, last dimension fastest
      int64_t off = 0, rr = r;
      for (int k = d.rank - 1; k >= 0; --k)
        if (d.reduced[k]) {
          off += (rr % d.x_size[k]) * d.x_stride[k];
          rr /= d.x_size[k];
        }
      s += x[base + off];
    }
    y[o] = s / static_cast<float>(count);
  }
}

__global__ void fill_kernel(float* y, int64_t n, float v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) y[i] = v;
}

}  // namespace

void reduce_mean(Context& ctx, const std::vector<int>& axes, ConstView x, View y) {
  const int64_t n_out = y.numel();
  if (n_out == 0) return;
  const int r = static_cast<int>(x.shape.size());
  int64_t count = 1;
  for (int a : axes) count *= x.shape[a];
  if (count == 0) {  // the mean of nothing: 0, as the CPU kernel
    GB_LAUNCH(fill_kernel, ctx.grid_for(n_out, 256), 256, 0, ctx.stream())(y.data, n_out, 0.f);
    check_launch("reduce_mean (empty)");
    return;
  }
  bool trailing = true;  // axes == {r - k, ..., r - 1}
  for (size_t i = 0; i < axes.size(); ++i) trailing = trailing && axes[i] == r - static_cast<int>(axes.size() - i);
  if (trailing) return row_mean(ctx, x.data, y.data, n_out, count);
  GB_CHECK(r <= kMaxRank, "ReduceMean on a rank-", r, " tensor: the CUDA backend supports rank <= ", kMaxRank);
  ReduceDims d;
  d.rank = r;
  const auto sx = cpu::strides_of(x.shape);
  for (int k = 0; k < r; ++k) {
    d.x_size[k] = x.shape[k];
    d.x_stride[k] = sx[k];
    d.y_size[k] = y.shape[k];
  }
  for (int a : axes) d.reduced[a] = true;
  GB_LAUNCH(reduce_mean_kernel, ctx.grid_for(n_out, 256), 256, 0, ctx.stream())(x.data, y.data, n_out, count, d);
  check_launch("reduce_mean");
}

namespace {
// dx[i] = dy[i with the reduced coordinates at 0] / count.
__global__ void reduce_mean_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t n,
                                            float inv, ReduceDims d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int k = d.rank - 1; k >= 0; --k) {
      const int64_t c = rem % d.x_size[k];
      rem /= d.x_size[k];
      if (!d.reduced[k]) off += c * d.x_stride[k];  // x_stride holds dy's strides here
    }
    dx[i] = dy[off] * inv;
  }
}
}  // namespace

void reduce_mean_backward(Context& ctx, const std::vector<int>& axes, ConstView dy, View dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  const int r = static_cast<int>(dx.shape.size());
  GB_CHECK(r <= kMaxRank, "ReduceMean on a rank-", r, " tensor: the CUDA backend supports rank <= ", kMaxRank);
  ReduceDims d;
  d.rank = r;
  const auto sy = cpu::strides_of(dy.shape);
  int64_t count = 1;
  for (int k = 0; k < r; ++k) d.x_size[k] = dx.shape[k], d.x_stride[k] = sy[k];
  for (int a : axes) d.reduced[a] = true, count *= dx.shape[a];
  GB_LAUNCH(reduce_mean_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(
      dy.data, dx.data, n, count ? 1.f / float(count) : 0.f, d);
  check_launch("reduce_mean_backward");
}

}  // namespace glassbox::kernels::cuda
