// ONNX Resize of H and W (nearest and bilinear), CPU, and its adjoint. Each output pixel reads the taps of
// element_formulas.h (resize_taps per axis, the CUDA kernels' formula too): y = R x with R the product of the row
// and column taps; the backward scatters dy through the same taps, dx = R^T dy.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

// One task per run of output rows (row taps once per row, column taps per pixel).
void resize2d(Context& ctx, const Resize2dAttrs& a, ConstView x, View y) {
  const auto s = check_resize2d(a, x, y);
  if (y.numel() == 0) return;
  const int64_t rows = s.N * s.C * s.OH;
  ctx.pool.parallel_for(rows, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t plane = r / s.OH, oh = r % s.OH;
      int64_t r0, r1;
      float ty;
      resize_taps(a, a.scale_h, oh, s.H, s.OH, r0, r1, ty);
      const float* in = x.data + plane * s.H * s.W;
      const float *row0 = in + r0 * s.W, *row1 = in + r1 * s.W;
      float* out = y.data + r * s.OW;
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        int64_t x0, x1;
        float tx;
        resize_taps(a, a.scale_w, ow, s.W, s.OW, x0, x1, tx);
        out[ow] = resize_blend(row0, row1, x0, x1, tx, ty);
      }
    }
  });
}

// One plane per task (no write is shared): dx = 0, then each dy added to its taps with their weights.
void resize2d_backward(Context& ctx, const Resize2dAttrs& a, ConstView dy, View dx) {
  const auto s = check_resize2d(a, dx, dy);
  ctx.pool.parallel_for(s.N * s.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* g = dy.data + plane * s.OH * s.OW;
      float* out = dx.data + plane * s.H * s.W;
      std::fill(out, out + s.H * s.W, 0.f);
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        int64_t r0, r1;
        float ty;
        resize_taps(a, a.scale_h, oh, s.H, s.OH, r0, r1, ty);
        float *row0 = out + r0 * s.W, *row1 = out + r1 * s.W;
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          int64_t x0, x1;
          float tx;
          resize_taps(a, a.scale_w, ow, s.W, s.OW, x0, x1, tx);
          const float v = g[oh * s.OW + ow];
          const float top = v * (1.f - ty), bottom = v * ty;
          row0[x0] += top * (1.f - tx);
          row0[x1] += top * tx;
          row1[x0] += bottom * (1.f - tx);
          row1[x1] += bottom * tx;
        }
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
