// Convolution as an implicit GEMM on TF32 tensor cores (WMMA m16n16k8, fp32 accumulation). Same problem as the
// SIMT kernel (conv2d_gemm.cuh); operands are rounded to TF32 (10-bit mantissa) as they enter the tensor cores,
// so results differ from fp32 by about 1e-3 relative — the same trade PyTorch makes with allow_tf32.
//
// Block tile 128 x 128, K step 16, 256 threads = 8 warps as 2 (m) x 4 (n); each warp owns 64 x 32 = 4 x 2
// fragments. A is staged row-major [BM][BK+4] (matrix_a row_major), B [BK][BN+4] (matrix_b row_major); the +4
// keeps rows 16-byte aligned and staggers banks. The next K step is loaded into registers while the tensor cores
// work on this one. The epilogue goes through a 16x16 staging tile per warp so that bias, activation and the NCHW
// scatter are applied per element.
#ifndef GB_CUDA_EMULATION
#include <mma.h>
#endif

#include "kernels/cuda/conv2d_gemm.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kBM = 128, kBN = 128, kBK = 16, kThreads = 256;
constexpr int kLdA = kBK + 4, kLdB = kBN + 4;
using ASlot = ATileSlot<kBM, kBK, kThreads>;  // 8 contiguous k of one row per thread
using BSlot = BTileSlot<kBN, kBK, kThreads>;  // 8 contiguous k of one column per thread

__global__ void __launch_bounds__(kThreads) conv2d_tf32_kernel(const ConvGemm p) {
  __shared__ __align__(32) float As[kBM * kLdA];
  __shared__ __align__(32) float Bs[kBK * kLdB];
  __shared__ __align__(32) float Cs[kThreads / 32][16 * 16];

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / 4, wn = warp % 4;  // warp tile origin: (wm * 64, wn * 32)
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const ASlot aslot(tid);
  const BSlot bslot(tid);
  const ConvGemm::ALoader a(p, z, m0, aslot);
  const ConvGemm::BLoader b(p, z, n0, bslot);
  float ra[ASlot::E], rb[BSlot::E];

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  auto to_shared = [&] {
#pragma unroll
    for (int e = 0; e < ASlot::E; ++e) As[aslot.row * kLdA + aslot.k + e] = wmma::__float_to_tf32(ra[e]);
#pragma unroll
    for (int e = 0; e < BSlot::E; ++e) Bs[(bslot.k + e) * kLdB + bslot.col] = wmma::__float_to_tf32(rb[e]);
  };

  a.load(0, ra);
  b.load(0, rb);
  to_shared();
  __syncthreads();
  for (int k0 = 0; k0 < p.K; k0 += kBK) {
    const bool more = k0 + kBK < p.K;
    if (more) {
      a.load(k0 + kBK, ra);
      b.load(k0 + kBK, rb);
    }
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af[4];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(af[i], As + (wm * 64 + i * 16) * kLdA + kk, kLdA);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(bf[j], Bs + kk * kLdB + wn * 32 + j * 16, kLdB);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
    __syncthreads();  // everyone is done reading this step's tiles
    if (more) {
      to_shared();
      __syncthreads();
    }
  }

  float* stage = Cs[warp];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(stage, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int m = m0 + wm * 64 + i * 16 + e / 16, n = n0 + wn * 32 + j * 16 + e % 16;
        if (m < p.M && n < p.N) p.store(z, m, n, stage[e]);
      }
      __syncwarp();
    }
}

}  // namespace

void conv2d_implicit_gemm_tf32(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias,
                               View y) {
  if (y.numel() == 0) return;
  const ConvGemm p = make_conv_gemm(a, x, w, bias, y, ASlot::E);
  const int groups = static_cast<int>(a.groups);
  GB_CHECK(groups <= 65535, "conv2d implicit_gemm_tf32: ", groups, " groups exceed one launch");
  const dim3 grid((p.N + kBN - 1) / kBN, (p.M + kBM - 1) / kBM, groups);
  GB_LAUNCH(conv2d_tf32_kernel, grid, kThreads, 0, ctx.stream())(p);
  check_launch("conv2d implicit_gemm_tf32");
}

}  // namespace glassbox::kernels::cuda
