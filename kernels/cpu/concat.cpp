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

}  // namespace glassbox::kernels::cpu
