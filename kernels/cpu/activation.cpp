// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, CPU: y = act(x) elementwise (formulas in kernels.h).
#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y) {
  ctx.pool.parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y.data[i] = a.apply(x.data[i]);
  });
}

}  // namespace glassbox::kernels::cpu
