// Portable vectors of L floats (GCC vector extensions) for kernels written once and instantiated per instruction
// set: a body templated on L, marked always_inline, is called from a wrapper compiled for AVX-512 (L = 16), AVX2
// (L = 8) or plain x86-64 (L = 4), so the same source becomes each set's instructions (a * b + c contracts to FMA).
// No vector is passed by value across a call whose ABI differs between the sets.
#pragma once
#include <cstring>
#include <utility>

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

// An L x L block held in L vectors, transposed in place (x[i][j] <-> x[j][i]): log2(L) butterfly stages, each
// swapping the off-diagonal B x B sub-blocks of row pairs (i, i + B) with two-vector shuffles:
//   new x[i][j]     = j & B ? x[i + B][j - B] : x[i][j]
//   new x[i + B][j] = j & B ? x[i + B][j]     : x[i][j + B]
template <int B, class V, int... J>
__attribute__((always_inline)) inline void swap_blocks(V& a, V& b, std::integer_sequence<int, J...>) {
  constexpr int L = sizeof...(J);
  const V lo = __builtin_shufflevector(a, b, ((J & B) ? (L + J - B) : J)...);
  const V hi = __builtin_shufflevector(a, b, ((J & B) ? (L + J) : (J + B))...);
  a = lo, b = hi;
}
template <int L, int B = L / 2, class V>
__attribute__((always_inline)) inline void transpose_in_place(V (&x)[L]) {
  for (int i = 0; i < L; ++i)
    if (!(i & B)) swap_blocks<B>(x[i], x[i + B], std::make_integer_sequence<int, L>{});
  if constexpr (B > 1) transpose_in_place<L, B / 2>(x);
}

}  // namespace glassbox::kernels::cpu
