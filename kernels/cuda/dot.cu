// out = scale * <a, b> (+ out) on the device: one block of 256 threads, each summing a strided share, then a block
// reduction (common.cuh). For activation maximization's objective values (small, a few per logged step).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void dot_kernel(float scale, bool accumulate, const float* __restrict__ a, const float* __restrict__ b,
                           float* out, int64_t n) {
  __shared__ float scratch[256];
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += 256) s += a[i] * b[i];
  s = block_reduce<256>(s, scratch, SumOp{});
  if (threadIdx.x == 0) out[0] = accumulate ? out[0] + scale * s : scale * s;
}
}  // namespace

void dot(Context& ctx, float scale, bool accumulate, ConstView a, ConstView b, View out) {
  check_same_size("dot", a, b);
  GB_CHECK(out.numel() == 1, "dot: the output is one number, not ", shape_str(out.shape));
  GB_LAUNCH(dot_kernel, 1, 256, 0, ctx.stream())(scale, accumulate, a.data, b.data, out.data, a.numel());
  check_launch("dot");
}

}  // namespace glassbox::kernels::cuda
