// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Erf, GELU, CPU: y = act(x) elementwise (formulas in
// kernels.h; Erf and GELU vectorized with vec_math.h's erf); backward dx = dy * act' (element_formulas.h).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/element_formulas.h"

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

namespace {

// Erf and GELU (x/2 (1 + erf(x/sqrt 2))) over n values, L lanes at a time (vec_math.h); the last partial vector
// goes through a padded copy, so every element gets the same approximation wherever it lies.
template <int L>
__attribute__((always_inline)) inline void erf_rows(bool gelu, const float* x, float* y, int64_t n) {
  using V = typename VecOf<L>::type;
  auto one = [gelu](const float* in, float* out) {
    V v, u;
    load(v, in);
    u = gelu ? v * 0.70710678f : v;
    erf_in_place(u);
    if (gelu) u = 0.5f * v * (1.f + u);
    store(out, u);
  };
  int64_t i = 0;
  for (; i + L <= n; i += L) one(x + i, y + i);
  if (i < n) {
    alignas(64) float in[L] = {}, out[L];
    std::copy(x + i, x + n, in);
    one(in, out);
    std::copy(out, out + (n - i), y + i);
  }
}
using ErfRowsFn = void (*)(bool, const float*, float*, int64_t);
__attribute__((target("avx512f"))) void erf_rows_avx512(bool gelu, const float* x, float* y, int64_t n) {
  erf_rows<16>(gelu, x, y, n);
}
__attribute__((target("avx2,fma"))) void erf_rows_avx2(bool gelu, const float* x, float* y, int64_t n) {
  erf_rows<8>(gelu, x, y, n);
}
void erf_rows_generic(bool gelu, const float* x, float* y, int64_t n) { erf_rows<4>(gelu, x, y, n); }

}  // namespace

void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y) {
  if (a.kind == Activation::erf || a.kind == Activation::gelu) {
    const ErfRowsFn fn = ctx.isa == Isa::avx512 ? erf_rows_avx512 : ctx.isa == Isa::avx2 ? erf_rows_avx2
                                                                                          : erf_rows_generic;
    const bool gelu = a.kind == Activation::gelu;
    ctx.pool.parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) { fn(gelu, x.data + b, y.data + b, e - b); });
    return;
  }
  ctx.pool.parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    apply_activation(a, x.data + b, y.data + b, e - b);
  });
}

namespace {

// ReLU's and Clip's backward from their output y over [b, e), under each rule: the formulas of
// element_formulas.h (activation_derivative_at_output, rule_backward_at) with the bounds hoisted, in branch-free
// loops that vectorize. The mask is lo < y < hi (ReLU: 0 < y, no upper bound):
//   gradient   dx = dy * mask
//   deconvnet  dx = dy > 0 ? dy : 0
//   guided     dx = dy > 0 ? dy * mask : 0   (the product kept: dy = inf outside the mask gives NaN, as the formula)
void rectifier_backward(BackwardRule rule, const ActivationAttrs& a, const float* __restrict y,
                        const float* __restrict g, float* __restrict out, int64_t b, int64_t e) {
  const bool relu = a.kind == Activation::relu;
  const float lo = relu ? 0.f : a.alpha, hi = a.beta;
  switch (rule) {
    case BackwardRule::gradient:
      for (int64_t i = b; i < e; ++i) out[i] = g[i] * float((y[i] > lo) & (relu | (y[i] < hi)));
      return;
    case BackwardRule::deconvnet:
      for (int64_t i = b; i < e; ++i) out[i] = g[i] > 0.f ? g[i] : 0.f;
      return;
    case BackwardRule::guided:
      for (int64_t i = b; i < e; ++i) {
        const float v = g[i] * float((y[i] > lo) & (relu | (y[i] < hi)));
        out[i] = g[i] > 0.f ? v : 0.f;
      }
      return;
  }
}

}  // namespace

// dx = dy * act'(x), read from x where given, else from y (element_formulas.h).
void activation_backward(Context& ctx, const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                         BackwardRule rule) {
  GB_CHECK(!x.empty() || (!y.empty() && has_output_derivative(a)),
           "activation backward needs the input x for this kind (", int(a.kind), "), else x or y");
  const bool by_rule = rule != BackwardRule::gradient && is_rectifier(a);
  GB_CHECK(!by_rule || !y.empty(), "the deconvnet and guided rules read the rectifier's output y");
  // ReLU and Clip read their mask from y (under a rule always; for the gradient where x is not given).
  const bool rectifier_from_y =
      (a.kind == Activation::relu || a.kind == Activation::clip) && !y.empty() && (by_rule || x.empty());
  ctx.pool.parallel_for(dy.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    if (rectifier_from_y)
      rectifier_backward(by_rule ? rule : BackwardRule::gradient, a, y.data, dy.data, dx.data, b, e);
    else if (by_rule)
      for (int64_t i = b; i < e; ++i) dx.data[i] = rule_backward_at(rule, a, y.data[i], dy.data[i]);
    else if (!x.empty())
      for (int64_t i = b; i < e; ++i) dx.data[i] = dy.data[i] * activation_derivative_at_input(a, x.data[i]);
    else
      for (int64_t i = b; i < e; ++i) dx.data[i] = dy.data[i] * activation_derivative_at_output(a, y.data[i]);
  });
}

}  // namespace glassbox::kernels::cpu
