#include "kernels/cpu/sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "engine/error.h"

namespace glassbox::kernels::cpu {

namespace {

constexpr int64_t KC = 256;   // depth of a packed panel (A panel MR*KC and B panel KC*NR stay in L1/L2)
constexpr int64_t MC = 192;   // rows of A packed at once (a multiple of 6 and 12)
constexpr int64_t NC = 1024;  // columns of B packed at once (a multiple of 16 and 32): the packed panel stays in L2

// 64-byte aligned packing memory, one per thread and per operand, grown to the largest request and then kept:
// no allocation (and no page faults) in the steady state.
class PackBuffer {
 public:
  float* get(int64_t floats) {
    if (floats > capacity_) {
      const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      GB_CHECK(p, "out of memory for a ", bytes, "-byte GEMM packing buffer");
      data_.reset(p);
      capacity_ = floats;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};


// Pack A(ic : ic+mc, pc : pc+kc) into row panels of MR: for each k, MR consecutive values (rows past mc are 0).
template <int64_t MR>
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
template <int64_t NR>
void pack_b(MatRef B, int64_t pc, int64_t jc, int64_t kc, int64_t nc, float* out) {
  for (int64_t c = 0; c < nc; c += NR) {
    const int64_t cols = std::min(NR, nc - c);
    if (B.cs != 1 && B.rs == 1) {
      // Transposed storage: walk each column down its contiguous k run (a gather across columns would touch
      // a new cache line for every element).
      for (int64_t j = 0; j < NR; ++j) {
        const float* src = B.p + pc + (jc + c + j) * B.cs;
        for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = j < cols ? src[k] : 0.f;
      }
      out += kc * NR;
      continue;
    }
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

// The micro-kernels write one full MRxNR tile: c[i*ldc + j] = alpha * sum_k a[k*MR + i] * b[k*NR + j]
// (+ beta * c[i*ldc + j] unless beta == 0, in which case c is not read).
using MicroFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta);

template <int64_t MR, int64_t NR>
void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta) {
  float t[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int64_t i = 0; i < MR; ++i)
      for (int64_t j = 0; j < NR; ++j) t[i][j] += a[i] * b[j];
  for (int64_t i = 0; i < MR; ++i)
    for (int64_t j = 0; j < NR; ++j)
      c[i * ldc + j] = alpha * t[i][j] + (beta == 0.f ? 0.f : beta * c[i * ldc + j]);
}

__attribute__((target("avx2,fma"))) void micro_avx2_6x16(int64_t kc, const float* a, const float* b, float* c,
                                                         int64_t ldc, float alpha, float beta) {
  __m256 acc[6][2];
  for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += 6, b += 16) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  for (int i = 0; i < 6; ++i)
    for (int h = 0; h < 2; ++h) {
      float* p = c + i * ldc + 8 * h;
      __m256 v = _mm256_mul_ps(va, acc[i][h]);
      if (beta != 0.f) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), v);
      _mm256_storeu_ps(p, v);
    }
}

__attribute__((target("avx512f"))) void micro_avx512_12x32(int64_t kc, const float* a, const float* b, float* c,
                                                          int64_t ldc, float alpha, float beta) {
  __m512 acc[12][2];
  for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += 12, b += 32) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < 12; ++i)
    for (int h = 0; h < 2; ++h) {
      float* p = c + i * ldc + 16 * h;
      __m512 v = _mm512_mul_ps(va, acc[i][h]);
      if (beta != 0.f) v = _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), v);
      _mm512_storeu_ps(p, v);
    }
}

