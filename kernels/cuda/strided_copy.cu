// The strided copy behind Transpose, Slice and Gather, any rank up to 8: y[j] = x[offset + sum_d j_d * steps[d]].
// One thread per element of y walks its index (consecutive threads write consecutive outputs); the backward
// scatters dy through the same map with atomic adds (a map may send several elements to one place).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

struct StridedMap {
  int rank = 0;
  int64_t offset = 0;
  int64_t y_size[kMaxRank] = {}, step[kMaxRank] = {};  // y's shape; x's step along each of y's dimensions

  __device__ int64_t source(int64_t i) const {
    int64_t src = offset;
    for (int d = rank - 1; d >= 0; --d) {
      src += (i % y_size[d]) * step[d];
      i /= y_size[d];
    }
    return src;
  }
};

StridedMap strided_map(int64_t offset, const std::vector<int64_t>& steps, const Shape& y) {
  const int r = static_cast<int>(y.size());
  GB_CHECK(r <= kMaxRank, "a strided copy (Transpose, Slice, Gather) to rank ", r,
           ": the CUDA backend supports rank <= ", kMaxRank);
  StridedMap m;
  m.rank = r, m.offset = offset;
  for (int d = 0; d < r; ++d) m.y_size[d] = y[d], m.step[d] = steps[d];
  return m;
}

__global__ void strided_copy_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, StridedMap m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[m.source(i)];
}

__global__ void strided_copy_backward_kernel(const float* __restrict__ dy, float* dx, int64_t n, StridedMap m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(dx + m.source(i), dy[i]);
}

}  // namespace

void strided_copy(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const StridedMap m = strided_map(offset, steps, y.shape);
  GB_LAUNCH(strided_copy_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(x.data, y.data, n, m);
  check_launch("strided_copy");
}

void strided_copy_backward(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx) {
  fill_zero(ctx, dx);
  const int64_t n = dy.numel();
  if (n == 0) return;
  const StridedMap m = strided_map(offset, steps, dy.shape);
  GB_LAUNCH(strided_copy_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(dy.data, dx.data, n, m);
  check_launch("strided_copy_backward");
}

}  // namespace glassbox::kernels::cuda
