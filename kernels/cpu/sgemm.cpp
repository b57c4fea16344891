#include "kernels/cpu/sgemm.h"

#include <immintrin.h>
// GCC 12's own _mm512_set1_ps reads an "undefined" vector it then warns about (a false positive).
#ifndef __clang__  // a GCC warning clang does not know
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/vec.h"

namespace glassbox::kernels::cpu {

namespace {

constexpr int64_t KC = 256;   // depth of a packed panel (A panel MR*KC and B panel KC*NR stay in L1/L2)
constexpr int64_t MC = 192;   // rows of A packed at once (a multiple of 6 and 12)
constexpr int64_t NC = 1024;  // columns of B packed at once (a multiple of 16 and 32): the packed panel stays in L2

// 64-byte aligned memory for `floats` floats (at least one cache line), freed with std::free; what names it in
// the out-of-memory error.
float* aligned_floats(int64_t floats, const char* what) {
  const size_t bytes = std::max<size_t>(64, (static_cast<size_t>(std::max<int64_t>(floats, 0)) * sizeof(float) + 63) / 64 * 64);
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  GB_CHECK(p, "out of memory for ", bytes, " bytes of ", what);
  return p;
}

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
    if (B.cs == 1 && cols == NR) {  // a whole strip of contiguous rows: a constant-size copy is a few vector moves
      for (int64_t k = 0; k < kc; ++k, out += NR) std::memcpy(out, B.p + (pc + k) * B.rs + jc + c, NR * sizeof(float));
      continue;
    }
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B.p + (pc + k) * B.rs + (jc + c) * B.cs;
      int64_t j = 0;
      if (B.cs == 1) {  // (a variable-size memcpy here was inlined as rep movsq: slow for 128 bytes)
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

// The micro-kernels write the first n (1 to NR) columns of one MRxNR tile: c[i*ldc + j] = alpha * sum_k
// a[k*MR + i] * b[k*NR + j] (+ beta * c[i*ldc + j] unless beta == 0, in which case c is not read), through the
// epilogue e where not null (e->bias: the tile's first row's bias). Columns past n are neither read nor written
// (masked loads and stores), so a narrow last strip (7x7 planes: 49 = 32 + 17) needs no copy through a local tile.
using MicroFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                         const Epilogue* e, int64_t n);

// One value through an epilogue (the vector kernels do the same with max, then min); NaN stays NaN.
inline float epilogue_value(const Epilogue& e, int64_t row, float v) {
  if (e.bias) v += e.bias[row];
  return std::min(std::max(v, e.lo), e.hi);
}

template <int64_t MR, int64_t NR>
void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                   const Epilogue* e, int64_t n) {
  float t[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int64_t i = 0; i < MR; ++i)
      for (int64_t j = 0; j < NR; ++j) t[i][j] += a[i] * b[j];
  for (int64_t i = 0; i < MR; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float v = alpha * t[i][j] + (beta == 0.f ? 0.f : beta * c[i * ldc + j]);
      c[i * ldc + j] = e ? epilogue_value(*e, i, v) : v;
    }
}

__attribute__((target("avx2,fma"))) void micro_avx2_6x16(int64_t kc, const float* a, const float* b, float* c,
                                                         int64_t ldc, float alpha, float beta, const Epilogue* e,
                                                         int64_t n) {
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
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane),
                           _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n) - 8), lane)};
  for (int i = 0; i < 6; ++i)
    for (int h = 0; h < 2; ++h) {
      float* p = c + i * ldc + 8 * h;
      __m256 v = _mm256_mul_ps(va, acc[i][h]);
      if (beta != 0.f) v = _mm256_fmadd_ps(vb, n == 16 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask[h]), v);
      if (e) {
        if (e->bias) v = _mm256_add_ps(v, _mm256_set1_ps(e->bias[i]));
        v = _mm256_min_ps(_mm256_set1_ps(e->hi), _mm256_max_ps(_mm256_set1_ps(e->lo), v));  // NaN stays NaN
      }
      if (n == 16) _mm256_storeu_ps(p, v);
      else _mm256_maskstore_ps(p, mask[h], v);
    }
}