// The GEMM of rows [m0, m1) x columns [n0, n1), single-threaded, with an MRxNR micro-kernel.
template <int64_t MR, int64_t NR, MicroFn Micro>
void sgemm_block(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, float alpha, MatRef A, MatRef B,
                 float beta, float* C, int64_t ldc) {
  static_assert(MC % MR == 0 && NC % NR == 0, "panel sizes must be multiples of the micro-tile");
  const int64_t M = m1 - m0;
  thread_local PackBuffer a_buffer, b_buffer;
  float* const a_pack = a_buffer.get(MC * KC);
  float* const b_pack = b_buffer.get(KC * std::min(NC, (n1 - n0 + NR - 1) / NR * NR));
  alignas(64) float acc[MR * NR];
  // Depth panels of equal size (e.g. K = 576 as 3 x 192 rather than 256 + 256 + 64).
  const int64_t panels = (K + KC - 1) / KC, kc_even = (K + panels - 1) / panels;
  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kc_even) {
      const int64_t kc = std::min(kc_even, K - pc);
      const float b_scale = pc == 0 ? beta : 1.f;  // later depth panels accumulate onto C
      pack_b<NR>(B, pc, jc, kc, nc, b_pack);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a<MR>(A, m0 + ic, pc, mc, kc, a_pack);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t n = std::min(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t m = std::min(MR, mc - ir);
            float* c = C + (m0 + ic + ir) * ldc + jc + jr;
            if (m == MR && n == NR) {  // a full tile straight into C
              Micro(kc, a_pack + ir * kc, b_pack + jr * kc, c, ldc, alpha, b_scale);
              continue;
            }
            // An edge tile: computed into a local tile, then the valid part copied out.
            Micro(kc, a_pack + ir * kc, b_pack + jr * kc, acc, NR, 1.f, 0.f);
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

using BlockFn = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, float, MatRef, MatRef, float, float*, int64_t);
struct Kernel {
  const char* name;
  int64_t mr, nr;
  BlockFn block;
  bool (*supported)();
};

bool cpu_has_avx512() { return isa_supported(Isa::avx512); }
bool cpu_has_avx2() { return isa_supported(Isa::avx2); }
bool always() { return true; }

const Kernel kKernels[] = {
    {"avx512_12x32", 12, 32, sgemm_block<12, 32, micro_avx512_12x32>, cpu_has_avx512},
    {"avx2_6x16", 6, 16, sgemm_block<6, 16, micro_avx2_6x16>, cpu_has_avx2},
    {"generic_6x16", 6, 16, sgemm_block<6, 16, micro_generic<6, 16>>, always},
};

// The micro-kernel of an instruction set.
const Kernel& kernel_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return kKernels[0];
    case Isa::avx2: return kKernels[1];
    default: return kKernels[2];
  }
}

}  // namespace

struct SgemmKernel : Kernel {};

const SgemmKernel* sgemm_kernel(const std::string& name) {
  if (name.empty()) return static_cast<const SgemmKernel*>(&kernel_for(default_isa()));
  for (const Kernel& k : kKernels)
    if (name == k.name) {
      GB_CHECK(k.supported(), "sgemm micro-kernel '", name, "' needs CPU features this machine lacks");
      return static_cast<const SgemmKernel*>(&k);
    }
  std::string known;
  for (const Kernel& k : kKernels) known += (known.empty() ? "" : ", ") + std::string(k.name);
  fail("unknown sgemm micro-kernel '", name, "' (", known, ")");
}

std::vector<std::string> sgemm_kernel_names() {
  std::vector<std::string> names;
  for (const Kernel& k : kKernels)
    if (k.supported()) names.push_back(k.name);
  return names;
}

const SgemmKernel* sgemm_kernel_for(Isa isa) { return static_cast<const SgemmKernel*>(&kernel_for(isa)); }

const char* sgemm_kernel_name(const SgemmKernel* k) { return k->name; }

namespace {
void sgemm_impl(const Context& ctx, ThreadPool* pool, int64_t M, int64_t N, int64_t K, float alpha, MatRef A,
                MatRef B, float beta, float* Cp, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) Cp[i * ldc + j] = beta == 0.f ? 0.f : beta * Cp[i * ldc + j];
    return;
  }
  const Kernel& k = ctx.gemm_kernel ? *ctx.gemm_kernel : kernel_for(ctx.isa);
  const int threads = pool ? pool->size() : 1;
  if (threads == 1 || M * N * K < 64 * 64 * 64) {
    k.block(0, M, 0, N, K, alpha, A, B, beta, Cp, ldc);
    return;
  }
  // Split the wider dimension in whole tiles so each thread packs its own panels.
  const int64_t n_tiles = (N + k.nr - 1) / k.nr, m_tiles = (M + k.mr - 1) / k.mr;
  if (n_tiles >= 2 * threads || n_tiles >= m_tiles) {
    pool->parallel_for(n_tiles, 1, [&](int64_t b, int64_t e) {
      k.block(0, M, b * k.nr, std::min(N, e * k.nr), K, alpha, A, B, beta, Cp, ldc);
    });
  } else {
    pool->parallel_for(m_tiles, 1, [&](int64_t b, int64_t e) {
      k.block(b * k.mr, std::min(M, e * k.mr), 0, N, K, alpha, A, B, beta, Cp, ldc);
    });
  }
}

}  // namespace

void sgemm(Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta, float* C,
           int64_t ldc) {
  sgemm_impl(ctx, &ctx.pool, M, N, K, alpha, A, B, beta, C, ldc);
}

void sgemm_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta,
                  float* C, int64_t ldc) {
  sgemm_impl(ctx, nullptr, M, N, K, alpha, A, B, beta, C, ldc);
}

}  // namespace glassbox::kernels::cpu
