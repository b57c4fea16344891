// MaxPool, AveragePool and GlobalAveragePool, CPU. The window formula is pool2d_at (element_formulas.h), shared
// with the CUDA kernel.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
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
