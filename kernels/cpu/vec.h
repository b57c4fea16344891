// Portable vectors of L floats (GCC vector extensions) for kernels written once and instantiated per instruction
// set: a body templated on L, marked always_inline, is called from a wrapper compiled for AVX-512 (L = 16), AVX2
// (L = 8) or plain x86-64 (L = 4), so the same source becomes each set's instructions (a * b + c contracts to FMA).
// No vector is passed by value across a call whose ABI differs between the sets.
#pragma once
#include <cstring>

namespace glassbox::kernels::cpu {

template <int L>
struct VecOf {
  typedef float type __attribute__((vector_size(L * sizeof(float))));
};

// Unaligned vector load and store (memcpy, which the compiler turns into one vector move).
template <class V>
__attribute__((always_inline)) inline void load(V& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
template <class V>
__attribute__((always_inline)) inline void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace glassbox::kernels::cpu
