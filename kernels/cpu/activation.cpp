// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, CPU: y = act(x) elementwise (formulas in kernels.h).
#include <algorithm>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void apply_activation(const ActivationAttrs& a, const float* x, float* y, int64_t n, float bias) {
  switch (a.kind) {
    case Activation::none:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] + bias;
      return;
    case Activation::relu:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i] + bias, 0.f);
      return;
    case Activation::clip:
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i] + bias, a.alpha), a.beta);
      return;
    default:  // leaky_relu, sigmoid, hard_sigmoid, hard_swish
      for (int64_t i = 0; i < n; ++i) y[i] = a.apply(x[i] + bias);
  }
}

void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y) {
  ctx.pool.parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    apply_activation(a, x.data + b, y.data + b, e - b);
  });
}

}  // namespace glassbox::kernels::cpu
