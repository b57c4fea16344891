// Convolution, CPU. Variants (kernel research; selected by name):
//   im2col_gemm — default: depthwise convolutions run conv2d_depthwise.cpp's by_plane; 1x1/stride 1/no pad convolutions
//                 multiply the input directly; the rest unfold the input (im2col) and call the blocked sgemm.
//                 Wide outputs are cut into column chunks, each unfolded and multiplied by one thread while it is
//                 in cache; narrow outputs unfold once and split the rows. The bias and a ReLU/Clip are the GEMM's
//                 epilogue (sgemm.h Epilogue), applied as tiles are stored; other activations run after.
//   direct      — the definition, loop by loop; the reference the others are tested against.
// Backward (the x-gradient only): depthwise layers correlate the zero-upsampled dy with the flipped filters
// (conv2d_depthwise.cpp, in the layout of the depthwise variant); the rest multiply
// W^T dy into an unfolded gradient (one image and group at a time) and fold it back (col2im, the adjoint of im2col).
// Formula (kernels.h): y[n,m,oh,ow] = act(b[m] + sum_{c,kh,kw} x[n,g*Cg+c, oh*sh-pt+kh*dh, ow*sw-pl+kw*dw] w[m,c,kh,kw]).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"

namespace glassbox::kernels::cpu {

namespace {

struct ConvDims {
  int64_t N, C, H, W, M, KH, KW, OH, OW, G, Cg, Mg;
};
ConvDims dims_of(const Conv2dAttrs& a, const ConstView& x, const ConstView& w, const View& y) {
  ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3), a.groups, 0, 0};
  d.Cg = d.C / d.G;
  d.Mg = d.M / d.G;
  return d;
}


// A 1x1, stride-1, unpadded convolution: its unfolded input is the input itself (row r = input plane r), and its
// unfolded gradient the input gradient.
bool is_pointwise(const Conv2dAttrs& a, const ConvDims& d) {
  return d.KH == 1 && d.KW == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_top == 0 && a.pad_left == 0 &&
         a.pad_bottom == 0 && a.pad_right == 0;
}

// Row r = (c*KH + kh)*KW + kw of the unfolded matrix over the output positions j = oh*OW + ow in [j0, j1):
//   out[j - j0] = x[c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]   (0 outside the input).
void im2col_row(const Conv2dAttrs& a, const ConvDims& d, const float* x, int64_t r, int64_t j0, int64_t j1,
                float* out) {
  const int64_t kw = r % d.KW, kh = (r / d.KW) % d.KH, c = r / (d.KW * d.KH);
  const float* xc = x + c * d.H * d.W;
  const int64_t sw = a.stride_w, off_w = kw * a.dilation_w - a.pad_left;
  // Output columns q read input column q*sw + off_w, inside the input for q in [q0, q1) on every output row.
  int64_t q0, q1;
  inside_range(off_w, sw, d.OW, d.W, q0, q1);
  int64_t oh = j0 / d.OW, ow = j0 % d.OW;
  // One output row segment [ow, row_end) at a time: zeros left of the input, a plain (or strided) copy inside it,
  // zeros right of it; plain loops, since the segments are short (a 14x14 plane's are 14 floats), where a call to
  // memmove per segment would cost more than the copy.
  for (int64_t j = j0; j < j1;) {
    const int64_t row_end = std::min(d.OW, ow + (j1 - j));
    const int64_t ih = oh * a.stride_h - a.pad_top + kh * a.dilation_h;
    float* o = out + (j - j0);  // o[q - ow] is output column q of this row
    if (ih < 0 || ih >= d.H) {
      for (int64_t q = ow; q < row_end; ++q) o[q - ow] = 0.f;
    } else {
      const float* xr = xc + ih * d.W;
      const int64_t in0 = std::clamp(q0, ow, row_end), in1 = std::clamp(q1, in0, row_end);
      for (int64_t q = ow; q < in0; ++q) o[q - ow] = 0.f;
      if (sw == 1)
        for (int64_t q = in0; q < in1; ++q) o[q - ow] = xr[q + off_w];
      else if (sw == 2)  // a constant stride: the compiler de-interleaves with vector shuffles (ResNet's stems)
        for (int64_t q = in0; q < in1; ++q) o[q - ow] = xr[2 * q + off_w];
      else
        for (int64_t q = in0; q < in1; ++q) o[q - ow] = xr[q * sw + off_w];
      for (int64_t q = in1; q < row_end; ++q) o[q - ow] = 0.f;
    }
    j += row_end - ow;
    ow = 0, ++oh;
  }
}