__attribute__((target("avx512f"))) void micro_avx512_12x32(int64_t kc, const float* a, const float* b, float* c,
                                                          int64_t ldc, float alpha, float beta, const Epilogue* e,
                                                          int64_t n) {
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
  const __mmask16 mask[2] = {static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1),
                             static_cast<__mmask16>(n >= 32 ? 0xFFFFu : n > 16 ? (1u << (n - 16)) - 1 : 0u)};
  for (int i = 0; i < 12; ++i)
    for (int h = 0; h < 2; ++h) {
      float* p = c + i * ldc + 16 * h;
      __m512 v = _mm512_mul_ps(va, acc[i][h]);
      if (beta != 0.f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[h], p), v);
      if (e) {
        if (e->bias) v = _mm512_add_ps(v, _mm512_set1_ps(e->bias[i]));
        v = _mm512_min_ps(_mm512_set1_ps(e->hi), _mm512_max_ps(_mm512_set1_ps(e->lo), v));  // NaN stays NaN
      }
      _mm512_mask_storeu_ps(p, mask[h], v);
    }
}

// Depth panels of equal size (e.g. K = 576 as 3 x 192 rather than 256 + 256 + 64).
int64_t depth_panel(int64_t K) {
  if (K <= 0) return 1;
  const int64_t panels = (K + KC - 1) / KC;
  return (K + panels - 1) / panels;
}

// Operands packed in advance (prepared weights), or null: packed block by block as the product runs.
struct Prepacked {
  const float* a = nullptr;  // the whole of A as pack_a_all lays it out, rows rounded up to a_rows
  int64_t a_rows = 0;
  const float* b = nullptr;  // the whole of B as pack_b_all lays it out, columns rounded up to b_cols
  int64_t b_cols = 0;
};

// The GEMM of rows [m0, m1) x columns [n0, n1), single-threaded, with an MRxNR micro-kernel (m0 a multiple of MR
// and n0 of NR where the operand comes packed).
template <int64_t MR, int64_t NR, MicroFn Micro>
void sgemm_block(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, float alpha, MatRef A, MatRef B,
                 float beta, float* C, int64_t ldc, const Prepacked& pre, const Epilogue* epi) {
  static_assert(MC % MR == 0 && NC % NR == 0, "panel sizes must be multiples of the micro-tile");
  const int64_t M = m1 - m0;
  // 64-byte aligned packing memory, one per thread and operand, grown to the largest request and then kept: no
  // allocation (and no page faults) in the steady state.
  thread_local AlignedFloats a_buffer, b_buffer;
  float* const a_pack = pre.a ? nullptr : a_buffer.get(MC * KC);
  float* const b_pack = pre.b ? nullptr : b_buffer.get(KC * std::min(NC, (n1 - n0 + NR - 1) / NR * NR));
  alignas(64) float acc[MR * NR];
  const int64_t kc_even = depth_panel(K);
  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kc_even) {
      const int64_t kc = std::min(kc_even, K - pc);
      const float b_scale = pc == 0 ? beta : 1.f;  // later depth panels accumulate onto C
      const bool last = pc + kc >= K;               // the epilogue goes with the last depth panel
      const int64_t* columns = epi ? epi->columns : nullptr;  // C's layout, for every panel
      const float* b_panel = b_pack;
      if (pre.b) b_panel = pre.b + pc * pre.b_cols + jc * kc;
      else pack_b<NR>(B, pc, jc, kc, nc, b_pack);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        const float* a_panel = a_pack;
        if (pre.a) a_panel = pre.a + pc * pre.a_rows + (m0 + ic) * kc;
        else pack_a<MR>(A, m0 + ic, pc, mc, kc, a_pack);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t n = std::min(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t m = std::min(MR, mc - ir), j0 = jc + jr;
            float* c = C + (m0 + ic + ir) * ldc + (columns ? columns[j0] : j0);
            Epilogue tile_epi;
            if (last && epi) tile_epi = {epi->bias ? epi->bias + m0 + ic + ir : nullptr, epi->lo, epi->hi};
            const Epilogue* e = last && epi ? &tile_epi : nullptr;
            // (columns strictly increase, so they are consecutive exactly when the last is n - 1 past the first)
            if (m == MR && (!columns || columns[j0 + n - 1] - columns[j0] == n - 1)) {
              Micro(kc, a_panel + ir * kc, b_panel + jr * kc, c, ldc, alpha, b_scale, e, n);  // all rows into C
              continue;
            }
            // A tile short of rows, or whose columns are not consecutive in C: computed into a local tile, then
            // the valid part copied out.
            Micro(kc, a_panel + ir * kc, b_panel + jr * kc, acc, NR, 1.f, 0.f, nullptr, NR);
            for (int64_t i = 0; i < m; ++i) {
              float* row = C + (m0 + ic + ir + i) * ldc;
              const float* t = acc + i * NR;
              for (int64_t j = 0; j < n; ++j) {
                float& out = row[columns ? columns[j0 + j] : j0 + j];
                const float v = alpha * t[j] + (b_scale == 0.f ? 0.f : b_scale * out);
                out = e ? epilogue_value(*e, i, v) : v;
              }
            }
          }
        }
      }
    }
  }
}

