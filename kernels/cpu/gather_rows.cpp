// y [M, ...] = rows index[j] of x [R, ...], CPU (index [M] as floats; one outside [0, R) gives a zero row:
// index_in_range in element_formulas.h).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void gather_rows(Context& ctx, ConstView x, ConstView index, View y) {
  const int64_t R = x.shape.empty() ? 0 : x.dim(0), M = index.numel(), row = R ? x.numel() / R : 0;
  GB_CHECK(!x.shape.empty() && !y.shape.empty() && y.dim(0) == M && y.numel() == M * row,
           "gather_rows: ", M, " rows of ", shape_str(x.shape), " (index ", shape_str(index.shape),
           ") do not fill ", shape_str(y.shape));
  ctx.pool.parallel_for(M, 1, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t r = index_in_range(index.data[j], R);
      float* out = y.data + j * row;
      if (r < 0) std::fill(out, out + row, 0.f);
      else std::copy(x.data + r * row, x.data + (r + 1) * row, out);
    }
  });
}

}  // namespace glassbox::kernels::cpu
