// Depthwise convolution, CPU (groups == C: each output channel m reads input channel c = m / mult alone):
//   y[n,m,oh,ow] = act(b[m] + sum_{kh,kw} x[n, c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw] w[m, 0, kh, kw])
// (0 outside the input). Variants (the "depthwise" op of the CPU backend):
//   phase_planes — each input plane is copied once into a zero-bordered buffer split into sh x sw stride phases
//                (phase (ph, pw) holds padded pixels (sh*i + ph, sw*j + pw)), in which every tap is a plain shift:
//                the whole output plane, stored with the phase planes' row length, is sum_t w_t * (a contiguous
//                run at tap t's offset), vectorized over the run (AVX-512: 4 x 16 lanes; AVX-2: 4 x 8) with the
//                bias and a ReLU/Clip epilogue in registers; the few columns past OW in each row are dropped.
//                Small planes (7x7) stay one long run instead of many short rows. Parallel over (image, channel).
//   scalar     — one output at a time over the valid taps (the loop this replaced; kept as a reference).
// The backward (the x-gradient) is conv2d_backward_data (conv2d.cpp).
#include <immintrin.h>
// GCC 12's own _mm512_set1_ps / reductions read an "undefined" vector it then warns about (a false positive).
#ifndef __clang__  // a GCC warning clang does not know
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/vec.h"

namespace glassbox::kernels::cpu {

namespace {

struct DwDims {
  int64_t N, C, H, W, M, KH, KW, OH, OW, mult;
};
DwDims dw_dims(ConstView x, ConstView w, View y) {
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3), w.dim(0) / x.dim(1)};
}

// The epilogue the vector loops apply in registers: none, ReLU, or Clip (ReLU6); others run after the row.
struct RowEpilogue {
  float lo, hi;   // clamp bounds (-inf/+inf where none)
  bool in_lanes;  // false: the activation is applied afterwards by apply_activation
};
RowEpilogue row_epilogue(const ActivationAttrs& act) {
  constexpr float inf = __builtin_inff();
  switch (act.kind) {
    case Activation::none: return {-inf, inf, true};
    case Activation::relu: return {0.f, inf, true};
    case Activation::clip: return {act.alpha, act.beta, true};
    default: return {-inf, inf, false};
  }
}

// One run of outputs: out[j] = clamp(bias + sum_t w[t] * src[t][j], lo, hi) for j in [0, n).
using RowFn = void (*)(int64_t n, int taps, const float* const* src, const float* w, float bias, float lo, float hi,
                       float* out);

void row_generic(int64_t n, int taps, const float* const* src, const float* w, float bias, float lo, float hi,
                 float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = bias;
  for (int t = 0; t < taps; ++t) {
    const float* s = src[t];
    const float wt = w[t];
    for (int64_t j = 0; j < n; ++j) out[j] += wt * s[j];
  }
  for (int64_t j = 0; j < n; ++j) out[j] = std::min(std::max(out[j], lo), hi);
}

__attribute__((target("avx512f"))) void row_avx512(int64_t n, int taps, const float* const* src, const float* w,
                                                    float bias, float lo, float hi, float* out) {
  const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {  // 4 vectors of 16 outputs share each broadcast weight
    __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
    for (int t = 0; t < taps; ++t) {
      const __m512 wt = _mm512_set1_ps(w[t]);
      const float* s = src[t] + j;
      a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s), a0);
      a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 16), a1);
      a2 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 32), a2);
      a3 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 48), a3);
    }
    _mm512_storeu_ps(out + j, _mm512_min_ps(_mm512_max_ps(a0, vlo), vhi));
    _mm512_storeu_ps(out + j + 16, _mm512_min_ps(_mm512_max_ps(a1, vlo), vhi));
    _mm512_storeu_ps(out + j + 32, _mm512_min_ps(_mm512_max_ps(a2, vlo), vhi));
    _mm512_storeu_ps(out + j + 48, _mm512_min_ps(_mm512_max_ps(a3, vlo), vhi));
  }
  for (; j < n; j += 16) {  // the rest, 16 at a time, the last masked (no read or write past n)
    const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1);
    __m512 a = vb;
    for (int t = 0; t < taps; ++t)
      a = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(m, src[t] + j), a);
    _mm512_mask_storeu_ps(out + j, m, _mm512_min_ps(_mm512_max_ps(a, vlo), vhi));
  }
}

