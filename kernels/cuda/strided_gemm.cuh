// Gemm, MatMul and Einsum (and their backward) as problems of the SIMT tiled GEMM (simt_gemm.cuh): A and B are strided
// matrices (a transpose is a swap of strides), one problem per broadcast batch index (blockIdx.z), and the epilogue
//   y[z, m, n] = act(alpha * sum_k A(m, k) B(k, n) + beta * C[m * scm + n * scn])   (C optional, broadcast),
// stored, or with `accumulate` added atomically (backward: a broadcast operand gathers several batch indices).
#pragma once
#include "kernels/cuda/simt_gemm.cuh"

namespace glassbox::kernels::cuda {

constexpr int kMaxBatchRank = 6;

struct StridedGemm {
  int M = 0, N = 0, K = 0;
  const float* A = nullptr;
  const float* B = nullptr;
  const float* C = nullptr;
  float* y = nullptr;
  int64_t sam = 0, sak = 0, sbk = 0, sbn = 0, scm = 0, scn = 0;
  float alpha = 1.f, beta = 0.f;
  ActivationAttrs act;
  // Batch z -> element offsets into A and B (broadcast batch dimensions have stride 0).
  int batch_rank = 0;
  int64_t batch_size[kMaxBatchRank] = {}, batch_sa[kMaxBatchRank] = {}, batch_sb[kMaxBatchRank] = {};
  bool custom_y = false;  // y's batch offsets from batch_sy (else z * M * N)
  int64_t batch_sy[kMaxBatchRank] = {};
  bool strided_y = false;  // y(m, n) at m * sym + n * syn (an Einsum's output in any layout), else m * N + n
  int64_t sym = 0, syn = 0;
  bool accumulate = false;

  // Batch z -> element offsets into A, B and y (y: z * M * N unless custom_y).
  __device__ void batch_offsets(int z, int64_t& oa, int64_t& ob, int64_t& oy) const {
    oa = 0, ob = 0, oy = 0;
    int64_t rem = z;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const int64_t i = rem % batch_size[d];
      rem /= batch_size[d];
      oa += i * batch_sa[d];
      ob += i * batch_sb[d];
      oy += i * batch_sy[d];
    }
    if (!custom_y) oy = static_cast<int64_t>(z) * M * N;
  }

  // Reads one operand: element (i, k) at base + batch offset + i * stride_i + k * stride_k, where i is a row of A
  // (the slot's row) or a column of B (the slot's column); the slot's E values run along k.
  template <bool kIsA>
  struct Loader {
    const float* line;
    int64_t stride_k;
    int K, k;
    bool valid;
    template <class Slot>
    __device__ Loader(const StridedGemm& p, int z, int i0, const Slot& s) : K(p.K), k(s.k) {
      int64_t oa, ob, oy;
      p.batch_offsets(z, oa, ob, oy);
      int i;
      if constexpr (kIsA) i = i0 + s.row;
      else i = i0 + s.col;
      valid = i < (kIsA ? p.M : p.N);
      stride_k = kIsA ? p.sak : p.sbk;
      line = (kIsA ? p.A + oa : p.B + ob) + (valid ? i * (kIsA ? p.sam : p.sbn) : 0);
    }
    template <int E>
    __device__ void load(int k0, float (&r)[E]) const {
#pragma unroll
      for (int e = 0; e < E; ++e) r[e] = valid && k0 + k + e < K ? __ldg(line + (k0 + k + e) * stride_k) : 0.f;
    }
  };
  using ALoader = Loader<true>;
  using BLoader = Loader<false>;

  __device__ void store(int z, int m, int n, float acc) const {
    const float c = C ? beta * C[m * scm + n * scn] : 0.f;
    int64_t oy = static_cast<int64_t>(z) * M * N;  // the batch walk only where y's layout is not plain
    if (custom_y) {
      int64_t oa, ob;
      batch_offsets(z, oa, ob, oy);
    }
    float* at = y + oy + (strided_y ? m * sym + n * syn : static_cast<int64_t>(m) * N + n);
    if (accumulate) atomicAdd(at, alpha * acc);
    else *at = act.apply(alpha * acc + c);
  }
};

inline void launch_strided_gemm(Context& ctx, const StridedGemm& p, int problems, const char* name) {
  if (simt_gemm_tile(p.M, p.N, problems, ctx.sm_count()) == 128) launch_simt_gemm<128, 128>(ctx, p, problems, name);
  else launch_simt_gemm<64, 64>(ctx, p, problems, name);
}

}  // namespace glassbox::kernels::cuda
