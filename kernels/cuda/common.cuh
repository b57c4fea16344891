// Device-side helpers shared by the CUDA kernels (included by .cu files only).
#pragma once
#include <cstdint>

#include "engine/error.h"
#include "kernels/cuda/context.h"
#include "kernels/kernels.h"

// kernel<<<grid, block, shared_bytes, stream>>>(args...), spelled as a macro so that the kernels also build as plain
// C++ for the CPU emulation of tests/cuda_emulation, which defines its own versions of these two.
#ifndef GB_CUDA_EMULATION
#define GB_LAUNCH(kernel, grid, block, shared, stream) kernel<<<grid, block, shared, stream>>>
#define GB_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

namespace glassbox::kernels::cuda {

// Sum over the 32 lanes of a warp (every lane gets the total).
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// A reduction over the kBlock threads of a block (a power of two): every thread passes its value and gets the
// block's result. scratch: kBlock floats of shared memory, free for reuse when the call returns.
template <int kBlock, class Op>
__device__ __forceinline__ float block_reduce(float v, float* scratch, Op op) {
  const int t = threadIdx.x;
  scratch[t] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (t < s) scratch[t] = op(scratch[t], scratch[t + s]);
    __syncthreads();
  }
  const float result = scratch[0];
  __syncthreads();
  return result;
}
struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct MinOp {
  __device__ float operator()(float a, float b) const { return fminf(a, b); }
};

// The softmax statistics of a row z[0, C) by a block of kBlock threads: m = max z, sum = sum of exp(z - m).
template <int kBlock>
__device__ __forceinline__ void softmax_stats(const float* z, int64_t C, float* scratch, float& m, float& sum) {
  float local = -INFINITY;
  for (int64_t j = threadIdx.x; j < C; j += kBlock) local = fmaxf(local, z[j]);
  m = block_reduce<kBlock>(local, scratch, MaxOp{});
  local = 0.f;
  for (int64_t j = threadIdx.x; j < C; j += kBlock) local += expf(z[j] - m);
  sum = block_reduce<kBlock>(local, scratch, SumOp{});
}

// Up to this rank, shapes and strides travel to kernels by value.
constexpr int kMaxRank = 8;

}  // namespace glassbox::kernels::cuda