__attribute__((target("avx2,fma"))) void row_avx2(int64_t n, int taps, const float* const* src, const float* w,
                                                   float bias, float lo, float hi, float* out) {
  const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
    for (int t = 0; t < taps; ++t) {
      const __m256 wt = _mm256_broadcast_ss(w + t);
      const float* s = src[t] + j;
      a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s), a0);
      a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 8), a1);
      a2 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 16), a2);
      a3 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 24), a3);
    }
    _mm256_storeu_ps(out + j, _mm256_min_ps(_mm256_max_ps(a0, vlo), vhi));
    _mm256_storeu_ps(out + j + 8, _mm256_min_ps(_mm256_max_ps(a1, vlo), vhi));
    _mm256_storeu_ps(out + j + 16, _mm256_min_ps(_mm256_max_ps(a2, vlo), vhi));
    _mm256_storeu_ps(out + j + 24, _mm256_min_ps(_mm256_max_ps(a3, vlo), vhi));
  }
  for (; j + 8 <= n; j += 8) {
    __m256 a = vb;
    for (int t = 0; t < taps; ++t) a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(src[t] + j), a);
    _mm256_storeu_ps(out + j, _mm256_min_ps(_mm256_max_ps(a, vlo), vhi));
  }
  for (; j < n; ++j) {  // fewer than 8 left
    float s = bias;
    for (int t = 0; t < taps; ++t) s += w[t] * src[t][j];
    out[j] = std::min(std::max(s, lo), hi);
  }
}

RowFn row_kernel(Isa isa) {
  switch (isa) {
    case Isa::avx512: return row_avx512;
    case Isa::avx2: return row_avx2;
    default: return row_generic;
  }
}

// What both layouts start from: input H x W, output OH x OW, kernel KH x KW, strides, dilations, top and left pads
// (negative: crop).
struct TapGeometry {
  int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
  static TapGeometry of(const Conv2dAttrs& a, const DwDims& d) {
    return {d.H, d.W, d.OH, d.OW, d.KH, d.KW, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, a.pad_top, a.pad_left};
  }
  // The backward's: a stride-1 correlation of dy [OH x OW] (zero-upsampled by the strides) with the flipped
  // filters, output dx [H x W], pads (K - 1) * d - p.
  static TapGeometry of_backward(const Conv2dAttrs& a, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w,
                                 int64_t KH, int64_t KW) {
    return {in_h, in_w, out_h, out_w, KH, KW, 1, 1, a.dilation_h, a.dilation_w, (KH - 1) * a.dilation_h - a.pad_top,
            (KW - 1) * a.dilation_w - a.pad_left};
  }
};

// One plane's convolution by phase planes: input H x W, output OH x OW, strides, dilations and pads (negative pads
// crop). Phase plane (ph, pw), row i, column j  <-  x[sh*i + ph - pt, sw*j + pw - pl] (0 outside x). Tap (kh, kw)
// of output (oh, ow) reads phase ((kh*dh) % sh, (kw*dw) % sw) at row oh + (kh*dh)/sh, column ow + (kw*dw)/sw, so
// with the plane stored PWs wide, output t = oh*PWs + ow reads flat index t + offset(tap): one contiguous run per
// tap over the whole plane. Columns ow >= OW of the run are computed and dropped.
struct PhasePlanes : TapGeometry {
  int64_t PHs = 0, PWs = 0, phase_plane = 0, phases = 0, run = 0;

