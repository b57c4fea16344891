// Deconvnet's projection seed on the device (kernels/cpu/channel_seed.cpp states it): one block of 256 threads per
// image zeroes the image's rows, finds the channel's first maximum by a block reduction (with peak), then writes.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void channel_seed_kernel(bool peak, int64_t channel, const float* __restrict__ a, float* __restrict__ y,
                                    int64_t C, int64_t P) {
  __shared__ float best_value[kThreads];
  __shared__ int64_t best_index[kThreads];
  const int t = threadIdx.x;
  const int64_t n = blockIdx.x;
  for (int64_t i = t; i < C * P; i += blockDim.x) y[n * C * P + i] = 0.f;
  const float* in = a + (n * C + channel) * P;
  float* out = y + (n * C + channel) * P;
  __syncthreads();
  if (!peak) {
    for (int64_t p = t; p < P; p += blockDim.x) out[p] = in[p];
    return;
  }
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int64_t p = t; p < P; p += blockDim.x)
    if (bi < 0 || in[p] > bv) bv = in[p], bi = p;  // each thread's first maximum (its indices increase)
  best_value[t] = bv, best_index[t] = bi;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) {
      const int64_t oi = best_index[t + s];
      const float ov = best_value[t + s];
      if (oi >= 0 && (best_index[t] < 0 || ov > best_value[t] || (ov == best_value[t] && oi < best_index[t])))
        best_value[t] = ov, best_index[t] = oi;
    }
    __syncthreads();
  }
  if (t == 0 && best_index[0] >= 0) out[best_index[0]] = in[best_index[0]];
}

}  // namespace

void channel_seed(Context& ctx, bool peak, int64_t channel, ConstView a, View y) {
  const auto [N, C, P] = check_channel_seed(channel, a, y);
  if (N == 0 || C * P == 0) return;
  GB_LAUNCH(channel_seed_kernel, static_cast<unsigned>(N), kThreads, 0, ctx.stream())(peak, channel, a.data, y.data,
                                                                                      C, P);
  check_launch("channel_seed");
}

}  // namespace glassbox::kernels::cuda
