// The SIMT (fp32 FMA) tiled GEMM that convolution (implicit GEMM), Gemm and MatMul share:
//   C[m, n] = sum_k A(m, k) * B(k, n),  for m < M, n < N, k < K,  one problem per blockIdx.z (group or batch).
// A "problem" supplies how A and B tiles are read from global memory (plain matrices, or B gathered from an image
// for convolution) and how each result is stored (bias, activation, NCHW scatter): the CUTLASS split of a GEMM
// into iterators and an epilogue, in miniature.
//
// The kernel, step by step as in the classic SGEMM write-ups:
//   - block tile BM x BN (128x128 or 64x64), K step BK = 8, 256 threads as 16 x 16;
//   - each thread loads BM*BK/256 elements of A (contiguous along k: one float4 when the problem allows) and
//     BN*BK/256 of B (contiguous along k for one column n) into registers, then into shared memory, A transposed
//     to [BK][BM] so that the inner loop reads both operands as float4 rows;
//   - register blocking: each thread accumulates a TM x TN = BM/16 x BN/16 tile, made of 4x4 sub-tiles 64 rows /
//     columns apart (conflict-free shared-memory reads, neighbouring threads store neighbouring columns);
//   - double buffering: the next K step is loaded from global memory into registers while the current one is
//     multiplied from shared memory.
#pragma once
#include "kernels/cuda/common.cuh"

namespace glassbox::kernels::cuda {

constexpr int kGemmThreads = 256;
constexpr int kGemmBK = 8;

// Which elements of a tile thread `tid` of THREADS loads. A tile: BM rows x BK, each thread E contiguous k values
// of one row.
template <int BM, int BK, int THREADS>
struct ATileSlot {
  static constexpr int E = BM * BK / THREADS;
  static_assert(E >= 1 && BK % E == 0, "A tile: whole rows per thread group");
  int row, k;
  __device__ explicit ATileSlot(int tid) : row(tid / (BK / E)), k((tid % (BK / E)) * E) {}
};
// B tile: BK x BN, each thread E contiguous k values of one column.
template <int BN, int BK, int THREADS>
struct BTileSlot {
  static constexpr int E = BN * BK / THREADS;
  static_assert(E >= 1 && BK % E == 0, "B tile: whole columns per thread group");
  int col, k;
  __device__ explicit BTileSlot(int tid) : col(tid % BN), k((tid / BN) * E) {}
};

// E contiguous floats from p (16-byte aligned for E % 4 == 0, 8-byte for E == 2) in as few loads as possible.
template <int E>
__device__ __forceinline__ void load_contiguous(const float* p, float (&r)[E]) {
  if constexpr (E % 4 == 0) {
#pragma unroll
    for (int i = 0; i < E; i += 4) {
      const float4 v = __ldg(reinterpret_cast<const float4*>(p + i));
      r[i] = v.x, r[i + 1] = v.y, r[i + 2] = v.z, r[i + 3] = v.w;
    }
  } else if constexpr (E == 2) {
    const float2 v = __ldg(reinterpret_cast<const float2*>(p));
    r[0] = v.x, r[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < E; ++i) r[i] = __ldg(p + i);
  }
}

// Problem interface (see conv2d_implicit_gemm.cu and gemm.cu):
//   int M, N, K;
//   struct ALoader { template <class Slot> __device__ ALoader(const Problem&, int z, int m0, const Slot&);
//                    template <int E> __device__ void load(int k0, float (&r)[E]) const; };
//   struct BLoader { template <class Slot> __device__ BLoader(const Problem&, int z, int n0, const Slot&);
//                    template <int E> __device__ void load(int k0, float (&r)[E]) const; };
// (load reads the slot's E values at k0 + slot.k; zero outside the matrix.)
//   __device__ void store(int z, int m, int n, float acc) const;
template <int BM, int BN, class Problem>
__global__ void __launch_bounds__(kGemmThreads) simt_gemm_kernel(const Problem p) {
  constexpr int BK = kGemmBK, TM = BM / 16, TN = BN / 16;
  __shared__ __align__(16) float As[2][BK][BM];
  __shared__ __align__(16) float Bs[2][BK][BN];

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int z = blockIdx.z, m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  using ASlot = ATileSlot<BM, BK, kGemmThreads>;
  using BSlot = BTileSlot<BN, BK, kGemmThreads>;
  const ASlot aslot(tid);
  const BSlot bslot(tid);
  const typename Problem::ALoader a(p, z, m0, aslot);
  const typename Problem::BLoader b(p, z, n0, bslot);

  float ra[ASlot::E], rb[BSlot::E];
  float acc[TM][TN] = {};

  auto to_shared = [&](int buf) {
#pragma unroll
    for (int e = 0; e < ASlot::E; ++e) As[buf][aslot.k + e][aslot.row] = ra[e];
#pragma unroll
    for (int e = 0; e < BSlot::E; ++e) Bs[buf][bslot.k + e][bslot.col] = rb[e];
  };

  a.load(0, ra);
  b.load(0, rb);
  to_shared(0);
  __syncthreads();
  int buf = 0;
  for (int k0 = 0; k0 < p.K; k0 += BK) {
    const bool more = k0 + BK < p.K;
    if (more) {  // global loads of the next step in flight while this one computes
      a.load(k0 + BK, ra);
      b.load(k0 + BK, rb);
    }
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int c = 0; c < TM / 4; ++c) {
        const float4 v = *reinterpret_cast<const float4*>(&As[buf][k][c * 64 + ty * 4]);
        av[c * 4 + 0] = v.x, av[c * 4 + 1] = v.y, av[c * 4 + 2] = v.z, av[c * 4 + 3] = v.w;
      }
#pragma unroll
      for (int c = 0; c < TN / 4; ++c) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[buf][k][c * 64 + tx * 4]);
        bv[c * 4 + 0] = v.x, bv[c * 4 + 1] = v.y, bv[c * 4 + 2] = v.z, bv[c * 4 + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (more) to_shared(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + (i / 4) * 64 + ty * 4 + i % 4;
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + (j / 4) * 64 + tx * 4 + j % 4;
      if (n < p.N) p.store(z, m, n, acc[i][j]);
    }
  }
}

// The block tile for a problem: 128x128 where M fills it (no half-empty tiles for 64-channel layers) and the grid
// still gives every SM two blocks, else 64x64.
inline int simt_gemm_tile(int64_t M, int64_t N, int64_t problems, int sm_count) {
  return M >= 128 && ((M + 127) / 128) * ((N + 127) / 128) * problems >= 2 * sm_count ? 128 : 64;
}

// Launches the kernel for `problems` independent problems (blockIdx.z).
template <int BM, int BN, class Problem>
void launch_simt_gemm(Context& ctx, const Problem& p, int problems, const char* name) {
  GB_CHECK(problems <= 65535, name, ": ", problems, " independent GEMMs exceed one launch (65535)");
  const dim3 grid((p.N + BN - 1) / BN, (p.M + BM - 1) / BM, problems);
  GB_CHECK(grid.y <= 65535, name, ": M = ", p.M, " is too large for one launch");
  const auto kernel = simt_gemm_kernel<BM, BN, Problem>;
  GB_LAUNCH(kernel, grid, kGemmThreads, 0, ctx.stream())(p);
  check_launch(name);
}

}  // namespace glassbox::kernels::cuda
