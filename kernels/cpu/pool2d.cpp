// MaxPool, AveragePool and GlobalAveragePool, CPU.
// max:     y = max over the window's taps inside the input (padding never wins);
// average: y = sum over taps inside the input / count, where count is the number of those taps, or with
//          count_include_pad the whole kernel (kH*kW) — as ONNX Runtime computes it. (PyTorch instead clips the
//          window to the padded input, which differs only for ceil_mode windows that overhang the padding.)
#include <algorithm>
#include <limits>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
  ctx.pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x.data + nc * H * W;
      float* yp = y.data + nc * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t h0 = oh * a.stride_h - a.pad_top, w0 = ow * a.stride_w - a.pad_left;
          if (a.kind == Pool2dAttrs::Kind::max) {
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t kh = 0; kh < a.kernel_h; ++kh) {
              const int64_t ih = h0 + kh * a.dilation_h;
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < a.kernel_w; ++kw) {
                const int64_t iw = w0 + kw * a.dilation_w;
                if (iw >= 0 && iw < W) m = std::max(m, xp[ih * W + iw]);
              }
            }
            yp[oh * OW + ow] = m;
          } else {
            float s = 0.f;
            int64_t inside = 0;
            for (int64_t kh = 0; kh < a.kernel_h; ++kh) {
              const int64_t ih = h0 + kh * a.dilation_h;
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < a.kernel_w; ++kw) {
                const int64_t iw = w0 + kw * a.dilation_w;
                if (iw >= 0 && iw < W) s += xp[ih * W + iw], ++inside;
              }
            }
            const int64_t count = a.count_include_pad ? a.kernel_h * a.kernel_w : inside;
            yp[oh * OW + ow] = count > 0 ? s / static_cast<float>(count) : 0.f;
          }
        }
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

}  // namespace glassbox::kernels::cpu