  void finish() {
    PHs = OH + ((KH - 1) * dh) / sh, PWs = OW + ((KW - 1) * dw) / sw;
    phase_plane = PHs * PWs, phases = sh * sw;
    run = (OH - 1) * PWs + OW;  // flat outputs computed per plane
  }
  // The per-thread buffers, and each tap's run start in the phase buffer.
  struct Scratch {
    std::vector<float> buffer, flat, upsampled;
    std::vector<const float*> src;
  };
  void prepare(Scratch& s) const {
    if (s.buffer.size() < static_cast<size_t>(phases * phase_plane)) s.buffer.resize(static_cast<size_t>(phases * phase_plane));
    if (s.flat.size() < static_cast<size_t>(run)) s.flat.resize(static_cast<size_t>(run));
    s.src.resize(static_cast<size_t>(KH * KW));
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw)
        s.src[kh * KW + kw] = s.buffer.data() + (((kh * dh) % sh) * sw + (kw * dw) % sw) * phase_plane +
                              ((kh * dh) / sh) * PWs + (kw * dw) / sw;
  }
  // The phase planes of one input plane x [H x W].
  void fill(const float* xp, Scratch& s) const {
    for (int64_t ph = 0; ph < sh; ++ph)
      for (int64_t pw = 0; pw < sw; ++pw)
        for (int64_t i = 0; i < PHs; ++i) {
          float* out = s.buffer.data() + (ph * sw + pw) * phase_plane + i * PWs;
          const int64_t ih = sh * i + ph - pt;
          if (ih < 0 || ih >= H) {
            std::fill(out, out + PWs, 0.f);
            continue;
          }
          const float* xr = xp + ih * W;
          // Columns j with 0 <= sw*j + pw - pl < W: j in [j0, j1).
          const int64_t off = pw - pl;
          int64_t j0, j1;
          inside_range(off, sw, PWs, W, j0, j1);
          std::fill(out, out + j0, 0.f);
          if (sw == 1) {
            std::copy(xr + j0 + off, xr + j1 + off, out + j0);
          } else if (sw == 2) {  // a constant stride: the compiler de-interleaves with vector shuffles
            for (int64_t j = j0; j < j1; ++j) out[j] = xr[2 * j + off];
          } else {
            for (int64_t j = j0; j < j1; ++j) out[j] = xr[j * sw + off];
          }
          std::fill(out + j1, out + PWs, 0.f);
        }
  }
  // y [OH x OW] = clamp(bias + sum_t w[t] run_t) from the filled phase planes.
  void apply(RowFn row, const float* w, float bias, const RowEpilogue& epi, Scratch& s, float* yp) const {
    // Where the run has no dropped columns (PWs == OW) it is the output plane itself.
    float* out = PWs == OW ? yp : s.flat.data();
    row(run, static_cast<int>(KH * KW), s.src.data(), w, bias, epi.lo, epi.hi, out);
    if (out != yp)
      for (int64_t oh = 0; oh < OH; ++oh) std::copy(out + oh * PWs, out + oh * PWs + OW, yp + oh * OW);
  }
};

// ---- channel_blocks: L output channels of one image in the lanes of a vector (L = 16 AVX-512, 8 AVX2, 4 plain),
// the layout of NCHW16c engines, built inside the call. The block's input planes are interleaved into a
// zero-bordered buffer P[i][j][lane] (i, j: padded row and column), so every (output position, tap) is one vector
// load, and output t = (oh, ow) accumulates
//   acc[t] = b + sum_{kh,kw} P[oh*sh + kh*dh][ow*sw + kw*dw] * w[kh,kw]    (lane by lane)
// for R = 8 positions at once (8 independent FMA chains), then the lanes are written back to their planes. Small
// planes gain most: one channel's 7x7 plane is a few vectors, which phase_planes pays a plane copy and a run for.
struct BlockGeometry : TapGeometry {
  int64_t uh = 1, uw = 1;            // input pixel (ih, iw) sits at padded (ih*uh + pt, iw*uw + pl): the backward's
                                     // zero-upsampled dy; 1 for the forward
  int64_t Hp = 0, Wp = 0;            // padded rows and columns read by the taps
  int64_t ih0 = 0, ih1 = 0, iw0 = 0, iw1 = 0;  // the input rows and columns inside the padded buffer

