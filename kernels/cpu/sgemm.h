// A cache-blocked single-precision GEMM (Goto/BLIS structure): B is packed into KCxNC panels, A into MCxKC
// panels, and an MRxNR register-blocked micro-kernel (AVX2+FMA when the CPU has it) computes each tile.
// Used by convolution (im2col), Gemm and MatMul.
#pragma once
#include <cstdint>

#include "kernels/cpu/thread_pool.h"

namespace glassbox::kernels::cpu {

// A strided matrix operand: element (i, j) is p[i * rs + j * cs] (so transposes are free).
struct MatRef {
  const float* p;
  int64_t rs, cs;
};

// C[i, j] = alpha * sum_k A(i, k) * B(k, j) + beta * C[i, j] for i < M, j < N. C is row-major with leading
// dimension ldc; with beta == 0, C is written without being read. pool may be null (single thread).
void sgemm(ThreadPool* pool, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta, float* C,
           int64_t ldc);

// Which micro-kernel sgemm uses on this CPU ("avx2_fma_6x16" or "generic_6x16").
const char* sgemm_microkernel_name();

}  // namespace glassbox::kernels::cpu