using BlockFn = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, float, MatRef, MatRef, float, float*, int64_t,
                         const Prepacked&, const Epilogue*);
using PackAllFn = void (*)(MatRef, int64_t, int64_t, float*);

// The whole of A [M x K] packed for one micro-kernel: depth panel by depth panel (depth_panel(K) deep), each
// panel's rows in MR-row strips (rows past M zero): panel pc, strip of row r at pc * padded_rows + r * kc.
template <int64_t MR>
void pack_a_all(MatRef A, int64_t M, int64_t K, float* out) {
  const int64_t kc_even = depth_panel(K), padded_rows = (M + MR - 1) / MR * MR;
  for (int64_t pc = 0; pc < K; pc += kc_even) pack_a<MR>(A, 0, pc, M, std::min(kc_even, K - pc), out + pc * padded_rows);
}

// The whole of B [K x N] likewise: each depth panel's columns in NR-column strips (columns past N zero): panel pc,
// strip of column j at pc * padded_cols + j * kc.
template <int64_t NR>
void pack_b_all(MatRef B, int64_t N, int64_t K, float* out) {
  const int64_t kc_even = depth_panel(K), padded_cols = (N + NR - 1) / NR * NR;
  for (int64_t pc = 0; pc < K; pc += kc_even) pack_b<NR>(B, pc, 0, std::min(kc_even, K - pc), N, out + pc * padded_cols);
}
struct Kernel {
  const char* name;
  int64_t mr, nr;
  BlockFn block;
  PackAllFn pack_a_all, pack_b_all;
  bool (*supported)();
  Isa isa;  // its instruction set (also that of the skinny path below)
};

bool cpu_has_avx512() { return isa_supported(Isa::avx512); }
bool cpu_has_avx2() { return isa_supported(Isa::avx2); }
bool always() { return true; }

