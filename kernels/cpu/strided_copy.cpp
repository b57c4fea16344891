// The strided copy behind Transpose, Slice and Gather, CPU: y[j] = x[offset + sum_d j_d * steps[d]]; each row of y
// (its last dimension) is one strided walk through x. The backward scatters dy back through the same map.
#include <algorithm>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

namespace {

// Calls f(first x index of the row, y row index) for each row of y in [b, e); the row's elements follow with
// x stride steps.back().
template <class F>
void for_each_row(int64_t offset, const std::vector<int64_t>& steps, const Shape& y, int64_t b, int64_t e, F f) {
  const int r = static_cast<int>(y.size());
  for (int64_t row = b; row < e; ++row) {
    int64_t rem = row, src = offset;
    for (int d = r - 2; d >= 0; --d) {
      src += (rem % y[d]) * steps[d];
      rem /= y[d];
    }
    f(src, row);
  }
}

}  // namespace

void strided_copy(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y) {
  if (y.numel() == 0) return;
  if (y.shape.empty()) {  // a scalar
    y.data[0] = x.data[offset];
    return;
  }
  const int64_t inner = y.shape.back(), rows = y.numel() / inner, step = steps.back();
  ctx.pool.parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for_each_row(offset, steps, y.shape, b, e, [&](int64_t src, int64_t row) {
      float* out = y.data + row * inner;
      for (int64_t k = 0; k < inner; ++k) out[k] = x.data[src + k * step];
    });
  });
}

// dx = 0; dx[offset + sum_d j_d * steps[d]] += dy[j] (one thread: rows may write the same elements).
void strided_copy_backward(Context&, int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx) {
  std::fill(dx.data, dx.data + dx.numel(), 0.f);
  if (dy.numel() == 0) return;
  if (dy.shape.empty()) {
    dx.data[offset] += dy.data[0];
    return;
  }
  const int64_t inner = dy.shape.back(), rows = dy.numel() / inner, step = steps.back();
  for_each_row(offset, steps, dy.shape, 0, rows, [&](int64_t dst, int64_t row) {
    const float* g = dy.data + row * inner;
    for (int64_t k = 0; k < inner; ++k) dx.data[dst + k * step] += g[k];
  });
}

}  // namespace glassbox::kernels::cpu
