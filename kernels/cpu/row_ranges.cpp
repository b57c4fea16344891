// range [R, 2] = (min, max) of each row of x [R, ...], CPU; a row with a NaN has the range (NaN, NaN) (nan_min,
// nan_max in element_formulas.h). Score-CAM normalizes each upsampled activation map by it.
#include <cmath>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void row_ranges(Context& ctx, ConstView x, View range) {
  const int64_t R = x.shape.empty() ? 0 : x.dim(0), row = R ? x.numel() / R : 0;
  GB_CHECK(!x.shape.empty() && range.shape.size() == 2 && range.dim(0) == R && range.dim(1) == 2,
           "row_ranges: the ranges of the rows of ", shape_str(x.shape), " are [", R, ", 2], not ",
           shape_str(range.shape));
  ctx.pool.parallel_for(R, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* p = x.data + r * row;
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < row; ++i) lo = nan_min(lo, p[i]), hi = nan_max(hi, p[i]);
      range.data[2 * r] = lo, range.data[2 * r + 1] = hi;
    }
  });
}

}  // namespace glassbox::kernels::cpu