const Kernel kKernels[] = {
    {"avx512_12x32", 12, 32, sgemm_block<12, 32, micro_avx512_12x32>, pack_a_all<12>, pack_b_all<32>, cpu_has_avx512, Isa::avx512},
    {"avx2_6x16", 6, 16, sgemm_block<6, 16, micro_avx2_6x16>, pack_a_all<6>, pack_b_all<16>, cpu_has_avx2, Isa::avx2},
    {"generic_6x16", 6, 16, sgemm_block<6, 16, micro_generic<6, 16>>, pack_a_all<6>, pack_b_all<16>, always, Isa::generic},
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

float* AlignedFloats::get(int64_t floats) {
  if (floats > capacity_) {
    data_.reset(aligned_floats(floats, "kernel scratch memory"));
    capacity_ = floats;
  }
  return data_.get();
}

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

// ---- Skinny products: M <= kSkinny rows (or N <= kSkinny columns, solved transposed), such as a fully connected
// layer at batch 1. Packing would cost more than the product and an MRxNR tile would be mostly padding, so the
// long dimension is vectorized straight from the operands (L lanes; GCC vector types, instantiated per instruction
// set below). Output element (i, j) is C[i * crs + j * ccs].
constexpr int64_t kSkinny = 4;

inline void store_out(float* c, float alpha, float beta, float s) { *c = alpha * s + (beta == 0.f ? 0.f : beta * *c); }

// B rows contiguous (B.cs == 1): C[i, j0:j1] = sum_k A(i, k) B[k, j0:j1], MR rows at once, 2L columns per step.
template <int L, int MR>
__attribute__((always_inline)) inline void skinny_rows(int64_t j0, int64_t j1, int64_t K, float alpha, MatRef A, MatRef B,
                                                       float beta, float* C, int64_t crs, int64_t ccs) {
  using Vec = typename VecOf<L>::type;
  int64_t j = j0;
  for (; j + 2 * L <= j1; j += 2 * L) {
    Vec acc[MR][2] = {};
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B.p + k * B.rs + j;
      Vec b0, b1;
      load(b0, b), load(b1, b + L);
      for (int i = 0; i < MR; ++i) {
        const float a = A.p[i * A.rs + k * A.cs];
        acc[i][0] += a * b0;
        acc[i][1] += a * b1;
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int l = 0; l < 2 * L; ++l) store_out(C + i * crs + (j + l) * ccs, alpha, beta, acc[i][l / L][l % L]);
  }
  for (; j < j1; ++j)
    for (int i = 0; i < MR; ++i) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += A.p[i * A.rs + k * A.cs] * B.p[k * B.rs + j];
      store_out(C + i * crs + j * ccs, alpha, beta, s);
    }
}

// B columns contiguous (B.rs == 1) and A rows contiguous (A.cs == 1): C[i, j] = dot(A row i, B column j).
template <int L, int MR>
__attribute__((always_inline)) inline void skinny_dots(int64_t j0, int64_t j1, int64_t K, float alpha, MatRef A, MatRef B,
                                                       float beta, float* C, int64_t crs, int64_t ccs) {
  using Vec = typename VecOf<L>::type;
  for (int64_t j = j0; j < j1; ++j) {
    const float* b = B.p + j * B.cs;
    Vec acc[MR] = {};
    int64_t k = 0;
    for (; k + L <= K; k += L) {
      Vec bk, ak;
      load(bk, b + k);
      for (int i = 0; i < MR; ++i) {
        load(ak, A.p + i * A.rs + k);
        acc[i] += ak * bk;
      }
    }
    for (int i = 0; i < MR; ++i) {
      float s = 0.f;
      for (int l = 0; l < L; ++l) s += acc[i][l];
      for (int64_t kk = k; kk < K; ++kk) s += A.p[i * A.rs + kk] * b[kk];
      store_out(C + i * crs + j * ccs, alpha, beta, s);
    }
  }
}