// Columns [c0, c0 + n) of one row of the packed right operand (sgemm.h PackedBLayout; dst: the row's place in its
// depth panel, kc that panel's depth) from src: NR-column strips, whole ones with constant-size copies.
template <int64_t NR>
void to_strips(const float* src, int64_t c0, int64_t n, int64_t kc, float* dst) {
  while (n > 0) {
    const int64_t off = c0 % NR, take = std::min(NR - off, n);
    float* d = dst + (c0 - off) * kc + off;
    if (take == NR) std::memcpy(d, src, NR * sizeof(float));
    else std::memcpy(d, src, static_cast<size_t>(take) * sizeof(float));
    src += take, c0 += take, n -= take;
  }
}
void to_strips(int64_t nr, const float* src, int64_t c0, int64_t n, int64_t kc, float* dst) {
  if (nr == 32) return to_strips<32>(src, c0, n, kc, dst);
  if (nr == 16) return to_strips<16>(src, c0, n, kc, dst);
  for (int64_t j = 0; j < n; ++j) dst[((c0 + j) / nr) * nr * kc + (c0 + j) % nr] = src[j];
}

// Rows [r0, r1) of the unfolded matrix, columns [j0, j1) of each of `images` images side by side (image i at
// x + i * image_in, its columns after the previous image's), written straight in the micro-kernel's packed layout
// L (sgemm_packed_b multiplies it), columns past the last zero. This spares the GEMM's own packing pass over an
// unfolded matrix. A 1x1 convolution's rows are the input planes, copied as they are; other rows are unfolded
// into a small buffer (in L1) first.
void im2col_packed(const Conv2dAttrs& a, const ConvDims& d, const float* x, int64_t image_in, int64_t images,
                   int64_t j0, int64_t j1, const PackedBLayout& L, int64_t K, int64_t r0, int64_t r1, float* packed) {
  const int64_t per_image = j1 - j0, n = images * per_image, padded = L.padded(n);
  const bool plain = is_pointwise(a, d);  // row r is input plane r
  thread_local std::vector<float> row;
  if (!plain && row.size() < static_cast<size_t>(n)) row.resize(static_cast<size_t>(n));
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t pc = r - r % L.depth, kc = std::min(L.depth, K - pc);
    float* dst = packed + pc * padded + (r - pc) * L.nr;
    for (int64_t i = 0; i < images; ++i) {
      const float* src;
      if (plain) {
        src = x + i * image_in + r * d.H * d.W + j0;
      } else {
        float* unfolded = row.data() + i * per_image;
        im2col_row(a, d, x + i * image_in, r, j0, j1, unfolded);
        src = unfolded;
      }
      to_strips(L.nr, src, i * per_image, per_image, kc, dst);
    }
    for (int64_t j = n; j < padded; ++j) dst[(j / L.nr) * L.nr * kc + j % L.nr] = 0.f;
  }
}

// y = act(y + bias) on rows [m0, m1), columns [j0, j1) of an output plane laid out with `plane` columns.
void finish(const Conv2dAttrs& a, const float* bias, float* y, int64_t m0, int64_t m1, int64_t j0, int64_t j1,
            int64_t plane) {
  if (!bias && a.act.kind == Activation::none) return;
  for (int64_t m = m0; m < m1; ++m)
    apply_activation(a.act, y + m * plane + j0, y + m * plane + j0, j1 - j0, bias ? bias[m] : 0.f);
}

// The bias and a ReLU/Clip as the GEMM's epilogue, applied as each output tile is stored (false, e untouched, for
// other activations: finish() runs after the product).
bool fused_epilogue(const Conv2dAttrs& a, const float* bias, Epilogue& e) {
  switch (a.act.kind) {
    case Activation::none: break;
    case Activation::relu: e.lo = 0.f; break;
    case Activation::clip: e.lo = a.act.alpha, e.hi = a.act.beta; break;
    default: return false;
  }
  e.bias = bias;
  return true;
}

}  // namespace