  void finish() {
    Hp = (OH - 1) * sh + (KH - 1) * dh + 1, Wp = (OW - 1) * sw + (KW - 1) * dw + 1;
    inside_range(pt, uh, H, Hp, ih0, ih1);  // 0 <= ih*uh + pt < Hp
    inside_range(pl, uw, W, Wp, iw0, iw1);
  }
  struct Scratch {
    std::vector<float> padded, weights, out;
    std::vector<int64_t> base;  // per output position: its top-left tap's pixel in the padded buffer
  };
  // The per-thread buffers for lane count L, the padded one all zero (each block rewrites the same input pixels).
  void prepare(int L, Scratch& s) const {
    s.padded.assign(static_cast<size_t>(Hp * Wp * L), 0.f);
    s.weights.assign(static_cast<size_t>(KH * KW * L), 0.f);
    s.out.resize(static_cast<size_t>(OH * OW * L));
    s.base.resize(static_cast<size_t>(OH * OW));
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) s.base[oh * OW + ow] = oh * sh * Wp + ow * sw;
  }
};

// One block of `lanes` <= L channels: lane l reads plane in[l] and filter w[l] (taps in reverse order with
// `flip`) and writes plane out[l].
template <int L>
__attribute__((always_inline)) inline void channel_block(const BlockGeometry& g, int lanes, const float* const* in,
                                                        const float* const* w, bool flip, const float* bias, float lo,
                                                        float hi, float* const* out, BlockGeometry::Scratch& s) {
  using V = typename VecOf<L>::type;
  constexpr int R = 8;
  const int64_t taps = g.KH * g.KW, plane = g.OH * g.OW;
  float* const P = s.padded.data();
  float* const Wt = s.weights.data();
  float* const O = s.out.data();
  alignas(64) float b[L] = {};
  // Input pixel (ih, iw) goes to padded pixel row0(ih) + iw*uw (row0 may be negative with a cropping pad; only
  // the pixels inside the buffer are addressed).
  auto row0 = [&g](int64_t ih) { return (ih * g.uh + g.pt) * g.Wp + g.pl; };
  if (lanes == L) {  // L pixels of the L channels at a time: L loads, an in-register transpose, L stores
    for (int64_t ih = g.ih0; ih < g.ih1; ++ih) {
      const int64_t r0 = row0(ih);
      int64_t iw = g.iw0;
      for (; iw + L <= g.iw1; iw += L) {
        V block[L];
        for (int l = 0; l < L; ++l) load(block[l], in[l] + ih * g.W + iw);
        transpose_in_place<L>(block);
        for (int p = 0; p < L; ++p) store(P + (r0 + (iw + p) * g.uw) * L, block[p]);
      }
      for (; iw < g.iw1; ++iw)
        for (int l = 0; l < L; ++l) P[(r0 + iw * g.uw) * L + l] = in[l][ih * g.W + iw];
    }
  } else {
    for (int l = 0; l < lanes; ++l)
      for (int64_t ih = g.ih0; ih < g.ih1; ++ih) {
        const float* xr = in[l] + ih * g.W;
        for (int64_t iw = g.iw0; iw < g.iw1; ++iw) P[(row0(ih) + iw * g.uw) * L + l] = xr[iw];
      }
  }
  for (int l = 0; l < lanes; ++l) {
    for (int64_t t = 0; t < taps; ++t) Wt[t * L + l] = w[l][flip ? taps - 1 - t : t];
    b[l] = bias ? bias[l] : 0.f;
  }
  V vb, vlo, vhi;
  load(vb, b);
  for (int l = 0; l < L; ++l) vlo[l] = lo, vhi[l] = hi;
  for (int64_t t0 = 0; t0 < plane; t0 += R) {
    const int64_t n = std::min<int64_t>(R, plane - t0);
    const float* src[R];
    for (int r = 0; r < R; ++r) src[r] = P + s.base[t0 + std::min<int64_t>(r, n - 1)] * L;  // a short group repeats its last
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vb;
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t off = (kh * g.dh * g.Wp + kw * g.dw) * L;
        V wt;
        load(wt, Wt + (kh * g.KW + kw) * L);
        for (int r = 0; r < R; ++r) {
          V x;
          load(x, src[r] + off);
          acc[r] += x * wt;
        }
      }
    for (int r = 0; r < n; ++r) {
      V v = acc[r] < vlo ? vlo : acc[r];
      v = v > vhi ? vhi : v;
      store(O + (t0 + r) * L, v);
    }
  }
  int64_t t = 0;  // back to the planes: L positions of the L channels at a time, then the rest one by one
  if (lanes == L)
    for (; t + L <= plane; t += L) {
      V block[L];
      for (int p = 0; p < L; ++p) load(block[p], O + (t + p) * L);
      transpose_in_place<L>(block);
      for (int l = 0; l < L; ++l) store(out[l] + t, block[l]);
    }
  for (int l = 0; l < lanes; ++l)
    for (int64_t u = t; u < plane; ++u) out[l][u] = O[u * L + l];
}

