// Attention rollout's discarding on the device (kernels.h: discard_smallest): per matrix x[n] [T, T], the k =
// floor(ratio * T * T) smallest entries other than entry 0 become 0, ties in flat index order.
// One block of 256 threads per matrix, in place: a bisection over the 32-bit order keys of the floats (32 counting
// passes, each a block sum) finds the k-th smallest key v; then every entry with a key below v is zeroed, and of the
// entries equal to v the first k - #below in flat order (each thread owns a contiguous run of entries; an exclusive
// prefix over the threads' counts of equal entries says how many of its own it zeroes).
#include <cstring>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// A key whose unsigned order is the float order (negative floats bit-flipped, positive ones with the sign bit set);
// -0 counts as +0, as the comparison x < y does.
__device__ __forceinline__ uint32_t order_key(float v) {
  if (v == 0.f) v = 0.f;
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The sum of v over the block's threads (every thread gets it); scratch: kThreads shared int64_t.
__device__ __forceinline__ int64_t block_count(int64_t v, int64_t* scratch) {
  const int t = threadIdx.x;
  scratch[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) scratch[t] += scratch[t + s];
    __syncthreads();
  }
  const int64_t total = scratch[0];
  __syncthreads();
  return total;
}

__global__ void discard_smallest_kernel(float* x, int64_t P, int64_t k) {
  __shared__ int64_t scratch[kThreads];
  float* m = x + int64_t(blockIdx.x) * P;
  const int t = threadIdx.x;
  // The smallest key v with at least k candidates (flat indices 1 .. P-1) at or below it.
  uint32_t lo = 0, hi = 0xffffffffu;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    int64_t c = 0;
    for (int64_t p = 1 + t; p < P; p += kThreads) c += order_key(m[p]) <= mid ? 1 : 0;
    if (block_count(c, scratch) >= k) hi = mid;
    else lo = mid + 1;
  }
  const int64_t chunk = (P - 1 + kThreads - 1) / kThreads;
  const int64_t begin = 1 + t * chunk, end = begin + chunk < P ? begin + chunk : P;
  int64_t less = 0, equal = 0;
  for (int64_t p = begin; p < end; ++p) {
    const uint32_t key = order_key(m[p]);
    less += key < lo ? 1 : 0;
    equal += key == lo ? 1 : 0;
  }
  const int64_t below = block_count(less, scratch);
  scratch[t] = equal;
  __syncthreads();
  int64_t before = 0;  // entries equal to v in the runs of the threads before this one
  for (int i = 0; i < t; ++i) before += scratch[i];
  __syncthreads();
  int64_t ties = k - below - before;  // how many of this run's entries equal to v are among the k
  for (int64_t p = begin; p < end; ++p) {
    const uint32_t key = order_key(m[p]);
    if (key < lo) {
      m[p] = 0.f;
    } else if (key == lo && ties > 0) {
      m[p] = 0.f;
      --ties;
    }
  }
}

}  // namespace

void discard_smallest(Context& ctx, float ratio, View x) {
  GB_CHECK(x.shape.size() == 3 && x.dim(1) == x.dim(2), "discard_smallest: x ", shape_str(x.shape),
           " must be [N, T, T]");
  GB_CHECK(ratio >= 0.f && ratio <= 1.f, "discard_smallest: the ratio ", ratio, " is outside [0, 1]");
  const int64_t N = x.dim(0), P = x.dim(1) * x.dim(2);
  int64_t k = static_cast<int64_t>(floor(double(ratio) * double(P)));
  if (k > P - 1) k = P - 1;
  if (N == 0 || k <= 0) return;
  GB_LAUNCH(discard_smallest_kernel, static_cast<unsigned>(N), kThreads, 0, ctx.stream())(x.data, P, k);
  check_launch("discard_smallest");
}

}  // namespace glassbox::kernels::cuda
