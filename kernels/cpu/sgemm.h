// A cache-blocked single-precision GEMM (Goto/BLIS structure): B is packed into KCxNC panels, A into MCxKC
// panels, and an MRxNR register-blocked micro-kernel computes each tile. Micro-kernels (picked once for the CPU):
//   avx512_12x32 — 24 zmm accumulators (AVX-512F)
//   avx2_6x16    — 12 ymm accumulators (AVX2 + FMA)
//   generic_6x16 — plain C++ (any x86-64)
// Used by convolution (im2col), Gemm and MatMul.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
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

// What a product may apply as it stores its result (a convolution's bias and ReLU/Clip, fused into the GEMM so the
// output is not read again): C[i, j] = min(max(v + bias[i], lo), hi) where v is the product as above; bias (one
// per row, may be null) and the bounds (-inf/+inf where none). With `columns` (strictly increasing, N of them),
// C's column j is not at j but at columns[j] (element (i, j) at C[i * ldc + columns[j]]), for every partial sum as
// for the result: several images' planes multiplied side by side land straight in NCHW.
struct Epilogue {
  const float* bias = nullptr;
  float lo = -__builtin_inff(), hi = __builtin_inff();
  const int64_t* columns = nullptr;
};

// Prepared weights: a constant operand packed once for one micro-kernel, then multiplied any number of times
// without packing it again (convolution and Gemm weights, once per session: Conv2dAttrs::constant_weights,
// GemmAttrs::constant_b). A [M x K] is packed as the left operand, B [K x N] as the right one. `source` is the
// operand itself, which must outlive this (a model constant does), for the skinny products that read it unpacked.
enum class Operand { a, b };
struct PackedOperand {
  const SgemmKernel* kernel = nullptr;
  Operand side = Operand::a;
  int64_t extent = 0, K = 0;  // extent: M for A, N for B
  MatRef source{nullptr, 0, 0};
  // Depth panels of MR-row (NR-column) strips (sgemm.cpp: pack_a_all, pack_b_all), 64-byte aligned (the
  // micro-kernels load B strips with aligned vector loads).
  std::unique_ptr<float, void (*)(void*)> data{nullptr, std::free};
};
// The packed form of the constant operand m for ctx's micro-kernel: packed at the first call for this operand (its
// address, side, shape and strides) and kernel, kept in ctx.packed, reused by every later call. Not thread-safe
// (call it before a parallel region).
const PackedOperand& packed_constant(Context& ctx, Operand side, int64_t extent, int64_t K, MatRef m);
// sgemm with either operand prepared (pa for A, pb for B; null: packed as the product runs, as sgemm does). A and B
// are the operands themselves (the prepared ones' sources). On ctx's threads, or on the calling thread only. With
// epi, the result is stored through that epilogue.
void sgemm_prepared(Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, const PackedOperand* pa,
                    MatRef B, const PackedOperand* pb, float beta, float* C, int64_t ldc,
                    const Epilogue* epi = nullptr);
void sgemm_prepared_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A,
                           const PackedOperand* pa, MatRef B, const PackedOperand* pb, float beta, float* C,
                           int64_t ldc, const Epilogue* epi = nullptr);

// A right operand packed by its producer (a convolution's im2col writes the unfolded input this way, which spares
// a copy): the layout pack_b_all writes for one micro-kernel. Depth panels of `depth` rows (the last may be
// shorter), each holding the columns in strips of nr (columns past N zero):
//   element (k, j) of a K x N operand at  pc * padded(N) + (j / nr) * nr * kc + (k - pc) * nr + j % nr,
// pc = k - k % depth the panel's first row, kc = min(depth, K - pc) its depth.
struct PackedBLayout {
  int64_t nr = 0, depth = 0;
  int64_t padded(int64_t N) const { return (N + nr - 1) / nr * nr; }
  int64_t floats(int64_t N, int64_t K) const { return padded(N) * K; }
};
// The layout for the products sgemm_packed_b runs with pa (its micro-kernel; null: the session's).
PackedBLayout packed_b_layout(const Context& ctx, const PackedOperand* pa, int64_t K);
// C [M x N] = A B through epi (may be null), B given only packed (b_packed, in packed_b_layout(ctx, pa, K), 64-byte
// aligned: AlignedFloats, Context::scratch), A as given or prepared (pa). On ctx's threads, or on the calling thread only.
void sgemm_packed_b(Context& ctx, int64_t M, int64_t N, int64_t K, MatRef A, const PackedOperand* pa,
                    const float* b_packed, float* C, int64_t ldc, const Epilogue* epi);
void sgemm_packed_b_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, MatRef A, const PackedOperand* pa,
                           const float* b_packed, float* C, int64_t ldc, const Epilogue* epi);

// Micro-kernels by name ("" = the one of default_isa()); unknown or unsupported names are errors.
const SgemmKernel* sgemm_kernel(const std::string& name);
const SgemmKernel* sgemm_kernel_for(Isa isa);  // the micro-kernel of an instruction set
const char* sgemm_kernel_name(const SgemmKernel* k);
std::vector<std::string> sgemm_kernel_names();  // those this CPU supports, best first

}  // namespace glassbox::kernels::cpu