using BlockFn = void (*)(const BlockGeometry&, int, const float* const*, const float* const*, bool, const float*,
                         float, float, float* const*, BlockGeometry::Scratch&);
__attribute__((target("avx512f"))) void channel_block_avx512(const BlockGeometry& g, int lanes, const float* const* in,
                                                             const float* const* w, bool flip, const float* bias,
                                                             float lo, float hi, float* const* out,
                                                             BlockGeometry::Scratch& s) {
  channel_block<16>(g, lanes, in, w, flip, bias, lo, hi, out, s);
}
__attribute__((target("avx2,fma"))) void channel_block_avx2(const BlockGeometry& g, int lanes, const float* const* in,
                                                            const float* const* w, bool flip, const float* bias,
                                                            float lo, float hi, float* const* out,
                                                            BlockGeometry::Scratch& s) {
  channel_block<8>(g, lanes, in, w, flip, bias, lo, hi, out, s);
}
void channel_block_generic(const BlockGeometry& g, int lanes, const float* const* in, const float* const* w, bool flip,
                           const float* bias, float lo, float hi, float* const* out, BlockGeometry::Scratch& s) {
  channel_block<4>(g, lanes, in, w, flip, bias, lo, hi, out, s);
}

// Every (image, block of L output channels) of a depthwise convolution by channel blocks; output channel m reads
// input plane m / mult of x [N, C, H, W] (the forward), or dy's plane m itself (mult 1: the backward).
void run_channel_blocks(Context& ctx, const BlockGeometry& g, int64_t N, int64_t C, int64_t M, int64_t mult,
                        const float* x, const float* w, bool flip, const float* bias, const ActivationAttrs& act,
                        float* y) {
  const int L = ctx.isa == Isa::avx512 ? 16 : ctx.isa == Isa::avx2 ? 8 : 4;
  const BlockFn block = L == 16 ? channel_block_avx512 : L == 8 ? channel_block_avx2 : channel_block_generic;
  const RowEpilogue epi = row_epilogue(act);
  const int64_t blocks = (M + L - 1) / L, in_plane = g.H * g.W, out_plane = g.OH * g.OW, taps = g.KH * g.KW;
  ctx.pool.parallel_for(N * blocks, 1, [&](int64_t tb, int64_t te) {
    thread_local BlockGeometry::Scratch s;
    g.prepare(L, s);
    const float* in[16];
    const float* wl[16];
    float* out[16];
    for (int64_t t = tb; t < te; ++t) {
      const int64_t n = t / blocks, m0 = (t % blocks) * L;
      const int lanes = static_cast<int>(std::min<int64_t>(L, M - m0));
      for (int l = 0; l < lanes; ++l) {
        const int64_t m = m0 + l;
        in[l] = x + (n * C + m / mult) * in_plane;
        wl[l] = w + m * taps;
        out[l] = y + (n * M + m) * out_plane;
      }
      block(g, lanes, in, wl, flip, bias ? bias + m0 : nullptr, epi.lo, epi.hi, out, s);
      if (!epi.in_lanes)
        for (int l = 0; l < lanes; ++l) apply_activation(act, out[l], out[l], out_plane);
    }
  });
}
}  // namespace