void conv2d_im2col_gemm(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv, View yv) {
  const ConvDims d = dims_of(a, xv, wv, yv);
  const float* bias = bv.empty() ? nullptr : bv.data;
  if (d.G == d.C && d.Cg == 1) {
    conv2d_depthwise_by_plane(ctx, a, xv, wv, bv, yv);
    return;
  }
  const int64_t plane = d.OH * d.OW, K = d.Cg * d.KH * d.KW;
  const bool pointwise = is_pointwise(a, d);
  constexpr int64_t kChunk = 512;  // output positions per chunk: K x 512 unfolded floats stay in L2
  const bool wide = plane >= kChunk;
  // Narrow outputs: several images side by side in one unfolded matrix, so the GEMM is wide enough to fill its
  // panels; the GEMM stores each column in its image's plane (Epilogue::columns).
  const int64_t images = wide ? 1 : std::clamp<int64_t>(kChunk / plane, 1, d.N);
  const int64_t cols = images * plane;
  // Constant weights are packed once per session (prepared weights), not on every call and chunk.
  std::vector<const PackedOperand*> packed_w(static_cast<size_t>(d.G), nullptr);
  if (a.constant_weights)
    for (int64_t g = 0; g < d.G; ++g)
      packed_w[g] = &packed_constant(ctx, Operand::a, d.Mg, K, MatRef{wv.data + g * d.Mg * K, K, 1});
  // The unfolded input is written in the GEMM's packed layout (im2col_packed), not unfolded and then packed.
  const PackedBLayout layout = packed_b_layout(ctx, packed_w[0], K);
  const int64_t col_floats = layout.floats(cols, K);
  float* col = wide || (pointwise && images == 1) ? nullptr : ctx.scratch(col_floats);
  thread_local std::vector<int64_t> columns;  // where each product column goes (images > 1)
  columns.resize(static_cast<size_t>(images > 1 ? cols : 0));
  if (wide) {
    // Every (image, group, column chunk) is one task of a single parallel region over the whole batch. The pool
    // gives each thread an equal run of tasks, so the chunks are equal and their count is raised until the tasks
    // split evenly: at batch 1 on 2 threads a 28x28 plane is 2 x 392 columns (not 512 + 272) and a 56x56 one
    // 8 x 392 (not 7 x 512 with a 64-column seventh: 2048 columns on one thread, 1088 on the other).
    int64_t chunks = (plane + kChunk - 1) / kChunk;
    const int64_t threads = ctx.pool.size();
    while ((d.N * d.G * chunks) % threads != 0 && chunks < plane) ++chunks;
    const int64_t chunk_columns = (plane + chunks - 1) / chunks;
    ctx.pool.parallel_for(d.N * d.G * chunks, 1, [&](int64_t tb, int64_t te) {
      // The thread's unfolding buffer, kept between calls (no allocation in the steady state).
      thread_local AlignedFloats buffer;  // packed B: 64-byte aligned for the micro-kernel's loads
      float* const packed_b = pointwise ? nullptr : buffer.get(layout.floats(chunk_columns, K));
      for (int64_t t = tb; t < te; ++t) {
        const int64_t n = t / (d.G * chunks), g = (t / chunks) % d.G, c = t % chunks;
        const float* xg = xv.data + (n * d.C + g * d.Cg) * d.H * d.W;
        float* yg = yv.data + (n * d.M + g * d.Mg) * plane;
        const int64_t j0 = std::min(plane, c * chunk_columns), j1 = std::min(plane, j0 + chunk_columns), cn = j1 - j0;
        if (cn <= 0) continue;
        const float* bg = bias ? bias + g * d.Mg : nullptr;
        Epilogue epi;
        const bool fused = fused_epilogue(a, bg, epi);
        const MatRef W{wv.data + g * d.Mg * K, K, 1};
        if (pointwise) {  // the input rows are B itself
          sgemm_prepared_serial(ctx, d.Mg, cn, K, 1.f, W, packed_w[g], MatRef{xg + j0, plane, 1}, nullptr, 0.f,
                                yg + j0, plane, fused ? &epi : nullptr);
        } else {
          im2col_packed(a, d, xg, 0, 1, j0, j1, layout, K, 0, K, packed_b);
          sgemm_packed_b_serial(ctx, d.Mg, cn, K, W, packed_w[g], packed_b, yg + j0, plane, fused ? &epi : nullptr);
        }
        if (!fused) finish(a, bg, yg, 0, d.Mg, j0, j1, plane);
      }
    });
    return;
  }
  for (int64_t n0 = 0; n0 < d.N; n0 += images)
    for (int64_t g = 0; g < d.G; ++g) {
      const int64_t nb = std::min(images, d.N - n0), nbcols = nb * plane;
      const float* xg = xv.data + (n0 * d.C + g * d.Cg) * d.H * d.W;
      float* yg = yv.data + (n0 * d.M + g * d.Mg) * plane;
      const float* bg = bias ? bias + g * d.Mg : nullptr;
      const MatRef W{wv.data + g * d.Mg * K, K, 1};
      const int64_t image_in = d.C * d.H * d.W, image_out = d.M * plane;
      auto unfold = [&] {  // the nb images' unfolded rows, split over the threads, in the packed layout
        ctx.pool.parallel_for(K, 4, [&](int64_t b, int64_t e) {
          im2col_packed(a, d, xg, image_in, nb, 0, plane, layout, K, b, e, col);
        });
      };
      if (images == 1) {
        Epilogue epi;
        const bool fused = fused_epilogue(a, bg, epi);
        if (pointwise) {
          sgemm_prepared(ctx, d.Mg, plane, K, 1.f, W, packed_w[g], MatRef{xg, plane, 1}, nullptr, 0.f, yg, plane,
                         fused ? &epi : nullptr);
        } else {
          unfold();
          sgemm_packed_b(ctx, d.Mg, plane, K, W, packed_w[g], col, yg, plane, fused ? &epi : nullptr);
        }
        if (!fused)
          ctx.pool.parallel_for(d.Mg, 8, [&](int64_t b, int64_t e) { finish(a, bg, yg, b, e, 0, plane, plane); });
        continue;
      }
      unfold();
      // The product's column i * plane + q is image i's position q: stored there in NCHW (Epilogue::columns).
      for (int64_t j = 0; j < nbcols; ++j) columns[j] = j / plane * image_out + j % plane;
      Epilogue epi;
      const bool fused = fused_epilogue(a, bg, epi);
      epi.columns = columns.data();
      sgemm_packed_b(ctx, d.Mg, nbcols, K, W, packed_w[g], col, yg, plane, &epi);
      if (!fused)
        ctx.pool.parallel_for(nb * d.Mg, 8, [&](int64_t b, int64_t e) {
          for (int64_t t = b; t < e; ++t) {  // (image, output channel) pairs
            const int64_t i = t / d.Mg, m = t % d.Mg;
            finish(a, bg, yg + i * image_out, m, m + 1, 0, plane, plane);
          }
        });
    }
}

