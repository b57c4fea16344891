// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, CPU: y = act(x) elementwise (formulas in kernels.h);
// backward dx = dy * act' (element_formulas.h).
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "engine/error.h"

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

// dx = dy * act'(x), read from x where given, else from y (element_formulas.h).
void activation_backward(Context& ctx, const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                         BackwardRule rule) {
  GB_CHECK(!x.empty() || (!y.empty() && has_output_derivative(a)),
           "activation backward needs the input x for this kind (", int(a.kind), "), else x or y");
  const bool by_rule = rule != BackwardRule::gradient && is_rectifier(a);
  GB_CHECK(!by_rule || !y.empty(), "the deconvnet and guided rules read the rectifier's output y");
  ctx.pool.parallel_for(dy.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    if (by_rule && (a.kind == Activation::relu || a.kind == Activation::clip)) {
      // rule_backward_at for ReLU and Clip in branch-free selects that vectorize: deconvnet dx = dy > 0 ? dy : 0;
      // guided dx = dy > 0 ? dy * [lo < y < hi] : 0 (relu: lo = 0, no upper bound; the product kept, so that
      // dy = inf outside the mask gives NaN exactly as the formula does).
      const float* __restrict yp = y.data;
      const float* __restrict g = dy.data;
      float* __restrict out = dx.data;
      const bool relu = a.kind == Activation::relu;
      const float lo = relu ? 0.f : a.alpha, hi = relu ? INFINITY : a.beta;
      if (rule == BackwardRule::deconvnet)
        for (int64_t i = b; i < e; ++i) out[i] = g[i] > 0.f ? g[i] : 0.f;
      else
        for (int64_t i = b; i < e; ++i) {
          const float v = g[i] * float((yp[i] > lo) & (relu | (yp[i] < hi)));
          out[i] = g[i] > 0.f ? v : 0.f;
        }
    } else if (by_rule)
      for (int64_t i = b; i < e; ++i) dx.data[i] = rule_backward_at(rule, a, y.data[i], dy.data[i]);
    else if (!x.empty())
      for (int64_t i = b; i < e; ++i) dx.data[i] = dy.data[i] * activation_derivative_at_input(a, x.data[i]);
    else if (a.kind == Activation::relu || a.kind == Activation::clip) {
      // The same formulas with the bounds hoisted, so the loops vectorize (relu: 0 < y; clip: alpha < y < beta).
      const float* __restrict yp = y.data;
      const float* __restrict g = dy.data;
      float* __restrict out = dx.data;
      const bool relu = a.kind == Activation::relu;
      const float lo = relu ? 0.f : a.alpha, hi = relu ? INFINITY : a.beta;
      // relu's upper test is y <= inf (true for +inf), clip's y < beta; & rather than && keeps the loop branch-free.
      if (relu)
        for (int64_t i = b; i < e; ++i) out[i] = g[i] * float((yp[i] > lo) & (yp[i] <= hi));
      else
        for (int64_t i = b; i < e; ++i) out[i] = g[i] * float((yp[i] > lo) & (yp[i] < hi));
    } else
      for (int64_t i = b; i < e; ++i) dx.data[i] = dy.data[i] * activation_derivative_at_output(a, y.data[i]);
  });
}

}  // namespace glassbox::kernels::cpu
