// Concat, CPU: y is the inputs laid side by side along `axis`.
#include <cstring>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void concat(Context&, int axis, const std::vector<ConstView>& xs, View y) {
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  const int64_t y_row = y.numel() / std::max<int64_t>(1, outer);
  int64_t offset = 0;
  for (const ConstView& x : xs) {
    const int64_t row = x.numel() / std::max<int64_t>(1, outer);
    for (int64_t o = 0; o < outer; ++o)
      if (row) std::memcpy(y.data + o * y_row + offset, x.data + o * row, static_cast<size_t>(row) * sizeof(float));
    offset += row;
  }
}

// Backward: each input's gradient is its slice of dy (empty views are skipped).
void concat_backward(Context&, int axis, ConstView dy, const std::vector<View>& dxs) {
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= dy.shape[d];
  const int64_t y_row = dy.numel() / std::max<int64_t>(1, outer);
  int64_t offset = 0;
  for (const View& dx : dxs) {
    const int64_t row = numel(dx.shape) / std::max<int64_t>(1, outer);
    if (dx.data && row)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dx.data + o * row, dy.data + o * y_row + offset, static_cast<size_t>(row) * sizeof(float));
    offset += row;
  }
}

}  // namespace glassbox::kernels::cpu