void conv2d_direct(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv, View yv) {
  const ConvDims d = dims_of(a, xv, wv, yv);
  ctx.pool.parallel_for(d.N * d.M, 1, [&](int64_t b, int64_t e) {
    for (int64_t nm = b; nm < e; ++nm) {
      const int64_t n = nm / d.M, m = nm % d.M, g = m / d.Mg;
      for (int64_t oh = 0; oh < d.OH; ++oh)
        for (int64_t ow = 0; ow < d.OW; ++ow) {
          double s = bv.empty() ? 0.0 : bv.data[m];
          for (int64_t c = 0; c < d.Cg; ++c)
            for (int64_t kh = 0; kh < d.KH; ++kh)
              for (int64_t kw = 0; kw < d.KW; ++kw) {
                const int64_t ih = oh * a.stride_h - a.pad_top + kh * a.dilation_h;
                const int64_t iw = ow * a.stride_w - a.pad_left + kw * a.dilation_w;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                s += double(xv.data[((n * d.C + g * d.Cg + c) * d.H + ih) * d.W + iw]) *
                     wv.data[((m * d.Cg + c) * d.KH + kh) * d.KW + kw];
              }
          yv.data[(nm * d.OH + oh) * d.OW + ow] = a.act.apply(static_cast<float>(s));
        }
    }
  });
}