// All M (1 to kSkinny) rows at once, in the form B's layout allows.
template <int L>
__attribute__((always_inline)) inline void skinny_body(int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha,
                                                       MatRef A, MatRef B, float beta, float* C, int64_t crs,
                                                       int64_t ccs) {
  static_assert(kSkinny == 4, "one case per row count");
  if (B.cs == 1) {
    switch (M) {
      case 1: return skinny_rows<L, 1>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
      case 2: return skinny_rows<L, 2>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
      case 3: return skinny_rows<L, 3>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
      default: return skinny_rows<L, 4>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
    }
  }
  switch (M) {
    case 1: return skinny_dots<L, 1>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
    case 2: return skinny_dots<L, 2>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
    case 3: return skinny_dots<L, 3>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
    default: return skinny_dots<L, 4>(j0, j1, K, alpha, A, B, beta, C, crs, ccs);
  }
}

using SkinnyFn = void (*)(int64_t, int64_t, int64_t, int64_t, float, MatRef, MatRef, float, float*, int64_t, int64_t);
__attribute__((target("avx512f"))) void skinny_avx512(int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha,
                                                       MatRef A, MatRef B, float beta, float* C, int64_t crs,
                                                       int64_t ccs) {
  skinny_body<16>(M, j0, j1, K, alpha, A, B, beta, C, crs, ccs);
}
__attribute__((target("avx2,fma"))) void skinny_avx2(int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha,
                                                      MatRef A, MatRef B, float beta, float* C, int64_t crs,
                                                      int64_t ccs) {
  skinny_body<8>(M, j0, j1, K, alpha, A, B, beta, C, crs, ccs);
}
void skinny_generic(int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, MatRef A, MatRef B, float beta,
                    float* C, int64_t crs, int64_t ccs) {
  skinny_body<4>(M, j0, j1, K, alpha, A, B, beta, C, crs, ccs);
}

// The skinny path, when the shapes and strides allow it (returns false otherwise), in the instruction set of the
// session's micro-kernel (forcing a micro-kernel forces this path's set too).
bool sgemm_skinny(const Kernel& kernel, ThreadPool* pool, int64_t M, int64_t N, int64_t K, float alpha, MatRef A,
                  MatRef B, float beta, float* C, int64_t crs, int64_t ccs) {
  if (M > kSkinny) {
    if (N > kSkinny) return false;
    // C^T = B^T A^T: N rows, M columns.
    return sgemm_skinny(kernel, pool, N, M, K, alpha, MatRef{B.p, B.cs, B.rs}, MatRef{A.p, A.cs, A.rs}, beta, C, ccs,
                        crs);
  }
  if (B.cs != 1 && B.rs != 1) return false;
  // The dot form reads A's rows as contiguous runs: copy a strided A (at most kSkinny x K) first.
  thread_local std::vector<float> a_rows;
  if (B.cs != 1 && A.cs != 1) {
    a_rows.resize(static_cast<size_t>(M * K));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) a_rows[i * K + k] = A.p[i * A.rs + k * A.cs];
    A = {a_rows.data(), K, 1};
  }
  const SkinnyFn fn = kernel.isa == Isa::avx512 ? skinny_avx512 : kernel.isa == Isa::avx2 ? skinny_avx2 : skinny_generic;
  const int threads = pool ? pool->size() : 1;
  if (threads == 1 || M * N * K < 64 * 64 * 64) {
    fn(M, 0, N, K, alpha, A, B, beta, C, crs, ccs);
    return true;
  }
  constexpr int64_t kColumns = 64;  // columns per task: whole vectors of either width
  pool->parallel_for((N + kColumns - 1) / kColumns, 1, [&](int64_t b, int64_t e) {
    fn(M, b * kColumns, std::min(N, e * kColumns), K, alpha, A, B, beta, C, crs, ccs);
  });
  return true;
}

