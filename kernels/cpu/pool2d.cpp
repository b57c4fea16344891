// MaxPool, AveragePool and GlobalAveragePool, CPU. The window formula is pool2d_at (element_formulas.h), shared
// with the CUDA kernel.
#include <algorithm>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

namespace {

// v > m ? v : m, the comparison pool2d_at makes (a NaN tap never wins); one vector max instruction.
inline float max_tap(float m, float v) { return v > m ? v : m; }

// Max pooling of one H x W plane in two passes, since the max is separable: each padded input row's maxima over
// the KW taps, rows[i][ow] = max_kw row_i[ow*sw + kw*dw], then y[oh][ow] = max_kh rows[oh*sh + kh*dh][ow].
// Padding (and a ceil-mode overhang) reads -inf, so it never wins, as in pool2d_at, and a window with no tap inside
// is -inf there too. O(KH + KW) vectorizable steps per output instead of KH*KW bounds-checked taps.
struct SeparableMax {
  int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
  int64_t Hp = 0, Wp = 0;

  void finish() { Hp = (OH - 1) * sh + (KH - 1) * dh + 1, Wp = (OW - 1) * sw + (KW - 1) * dw + 1; }
  void run(const float* x, float* y, std::vector<float>& padded_row, std::vector<float>& rows) const {
    constexpr float kNegInf = -__builtin_inff();
    padded_row.assign(static_cast<size_t>(Wp), kNegInf);
    rows.resize(static_cast<size_t>(Hp * OW));
    const int64_t j0 = std::clamp<int64_t>(pl, 0, Wp), j1 = std::clamp<int64_t>(pl + W, j0, Wp);  // x's columns
    for (int64_t i = 0; i < Hp; ++i) {
      float* r = rows.data() + i * OW;
      std::fill(r, r + OW, kNegInf);
      const int64_t ih = i - pt;
      if (ih < 0 || ih >= H) continue;
      std::copy(x + ih * W + (j0 - pl), x + ih * W + (j1 - pl), padded_row.data() + j0);
      for (int64_t kw = 0; kw < KW; ++kw) {
        const float* p = padded_row.data() + kw * dw;
        for (int64_t ow = 0; ow < OW; ++ow) r[ow] = max_tap(r[ow], p[ow * sw]);
      }
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* out = y + oh * OW;
      std::fill(out, out + OW, kNegInf);
      for (int64_t kh = 0; kh < KH; ++kh) {
        const float* r = rows.data() + (oh * sh + kh * dh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] = max_tap(out[ow], r[ow]);
      }
    }
  }
};

}  // namespace

// Max pooling: SeparableMax; average pooling: pool2d_at per output.
void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
  if (a.kind == Pool2dAttrs::Kind::max && OH > 0 && OW > 0) {
    SeparableMax g{H, W, OH, OW, a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w,
                   a.pad_top, a.pad_left};
    g.finish();
    ctx.pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
      thread_local std::vector<float> padded_row, rows;
      for (int64_t nc = b; nc < e; ++nc) g.run(x.data + nc * H * W, y.data + nc * OH * OW, padded_row, rows);
    });
    return;
  }
  ctx.pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x.data + nc * H * W;
      float* yp = y.data + nc * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) yp[oh * OW + ow] = pool2d_at(a, xp, H, W, oh, ow);
    }
  });
}
void global_avg_pool(Context& ctx, ConstView x, View y) {
  const int64_t rows = x.dim(0) * x.dim(1), plane = x.numel() / std::max<int64_t>(1, rows);
  ctx.pool.parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* p = x.data + r * plane;
      float s = 0.f;
      for (int64_t i = 0; i < plane; ++i) s += p[i];
      y.data[r] = s / static_cast<float>(plane);
    }
  });
}

// Backward: per plane (planes are independent), each output's dy back to its window (pool2d_backward_at).
// Average pooling reads only x's shape (x.data may be null).
void pool2d_backward(Context& ctx, const Pool2dAttrs& a, ConstView x, ConstView dy, View dx) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = dy.dim(2), OW = dy.dim(3);
  ctx.pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      float* dp = dx.data + nc * H * W;
      std::fill(dp, dp + H * W, 0.f);
      const float* g = dy.data + nc * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          pool2d_backward_at(a, x.data ? x.data + nc * H * W : nullptr, H, W, oh, ow, g[oh * OW + ow],
                             [dp](int64_t i, float v) { dp[i] += v; });
    }
  });
}

// dx[n, c, ...] = dy[n, c] / (H * W)
void global_avg_pool_backward(Context& ctx, ConstView dy, View dx) {
  const int64_t rows = dx.dim(0) * dx.dim(1), plane = dx.numel() / std::max<int64_t>(1, rows);
  ctx.pool.parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) std::fill(dx.data + r * plane, dx.data + (r + 1) * plane, dy.data[r] / float(plane));
  });
}

}  // namespace glassbox::kernels::cpu
