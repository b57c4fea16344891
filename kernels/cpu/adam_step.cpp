// One Adam step (Kingma & Ba 2015), gradient ascent, CPU (element_formulas.h: adam_at).
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void adam_step(Context& ctx, float lr, float b1, float b2, float eps, int64_t step, ConstView grad, View m, View v,
               View param) {
  check_adam_step(step, grad, m, v, param);
  const float c1 = 1.f - std::pow(b1, float(step)), c2 = 1.f - std::pow(b2, float(step));
  ctx.pool.parallel_for(param.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) adam_at(lr, b1, b2, eps, c1, c2, grad.data[i], m.data[i], v.data[i], param.data[i]);
  });
}

}  // namespace glassbox::kernels::cpu