void conv2d_depthwise_phase_planes(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv,
                                   View yv) {
  const DwDims d = dw_dims(xv, wv, yv);
  if (yv.numel() == 0) return;
  PhasePlanes g{TapGeometry::of(a, d)};
  g.finish();
  const RowFn row = row_kernel(ctx.isa);
  const RowEpilogue epi = row_epilogue(a.act);
  ctx.pool.parallel_for(d.N * d.C, 1, [&](int64_t b, int64_t e) {
    thread_local PhasePlanes::Scratch s;
    g.prepare(s);
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / d.C, c = nc % d.C;
      g.fill(xv.data + nc * d.H * d.W, s);
      for (int64_t m = c * d.mult; m < (c + 1) * d.mult; ++m) {
        float* yp = yv.data + (n * d.M + m) * d.OH * d.OW;
        g.apply(row, wv.data + m * d.KH * d.KW, bv.empty() ? 0.f : bv.data[m], epi, s, yp);
        if (!epi.in_lanes) apply_activation(a.act, yp, yp, d.OH * d.OW);
      }
    }
  });
}

void conv2d_depthwise_channel_blocks(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv,
                                     View yv) {
  const DwDims d = dw_dims(xv, wv, yv);
  if (yv.numel() == 0) return;
  BlockGeometry g{TapGeometry::of(a, d)};
  g.finish();
  run_channel_blocks(ctx, g, d.N, d.C, d.M, d.mult, xv.data, wv.data, false, bv.empty() ? nullptr : bv.data, a.act,
                     yv.data);
}

bool depthwise_plane_is_small(int64_t positions, int64_t stride_h, int64_t stride_w) {
  return positions <= kSmallDepthwisePlane || stride_h > 1 || stride_w > 1;
}

void conv2d_depthwise_by_plane(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y) {
  if (depthwise_plane_is_small(y.dim(2) * y.dim(3), a.stride_h, a.stride_w))
    conv2d_depthwise_channel_blocks(ctx, a, x, w, bias, y);
  else conv2d_depthwise_phase_planes(ctx, a, x, w, bias, y);
}

