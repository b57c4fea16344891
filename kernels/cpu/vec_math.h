// exp and erf on the L lanes of a vector (vec.h), for the vectorized Softmax, Erf and GELU. In place, through a
// reference (no vector is passed by value: vec.h). Both within a few float ulps of the exact function, with its
// special values: exp(NaN) = NaN, exp(x) = +inf above ln(FLT_MAX), 0 below ln of the smallest denormal, gradual
// underflow between; erf(+-inf) = +-1, erf(NaN) = NaN. Tested against the float64 functions in
// tests/kernels/test_cpu_kernels.cpp (VecMath).
#pragma once
#include <cstdint>

#include "kernels/cpu/vec.h"

namespace glassbox::kernels::cpu {

// exp(x) = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 split in a high part
// exact in float and a low part, Cody-Waite), e^r by its Taylor polynomial to r^7 (first dropped term below
// 6e-9 relative), 2^n as two exact powers of two 2^(n/2) 2^(n - n/2) so that n down to -149 underflows gradually.
template <class V>
__attribute__((always_inline)) inline void exp_in_place(V& v) {
  typedef int32_t IV __attribute__((vector_size(sizeof(V))));
  const V zero{}, lo = zero - 104.f, hi = zero + 88.7228394f, inf = zero + __builtin_inff(), half = zero + 0.5f;
  const V x = v;
  const V c = x < lo ? lo : (x > hi ? hi : x);
  const V f = c * 1.44269504f;
  const IV n = __builtin_convertvector(f + (f >= zero ? half : -half), IV);
  const V nf = __builtin_convertvector(n, V);
  const V r = (c - nf * 0.693359375f) - nf * -2.12194440e-4f;
  V p = zero + 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const IV n1 = n >> 1, n2 = n - n1;
  V y = p * (V)((n1 + 127) << 23) * (V)((n2 + 127) << 23);
  y = x > hi ? inf : y;
  y = x < lo ? zero : y;
  v = x != x ? x : y;  // NaN stays NaN
}

// erf(x): for |x| < 0.5 its Maclaurin series to x^13; above, 1 - erfc(|x|) with erfc(a) = t exp(-a^2 + P(t)),
// t = 1 / (1 + a/2), P of degree 7 fitted by tools/python/fit_erf.py (max |error| 1.5e-7 in float on [-5, 5]).
template <class V>
__attribute__((always_inline)) inline void erf_in_place(V& v) {
  constexpr float kErfcP[8] = {-2.531295392e-01f, 9.929887621e-01f, -1.369905846e+00f, 6.507373717e-01f,
                               -1.805834077e-01f, 4.317118181e-01f, 9.932394969e-01f,  -1.265168261e+00f};
  constexpr float kErfSeries[7] = {1.128379167e+00f, -3.761263890e-01f, 1.128379167e-01f, -2.686617065e-02f,
                                   5.223977625e-03f, -8.548327023e-04f, 1.205533298e-04f};
  const V zero{}, one = zero + 1.f, half = zero + 0.5f;
  const V x = v;
  const V a = x < zero ? -x : x;
  const V x2 = x * x;
  V s = zero + kErfSeries[6];
  for (int k = 5; k >= 0; --k) s = s * x2 + kErfSeries[k];
  s = s * x;
  const V t = one / (1.f + 0.5f * a);
  V p = zero + kErfcP[0];
  for (int k = 1; k < 8; ++k) p = p * t + kErfcP[k];
  V e = p - a * a;
  exp_in_place(e);
  V r = 1.f - t * e;
  r = x < zero ? -r : r;
  v = a < half ? s : r;  // NaN: a < 0.5 is false and r is NaN
}

}  // namespace glassbox::kernels::cpu
