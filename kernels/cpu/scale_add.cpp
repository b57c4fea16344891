// y = a x + b y + c, CPU; a term with a zero coefficient is not read (kernels.h).
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void scale_add(Context& ctx, float a, ConstView x, float b, float c, View y) {
  if (a != 0.f) check_same_size("scale_add", x, y);
  ctx.pool.parallel_for(y.numel(), 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float r = c;
      if (a != 0.f) r += a * x.data[i];
      if (b != 0.f) r += b * y.data[i];
      y.data[i] = r;
    }
  });
}

}  // namespace glassbox::kernels::cpu
