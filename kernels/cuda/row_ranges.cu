// range [R, 2] = (min, max) of each row of x [R, ...] on the device; a row with a NaN has the range (NaN, NaN)
// (nan_min, nan_max in element_formulas.h). One block of 256 threads per row, a block reduction of both.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kThreads = 256;

struct NanMinOp {
  __device__ float operator()(float a, float b) const { return nan_min(a, b); }
};
struct NanMaxOp {
  __device__ float operator()(float a, float b) const { return nan_max(a, b); }
};

__global__ void row_ranges_kernel(const float* __restrict__ x, float* __restrict__ range, int64_t row) {
  __shared__ float scratch[kThreads];
  const float* p = x + int64_t(blockIdx.x) * row;
  float a = INFINITY, b = -INFINITY;
  for (int64_t i = threadIdx.x; i < row; i += blockDim.x) a = nan_min(a, p[i]), b = nan_max(b, p[i]);
  a = block_reduce<kThreads>(a, scratch, NanMinOp{});
  b = block_reduce<kThreads>(b, scratch, NanMaxOp{});
  if (threadIdx.x == 0) range[2 * int64_t(blockIdx.x)] = a, range[2 * int64_t(blockIdx.x) + 1] = b;
}

}  // namespace

void row_ranges(Context& ctx, ConstView x, View range) {
  const int64_t R = x.shape.empty() ? 0 : x.dim(0), row = R ? x.numel() / R : 0;
  GB_CHECK(!x.shape.empty() && range.shape.size() == 2 && range.dim(0) == R && range.dim(1) == 2,
           "row_ranges: the ranges of the rows of ", shape_str(x.shape), " are [", R, ", 2], not ",
           shape_str(range.shape));
  if (R == 0) return;
  GB_LAUNCH(row_ranges_kernel, static_cast<unsigned>(R), kThreads, 0, ctx.stream())(x.data, range.data, row);
  check_launch("row_ranges");
}

}  // namespace glassbox::kernels::cuda