// pa, pb: operands prepared for k (PackedOperand), or null.
// The epilogue over all of C [M x N] (after the paths that do not fuse it).
void apply_epilogue(const Epilogue& e, int64_t M, int64_t N, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = epilogue_value(e, i, C[i * ldc + j]);
}
// b_packed: B in pack_b_all's layout for k (prepared, or packed by the caller; then B.p may be null, and the
// skinny path, which reads B as given, is not taken).
void sgemm_impl(const Kernel& k, ThreadPool* pool, int64_t M, int64_t N, int64_t K, float alpha, MatRef A,
                MatRef B, float beta, float* Cp, int64_t ldc, const PackedOperand* pa, const float* b_packed,
                const Epilogue* epi) {
  if (M <= 0 || N <= 0) return;
  const int64_t* columns = epi ? epi->columns : nullptr;
  if (K <= 0) {  // C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float& c = Cp[i * ldc + (columns ? columns[j] : j)];
        c = beta == 0.f ? 0.f : beta * c;
        if (epi) c = epilogue_value(*epi, i, c);
      }
    return;
  }
  // (the skinny path writes C as a plain matrix)
  if (B.p && !columns && sgemm_skinny(k, pool, M, N, K, alpha, A, B, beta, Cp, ldc, 1)) {  // at most 4 rows or columns
    if (epi) apply_epilogue(*epi, M, N, Cp, ldc);
    return;
  }
  Prepacked pre;
  if (pa) pre.a = pa->data.get(), pre.a_rows = (M + k.mr - 1) / k.mr * k.mr;
  if (b_packed) pre.b = b_packed, pre.b_cols = (N + k.nr - 1) / k.nr * k.nr;
  const int threads = pool ? pool->size() : 1;
  if (threads == 1 || M * N * K < 64 * 64 * 64) {
    k.block(0, M, 0, N, K, alpha, A, B, beta, Cp, ldc, pre, epi);
    return;
  }
  // Split one dimension in whole tiles (each thread packs its own panels), the one whose busiest thread gets the
  // smaller share: the pool gives each thread a contiguous, near-equal run, so 7 column tiles on 2 threads are
  // 4 + 3 (4/7 of the work on one), while 22 row tiles are 11 + 11. Columns on a tie (no B is packed twice).
  const int64_t n_tiles = (N + k.nr - 1) / k.nr, m_tiles = (M + k.mr - 1) / k.mr;
  auto busiest_share = [threads](int64_t tiles) {
    return double((tiles + threads - 1) / threads) / double(tiles);
  };
  if (busiest_share(n_tiles) <= busiest_share(m_tiles)) {
    pool->parallel_for(n_tiles, 1, [&](int64_t b, int64_t e) {
      k.block(0, M, b * k.nr, std::min(N, e * k.nr), K, alpha, A, B, beta, Cp, ldc, pre, epi);
    });
  } else {
    pool->parallel_for(m_tiles, 1, [&](int64_t b, int64_t e) {
      k.block(b * k.mr, std::min(M, e * k.mr), 0, N, K, alpha, A, B, beta, Cp, ldc, pre, epi);
    });
  }
}

const Kernel& kernel_of(const Context& ctx) { return ctx.gemm_kernel ? *ctx.gemm_kernel : kernel_for(ctx.isa); }

// The kernel of a prepared product: that of its packed operands (which must agree), else the session's.
const Kernel& kernel_of(const Context& ctx, const PackedOperand* pa, const PackedOperand* pb) {
  const SgemmKernel* k = pa ? pa->kernel : pb ? pb->kernel : nullptr;
  GB_CHECK(!pa || !pb || pa->kernel == pb->kernel, "internal: operands packed for different sgemm micro-kernels");
  return k ? *k : kernel_of(ctx);
}

}  // namespace

const PackedOperand& packed_constant(Context& ctx, Operand side, int64_t extent, int64_t K, MatRef m) {
  const Kernel& k = kernel_of(ctx);
  const SgemmKernel* kernel = static_cast<const SgemmKernel*>(&k);
  const PackedKey key{m.p, side == Operand::a ? extent : -extent, K, m.rs, m.cs, kernel};
  auto it = ctx.packed.find(key);
  if (it != ctx.packed.end()) return *it->second;
  auto packed = std::make_shared<PackedOperand>();
  packed->kernel = kernel, packed->side = side, packed->extent = extent, packed->K = K, packed->source = m;
  const int64_t tile = side == Operand::a ? k.mr : k.nr;
  const int64_t floats = (extent + tile - 1) / tile * tile * K;
  packed->data.reset(aligned_floats(floats, "prepared GEMM weights"));
  (side == Operand::a ? k.pack_a_all : k.pack_b_all)(m, extent, K, packed->data.get());
  ctx.packed_bytes += static_cast<size_t>(floats) * sizeof(float);
  return *ctx.packed.emplace(key, std::move(packed)).first->second;
}

