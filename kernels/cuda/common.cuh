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

// Up to this rank, shapes and strides travel to kernels by value.
constexpr int kMaxRank = 8;

}  // namespace glassbox::kernels::cuda
