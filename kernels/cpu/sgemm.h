// A cache-blocked single-precision GEMM (Goto/BLIS structure): B is packed into KCxNC panels, A into MCxKC
// panels, and an MRxNR register-blocked micro-kernel computes each tile. Micro-kernels (picked once for the CPU):
//   avx512_12x32 — 24 zmm accumulators (AVX-512F)
//   avx2_6x16    — 12 ymm accumulators (AVX2 + FMA)
//   generic_6x16 — plain C++ (any x86-64)
// Used by convolution (im2col), Gemm and MatMul.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/context.h"

namespace glassbox::kernels::cpu {

// A strided matrix operand: element (i, j) is p[i * rs + j * cs] (so transposes are free).
struct MatRef {
  const float* p;
  int64_t rs, cs;
};

// C[i, j] = alpha * sum_k A(i, k) * B(k, j) + beta * C[i, j] for i < M, j < N, C row-major with leading
// dimension ldc. With beta == 0, C is written without being read. Runs on ctx's threads with ctx's micro-kernel.
void sgemm(Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta, float* C,
           int64_t ldc);

// The same on the calling thread only (for callers that parallelize over their own blocks).
void sgemm_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta,
                  float* C, int64_t ldc);

// Micro-kernels by name ("" = the one of default_isa()); unknown or unsupported names are errors.
const SgemmKernel* sgemm_kernel(const std::string& name);
const SgemmKernel* sgemm_kernel_for(Isa isa);  // the micro-kernel of an instruction set
const char* sgemm_kernel_name(const SgemmKernel* k);
std::vector<std::string> sgemm_kernel_names();  // those this CPU supports, best first

}  // namespace glassbox::kernels::cpu