namespace {
void check_prepared(const PackedOperand* pa, const PackedOperand* pb, int64_t M, int64_t N, int64_t K, MatRef A,
                    MatRef B) {
  GB_CHECK(!pa || (pa->side == Operand::a && pa->extent == M && pa->K == K && pa->source.p == A.p),
           "internal: prepared A does not match the product");
  GB_CHECK(!pb || (pb->side == Operand::b && pb->extent == N && pb->K == K && pb->source.p == B.p),
           "internal: prepared B does not match the product");
}
}  // namespace

void sgemm_prepared(Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, const PackedOperand* pa,
                    MatRef B, const PackedOperand* pb, float beta, float* C, int64_t ldc, const Epilogue* epi) {
  check_prepared(pa, pb, M, N, K, A, B);
  sgemm_impl(kernel_of(ctx, pa, pb), &ctx.pool, M, N, K, alpha, A, B, beta, C, ldc, pa, pb ? pb->data.get() : nullptr,
             epi);
}

void sgemm_prepared_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A,
                           const PackedOperand* pa, MatRef B, const PackedOperand* pb, float beta, float* C,
                           int64_t ldc, const Epilogue* epi) {
  check_prepared(pa, pb, M, N, K, A, B);
  sgemm_impl(kernel_of(ctx, pa, pb), nullptr, M, N, K, alpha, A, B, beta, C, ldc, pa, pb ? pb->data.get() : nullptr,
             epi);
}

PackedBLayout packed_b_layout(const Context& ctx, const PackedOperand* pa, int64_t K) {
  return {kernel_of(ctx, pa, nullptr).nr, depth_panel(K)};
}

void sgemm_packed_b(Context& ctx, int64_t M, int64_t N, int64_t K, MatRef A, const PackedOperand* pa,
                    const float* b_packed, float* C, int64_t ldc, const Epilogue* epi) {
  check_prepared(pa, nullptr, M, N, K, A, MatRef{nullptr, 0, 0});
  sgemm_impl(kernel_of(ctx, pa, nullptr), &ctx.pool, M, N, K, 1.f, A, MatRef{nullptr, 0, 0}, 0.f, C, ldc, pa,
             b_packed, epi);
}

void sgemm_packed_b_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, MatRef A, const PackedOperand* pa,
                           const float* b_packed, float* C, int64_t ldc, const Epilogue* epi) {
  check_prepared(pa, nullptr, M, N, K, A, MatRef{nullptr, 0, 0});
  sgemm_impl(kernel_of(ctx, pa, nullptr), nullptr, M, N, K, 1.f, A, MatRef{nullptr, 0, 0}, 0.f, C, ldc, pa,
             b_packed, epi);
}

void sgemm(Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta, float* C,
           int64_t ldc) {
  sgemm_impl(kernel_of(ctx), &ctx.pool, M, N, K, alpha, A, B, beta, C, ldc, nullptr, nullptr, nullptr);
}

void sgemm_serial(const Context& ctx, int64_t M, int64_t N, int64_t K, float alpha, MatRef A, MatRef B, float beta,
                  float* C, int64_t ldc) {
  sgemm_impl(kernel_of(ctx), nullptr, M, N, K, alpha, A, B, beta, C, ldc, nullptr, nullptr, nullptr);
}

}  // namespace glassbox::kernels::cpu
