// Pad, CPU, any rank: y[i] = x[i - begin] inside; outside, the constant value (constant), the mirror image
// without repeating the edge (reflect), the nearest edge value (edge), or the other side (wrap). Negative pads crop.
// The per-dimension index map is pad_source_index (element_formulas.h), shared with the CUDA kernel.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void pad(Context& ctx, const PadAttrs& a, ConstView x, View y) {
  const int r = static_cast<int>(y.shape.size());
  const auto sx = strides_of(x.shape);
  const int64_t inner = r ? y.shape[r - 1] : 1, rows = y.numel() / std::max<int64_t>(1, inner);
  ctx.pool.parallel_for(rows, 16, [&](int64_t s, int64_t e) {
    for (int64_t row = s; row < e; ++row) {
      int64_t off = 0, rem = row;
      bool constant = false;
      for (int d = r - 2; d >= 0; --d) {
        const int64_t o = rem % y.shape[d];
        rem /= y.shape[d];
        const int64_t i = pad_source_index(o, a.pads[d], x.shape[d], a.mode);
        if (i < 0) constant = true;
        else off += i * sx[d];
      }
      float* yr = y.data + row * inner;
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t i = constant ? -1 : pad_source_index(j, a.pads[r - 1], x.shape[r - 1], a.mode);
        yr[j] = i < 0 ? a.value : x.data[off + i];
      }
    }
  });
}

// Backward: dx[source(i)] += dy[i] over every output element that reads the input (reflect, edge and wrap
// read some inputs several times; constant padding reads each at most once).
void pad_backward(Context&, const PadAttrs& a, ConstView dy, View dx) {
  const int r = static_cast<int>(dy.shape.size());
  const auto sx = strides_of(dx.shape);
  std::fill(dx.data, dx.data + dx.numel(), 0.f);
  for (int64_t i = 0; i < dy.numel(); ++i) {
    int64_t rem = i, off = 0;
    bool reads = true;
    for (int d = r - 1; d >= 0 && reads; --d) {
      const int64_t s = pad_source_index(rem % dy.shape[d], a.pads[d], dx.shape[d], a.mode);
      rem /= dy.shape[d];
      reads = s >= 0;
      off += s * sx[d];
    }
    if (reads) dx.data[off] += dy.data[i];
  }
}

}  // namespace glassbox::kernels::cpu