// The x-gradient of a depthwise convolution with one filter per channel (kernels.h conv2d_backward_data):
//   dx[c, ih, iw] = sum_{kh,kw} u[ih + pt - kh*dh, iw + pl - kw*dw] w[c, kh, kw],
//   u [(OH-1)*sh + 1, (OW-1)*sw + 1]: u[j, i] = dy[c, j/sh, i/sw] where sh divides j and sw divides i, else 0,
// which is a stride-1 correlation of u (dy itself when the strides are 1) with the flipped filter
// w'[kh', kw'] = w[KH-1-kh', KW-1-kw'], top pad (KH-1)*dh - pt, left pad (KW-1)*dw - pl (negative: crop), output
// H x W: the forward's phase planes again.
void conv2d_depthwise_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView wv, View dx) {
  const int64_t N = dx.dim(0), C = dx.dim(1), H = dx.dim(2), W = dx.dim(3), KH = wv.dim(2), KW = wv.dim(3);
  const int64_t OH = dy.dim(2), OW = dy.dim(3), sh = a.stride_h, sw = a.stride_w;
  GB_CHECK(wv.dim(0) == C && wv.dim(1) == 1, "depthwise backward: one filter per channel expected");
  if (dx.numel() == 0) return;
  if (OH == 0 || OW == 0) {
    std::fill(dx.data, dx.data + dx.numel(), 0.f);
    return;
  }
  const int64_t UH = (OH - 1) * sh + 1, UW = (OW - 1) * sw + 1;
  const bool blocks = ctx.depthwise_backward == DepthwiseLayout::channel_blocks ||
                      (ctx.depthwise_backward == DepthwiseLayout::by_plane && depthwise_plane_is_small(H * W, 1, 1));
  if (blocks) {  // the channel blocks read dy's samples straight into their places in the upsampled, padded grid
    BlockGeometry g{TapGeometry::of_backward(a, OH, OW, H, W, KH, KW)};
    g.uh = sh, g.uw = sw;
    g.finish();
    run_channel_blocks(ctx, g, N, C, C, 1, dy.data, wv.data, true, nullptr, ActivationAttrs{}, dx.data);
    return;
  }
  PhasePlanes g{TapGeometry::of_backward(a, UH, UW, H, W, KH, KW)};
  g.finish();
  const RowFn row = row_kernel(ctx.isa);
  const RowEpilogue none = row_epilogue(ActivationAttrs{});
  ctx.pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
    thread_local PhasePlanes::Scratch s;
    g.prepare(s);
    std::vector<float> flipped(static_cast<size_t>(KH * KW));
    if (sh > 1 || sw > 1) s.upsampled.assign(static_cast<size_t>(UH * UW), 0.f);
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      const float* u = dy.data + nc * OH * OW;
      if (sh > 1 || sw > 1) {  // dy spread onto every sh-th row and sw-th column (the zeros stay from the start)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) s.upsampled[oh * sh * UW + ow * sw] = u[oh * OW + ow];
        u = s.upsampled.data();
      }
      const float* wp = wv.data + c * KH * KW;
      for (int64_t t = 0; t < KH * KW; ++t) flipped[static_cast<size_t>(t)] = wp[KH * KW - 1 - t];
      g.fill(u, s);
      g.apply(row, flipped.data(), 0.f, none, s, dx.data + nc * H * W);
    }
  });
}

void conv2d_depthwise_scalar(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv, View yv) {
  const DwDims d = dw_dims(xv, wv, yv);
  ctx.pool.parallel_for(d.N * d.M, 1, [&](int64_t b, int64_t e) {
    for (int64_t nm = b; nm < e; ++nm) {
      const int64_t n = nm / d.M, m = nm % d.M, c = m / d.mult;
      const float* xp = xv.data + (n * d.C + c) * d.H * d.W;
      const float* wp = wv.data + m * d.KH * d.KW;
      float* yp = yv.data + nm * d.OH * d.OW;
      const float bm = bv.empty() ? 0.f : bv.data[m];
      for (int64_t oh = 0; oh < d.OH; ++oh) {
        int64_t kh0, kh1;
        tap_range(oh, a.stride_h, a.pad_top, a.dilation_h, d.KH, d.H, kh0, kh1);
        const int64_t ih0 = oh * a.stride_h - a.pad_top;
        for (int64_t ow = 0; ow < d.OW; ++ow) {
          int64_t kw0, kw1;
          tap_range(ow, a.stride_w, a.pad_left, a.dilation_w, d.KW, d.W, kw0, kw1);
          const int64_t iw0 = ow * a.stride_w - a.pad_left;
          float s = bm;
          for (int64_t kh = kh0; kh < kh1; ++kh) {
            const float* xr = xp + (ih0 + kh * a.dilation_h) * d.W + iw0;
            const float* wr = wp + kh * d.KW;
            for (int64_t kw = kw0; kw < kw1; ++kw) s += xr[kw * a.dilation_w] * wr[kw];
          }
          yp[oh * d.OW + ow] = a.act.apply(s);
        }
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
