// Convolution, CPU. Variants (kernel research; selected by name):
//   im2col_gemm — default: depthwise convolutions run a dedicated direct loop; 1x1/stride 1/no pad convolutions
//                 multiply the input directly; the rest unfold the input (im2col) and call the blocked sgemm.
//   direct      — the definition, loop by loop; the reference the others are tested against.
// Formula (kernels.h): y[n,m,oh,ow] = act(b[m] + sum_{c,kh,kw} x[n,g*Cg+c, oh*sh-pt+kh*dh, ow*sw-pl+kw*dw] w[m,c,kh,kw]).
#include <algorithm>

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

// y = act(y + bias) for output channels [m0, m1) of one image; y rows are OH*OW long.
void epilogue(const Conv2dAttrs& a, const float* bias, float* y, int64_t m0, int64_t m1, int64_t plane) {
  if (!bias && a.act.kind == Activation::none) return;
  for (int64_t m = m0; m < m1; ++m) apply_activation(a.act, y + m * plane, y + m * plane, plane, bias ? bias[m] : 0.f);
}

// Valid kernel taps [k_lo, k_hi) for output position o: 0 <= o*s - p + k*d < size.
inline void tap_range(int64_t o, int64_t s, int64_t p, int64_t d, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  const int64_t start = o * s - p;
  lo = start >= 0 ? 0 : (-start + d - 1) / d;
  hi = (size - start + d - 1) / d;
  hi = std::clamp<int64_t>(hi, 0, k);
  lo = std::min(lo, hi);
}

void conv_depthwise(Context& ctx, const Conv2dAttrs& a, const ConvDims& d, const float* x, const float* w,
                    const float* bias, float* y) {
  const int64_t mult = d.Mg;  // output channels per input channel (1 for a pure depthwise layer)
  ctx.pool.parallel_for(d.N * d.M, 1, [&](int64_t b, int64_t e) {
    for (int64_t nm = b; nm < e; ++nm) {
      const int64_t n = nm / d.M, m = nm % d.M, c = m / mult;
      const float* xp = x + (n * d.C + c) * d.H * d.W;
      const float* wp = w + m * d.KH * d.KW;
      float* yp = y + nm * d.OH * d.OW;
      const float bm = bias ? bias[m] : 0.f;
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

// col[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw] (0 outside).
void im2col(Context& ctx, const Conv2dAttrs& a, const ConvDims& d, const float* x, float* col) {
  const int64_t plane = d.OH * d.OW;
  ctx.pool.parallel_for(d.Cg * d.KH * d.KW, 4, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t kw = r % d.KW, kh = (r / d.KW) % d.KH, c = r / (d.KW * d.KH);
      const float* xc = x + c * d.H * d.W;
      float* out = col + r * plane;
      for (int64_t oh = 0; oh < d.OH; ++oh) {
        const int64_t ih = oh * a.stride_h - a.pad_top + kh * a.dilation_h;
        float* o = out + oh * d.OW;
        if (ih < 0 || ih >= d.H) {
          std::fill(o, o + d.OW, 0.f);
          continue;
        }
        const float* xr = xc + ih * d.W;
        const int64_t off = kw * a.dilation_w - a.pad_left;
        for (int64_t ow = 0; ow < d.OW; ++ow) {
          const int64_t iw = ow * a.stride_w + off;
          o[ow] = (iw >= 0 && iw < d.W) ? xr[iw] : 0.f;
        }
      }
    }
  });
}

}  // namespace

void conv2d_im2col_gemm(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv, View yv) {
  const ConvDims d = dims_of(a, xv, wv, yv);
  const float* bias = bv.empty() ? nullptr : bv.data;
  if (d.G == d.C && d.Cg == 1) {
    conv_depthwise(ctx, a, d, xv.data, wv.data, bias, yv.data);
    return;
  }
  const int64_t plane = d.OH * d.OW, K = d.Cg * d.KH * d.KW;
  const bool pointwise = d.KH == 1 && d.KW == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_top == 0 &&
                         a.pad_left == 0 && a.pad_bottom == 0 && a.pad_right == 0;
  float* col = pointwise ? nullptr : ctx.scratch(K * plane);
  for (int64_t n = 0; n < d.N; ++n) {
    for (int64_t g = 0; g < d.G; ++g) {
      const float* xg = xv.data + (n * d.C + g * d.Cg) * d.H * d.W;
      if (!pointwise) im2col(ctx, a, d, xg, col);
      float* yg = yv.data + (n * d.M + g * d.Mg) * plane;
      const MatRef W{wv.data + g * d.Mg * K, K, 1}, B{pointwise ? xg : col, plane, 1};
      sgemm(ctx, d.Mg, plane, K, 1.f, W, B, 0.f, yg, plane);
    }
    float* yn = yv.data + n * d.M * plane;
    ctx.pool.parallel_for(d.M, 8, [&](int64_t b, int64_t e) { epilogue(a, bias, yn, b, e, plane); });
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

}  // namespace glassbox::kernels::cpu
