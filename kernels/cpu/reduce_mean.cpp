// ReduceMean, CPU: y = mean of x over `axes` (sorted); y keeps the reduced dimensions as size 1.
#include <algorithm>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void reduce_mean(Context& ctx, const std::vector<int>& axes, ConstView x, View y) {
  const int r = static_cast<int>(x.shape.size());
  const auto sx = strides_of(x.shape);
  std::vector<bool> reduced(r, false);
  int64_t count = 1;
  for (int a : axes) reduced[a] = true, count *= x.shape[a];
  const Shape ys = y.shape;  // x's shape with reduced dims set to 1
  const int64_t n_out = y.numel();
  ctx.pool.parallel_for(n_out, 64, [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(r);
    for (int64_t o = b; o < e; ++o) {
      int64_t base = 0, rem = o;
      for (int d = r - 1; d >= 0; --d) {
        const int64_t i = rem % ys[d];
        rem /= ys[d];
        base += i * sx[d];
      }
      // Walk every reduced coordinate combination.
      double s = 0.0;
      std::fill(idx.begin(), idx.end(), 0);
      for (int64_t k = 0; k < count; ++k) {
        int64_t off = 0;
        for (int d = 0; d < r; ++d) off += idx[d] * sx[d];
        s += x.data[base + off];
        for (int d = r - 1; d >= 0; --d) {
          if (!reduced[d]) continue;
          if (++idx[d] < x.shape[d]) break;
          idx[d] = 0;
        }
      }
      y.data[o] = count ? static_cast<float>(s / static_cast<double>(count)) : 0.f;
    }
  });
}

// Backward: dx[i] = dy[i with the reduced coordinates at 0] / count.
void reduce_mean_backward(Context& ctx, const std::vector<int>& axes, ConstView dy, View dx) {
  const int r = static_cast<int>(dx.shape.size());
  const auto sy = strides_of(dy.shape);
  int64_t count = 1;
  for (int a : axes) count *= dx.shape[a];
  const float inv = count ? 1.f / float(count) : 0.f;
  ctx.pool.parallel_for(dx.numel(), 1024, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t rem = i, off = 0;
      for (int d = r - 1; d >= 0; --d) {
        off += (rem % dx.shape[d]) % dy.shape[d] * sy[d];  // a reduced dimension has size 1 in dy
        rem /= dx.shape[d];
      }
      dx.data[i] = dy.data[off] * inv;
    }
  });
}

}  // namespace glassbox::kernels::cpu