// dx = conv2d^T(dy): per image and group, dcol [K x P] = W_g^T [K x Mg] dy [Mg x P], then each unfolded row
// (c, kh, kw) is added back where im2col read it. Depthwise: each output's dy times its taps, scattered.
void conv2d_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView wv, View dx) {
  const ConvDims d = dims_of(a, dx, wv, View{const_cast<float*>(dy.data), dy.shape, dy.device});
  const int64_t plane = d.OH * d.OW, K = d.Cg * d.KH * d.KW, in_plane = d.H * d.W;
  if (d.G == d.C && d.Cg == 1 && d.Mg == 1) {  // one filter per channel: a convolution of dy (conv2d_depthwise.cpp)
    conv2d_depthwise_backward_data(ctx, a, dy, wv, dx);
    return;
  }
  if (d.G == d.C && d.Cg == 1) {  // several filters per channel: each output's dy scattered through its taps
    const int64_t mult = d.Mg;
    ctx.pool.parallel_for(d.N * d.C, 1, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t n = nc / d.C, c = nc % d.C;
        float* dxp = dx.data + nc * in_plane;
        std::fill(dxp, dxp + in_plane, 0.f);
        for (int64_t m = c * mult; m < (c + 1) * mult; ++m) {
          const float* g = dy.data + (n * d.M + m) * plane;
          const float* wp = wv.data + m * d.KH * d.KW;
          for (int64_t oh = 0; oh < d.OH; ++oh) {
            int64_t kh0, kh1;
            tap_range(oh, a.stride_h, a.pad_top, a.dilation_h, d.KH, d.H, kh0, kh1);
            for (int64_t ow = 0; ow < d.OW; ++ow) {
              int64_t kw0, kw1;
              tap_range(ow, a.stride_w, a.pad_left, a.dilation_w, d.KW, d.W, kw0, kw1);
              const float gv = g[oh * d.OW + ow];
              for (int64_t kh = kh0; kh < kh1; ++kh) {
                float* row = dxp + (oh * a.stride_h - a.pad_top + kh * a.dilation_h) * d.W + ow * a.stride_w - a.pad_left;
                for (int64_t kw = kw0; kw < kw1; ++kw) row[kw * a.dilation_w] += gv * wp[kh * d.KW + kw];
              }
            }
          }
        }
      }
    });
    return;
  }
  const bool pointwise = is_pointwise(a, d);  // no fold: dx is the unfolded gradient itself
  float* dcol = pointwise ? nullptr : ctx.scratch(K * plane);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t g = 0; g < d.G; ++g) {
      const MatRef Wt{wv.data + g * d.Mg * K, 1, K};  // W_g^T: [K x Mg]
      const MatRef G{dy.data + (n * d.M + g * d.Mg) * plane, plane, 1};
      const PackedOperand* packed = a.constant_weights ? &packed_constant(ctx, Operand::a, K, d.Mg, Wt) : nullptr;
      float* dxg = dx.data + (n * d.C + g * d.Cg) * in_plane;
      if (pointwise) {
        sgemm_prepared(ctx, K, plane, d.Mg, 1.f, Wt, packed, G, nullptr, 0.f, dxg, plane);
        continue;
      }
      sgemm_prepared(ctx, K, plane, d.Mg, 1.f, Wt, packed, G, nullptr, 0.f, dcol, plane);
      ctx.pool.parallel_for(d.Cg, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {  // one input channel per task: its rows of dcol fold into it alone
          float* dxc = dxg + c * in_plane;
          std::fill(dxc, dxc + in_plane, 0.f);
          for (int64_t kh = 0; kh < d.KH; ++kh)
            for (int64_t kw = 0; kw < d.KW; ++kw) {
              const float* row = dcol + ((c * d.KH + kh) * d.KW + kw) * plane;
              for (int64_t oh = 0; oh < d.OH; ++oh) {
                const int64_t ih = oh * a.stride_h - a.pad_top + kh * a.dilation_h;
                if (ih < 0 || ih >= d.H) continue;
                for (int64_t ow = 0; ow < d.OW; ++ow) {
                  const int64_t iw = ow * a.stride_w - a.pad_left + kw * a.dilation_w;
                  if (iw >= 0 && iw < d.W) dxc[ih * d.W + iw] += row[oh * d.OW + ow];
                }
              }
            }
        }
      });
    }
}

// The definition of the x-gradient, loop by loop in float64 (the reference for tests).
void conv2d_backward_data_direct(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView wv, View dx) {
  const ConvDims d = dims_of(a, dx, wv, View{const_cast<float*>(dy.data), dy.shape, dy.device});
  const int64_t image = d.C * d.H * d.W;
  ctx.pool.parallel_for(d.N, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc(image);
    for (int64_t n = b; n < e; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t m = 0; m < d.M; ++m) {
        const int64_t g = m / d.Mg;
        for (int64_t oh = 0; oh < d.OH; ++oh)
          for (int64_t ow = 0; ow < d.OW; ++ow) {
            const double gv = dy.data[((n * d.M + m) * d.OH + oh) * d.OW + ow];
            for (int64_t c = 0; c < d.Cg; ++c)
              for (int64_t kh = 0; kh < d.KH; ++kh)
                for (int64_t kw = 0; kw < d.KW; ++kw) {
                  const int64_t ih = oh * a.stride_h - a.pad_top + kh * a.dilation_h;
                  const int64_t iw = ow * a.stride_w - a.pad_left + kw * a.dilation_w;
                  if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                  acc[((g * d.Cg + c) * d.H + ih) * d.W + iw] += gv * wv.data[((m * d.Cg + c) * d.KH + kh) * d.KW + kw];
                }
          }
      }
      for (int64_t i = 0; i < image; ++i) dx.data[n * image + i] = static_cast<float>(acc[i]);
    }
  });
}

}  // namespace glassbox::kernels::cpu
