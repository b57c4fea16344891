#include "kernels/cpu/sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace glassbox::kernels::cpu {

namespace {

constexpr int64_t MR = 6, NR = 16;  // micro-tile: 6 rows x 16 columns = 12 AVX registers of accumulators
constexpr int64_t KC = 256;         // depth of a packed panel (A panel MR*KC and B panel KC*NR stay in L1/L2)
constexpr int64_t MC = 120;         // rows of A packed at once (multiple of MR), ~120 KB: L2
constexpr int64_t NC = 4096;        // columns of B packed at once (multiple of NR)

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Scratch = std::unique_ptr<float, AlignedFree>;
Scratch scratch(int64_t floats) {
  const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
  return Scratch(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

// Pack A(ic : ic+mc, pc : pc+kc) into row panels of MR: panel r holds, for each k, MR consecutive values
// (rows past mc are zero).
void pack_a(MatRef A, int64_t ic, int64_t pc, int64_t mc, int64_t kc, float* out) {
  for (int64_t r = 0; r < mc; r += MR) {
    const int64_t rows = std::min(MR, mc - r);
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A.p + (ic + r) * A.rs + (pc + k) * A.cs;
      int64_t i = 0;
      for (; i < rows; ++i) out[i] = src[i * A.rs];
      for (; i < MR; ++i) out[i] = 0.f;
      out += MR;
    }
  }
}

// Pack B(pc : pc+kc, jc : jc+nc) into column panels of NR: for each k, NR consecutive values (zero padded).
void pack_b(MatRef B, int64_t pc, int64_t jc, int64_t kc, int64_t nc, float* out) {
  for (int64_t c = 0; c < nc; c += NR) {
    const int64_t cols = std::min(NR, nc - c);
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B.p + (pc + k) * B.rs + (jc + c) * B.cs;
      int64_t j = 0;
      if (B.cs == 1) {
        std::memcpy(out, src, static_cast<size_t>(cols) * sizeof(float));
        j = cols;
      } else {
        for (; j < cols; ++j) out[j] = src[j * B.cs];
      }
      for (; j < NR; ++j) out[j] = 0.f;
      out += NR;
    }
  }
}

// acc[MR*NR] = sum_k a[k*MR + i] * b[k*NR + j]
void micro_generic(int64_t kc, const float* a, const float* b, float* acc) {
  float t[MR * NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int64_t i = 0; i < MR; ++i)
      for (int64_t j = 0; j < NR; ++j) t[i * NR + j] += a[i] * b[j];
  std::memcpy(acc, t, sizeof(t));
}

__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b, float* acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40), c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50), c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  _mm256_store_ps(acc + 0, c00), _mm256_store_ps(acc + 8, c01);
  _mm256_store_ps(acc + 16, c10), _mm256_store_ps(acc + 24, c11);
  _mm256_store_ps(acc + 32, c20), _mm256_store_ps(acc + 40, c21);
  _mm256_store_ps(acc + 48, c30), _mm256_store_ps(acc + 56, c31);
  _mm256_store_ps(acc + 64, c40), _mm256_store_ps(acc + 72, c41);
  _mm256_store_ps(acc + 80, c50), _mm256_store_ps(acc + 88, c51);
}

using MicroKernel = void (*)(int64_t, const float*, const float*, float*);

MicroKernel pick_microkernel() {
  __builtin_cpu_init();
  return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? micro_avx2 : micro_generic;
}

// The GEMM of rows [m0, m1) x columns [n0, n1), single-threaded.
void sgemm_block(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, float alpha, MatRef A, MatRef B,
                 float beta, float* C, int64_t ldc) {
  static const MicroKernel micro = pick_microkernel();  // immutable after first use
  const int64_t M = m1 - m0;
  Scratch ap = scratch(MC * KC), bp = scratch(KC * std::min(NC, (n1 - n0 + NR - 1) / NR * NR));
  alignas(64) float acc[MR * NR];
  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float b_scale = pc == 0 ? beta : 1.f;  // later depth panels accumulate onto C
      pack_b(B, pc, jc, kc, nc, bp.get());
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a(A, m0 + ic, pc, mc, kc, ap.get());
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t n = std::min(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t m = std::min(MR, mc - ir);
            micro(kc, ap.get() + ir * kc, bp.get() + jr * kc, acc);
            float* c = C + (m0 + ic + ir) * ldc + jc + jr;
            for (int64_t i = 0; i < m; ++i) {
              float* row = c + i * ldc;
              const float* t = acc + i * NR;
              if (b_scale == 0.f)
                for (int64_t j = 0; j < n; ++j) row[j] = alpha * t[j];
              else
                for (int64_t j = 0; j < n; ++j) row[j] = alpha * t[j] + b_scale * row[j];
            }
          }
        }
      }
    }
  }
}

}  // namespace

const char* sgemm_microkernel_name() {
  return pick_microkernel() == micro_avx2 ? "avx2_fma_6x16" : "generic_6x16";
}

void sgemm(ThreadPool* pool, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  const int threads = pool ? pool->size() : 1;
  const int64_t flops = M * N * K;
  if (threads == 1 || flops < 64 * 64 * 64) {
    sgemm_block(0, M, 0, N, K, alpha, A, B, beta, C, ldc);
    return;
  }
  // Split the wider dimension in tiles so each thread packs its own panels.
  const int64_t n_tiles = (N + NR - 1) / NR, m_tiles = (M + MR - 1) / MR;
  if (n_tiles >= 2 * threads || n_tiles >= m_tiles) {
    pool->parallel_for(n_tiles, 1, [&](int64_t b, int64_t e) {
      sgemm_block(0, M, b * NR, std::min(N, e * NR), K, alpha, A, B, beta, C, ldc);
    });
  } else {
    pool->parallel_for(m_tiles, 1, [&](int64_t b, int64_t e) {
      sgemm_block(b * MR, std::min(M, e * MR), 0, N, K, alpha, A, B, beta, C, ldc);
    });
  }
}

}  // namespace glassbox::kernels::cpu
