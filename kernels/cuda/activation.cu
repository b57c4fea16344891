// Pointwise activations (formulas in kernels.h), and the bias + activation epilogue used after cuDNN.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void activation_kernel(ActivationAttrs a, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a.apply(x[i]);
}

// y viewed as [outer, channels, inner]: y = act(y + bias[channel]).
__global__ void bias_activation_kernel(ActivationAttrs a, const float* __restrict__ bias, float* y, int64_t n,
                                       int64_t channels, int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float b = bias ? bias[(i / inner) % channels] : 0.f;
    y[i] = a.apply(y[i] + b);
  }
}

}  // namespace

void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  GB_LAUNCH(activation_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a, x.data, y.data, n);
  check_launch("activation");
}

void bias_activation(Context& ctx, const ActivationAttrs& a, ConstView bias, View y) {
  const int64_t n = y.numel();
  if (n == 0 || (bias.empty() && a.kind == Activation::none)) return;
  const int64_t channels = y.shape.size() > 1 ? y.dim(1) : 1;
  const int64_t inner = channels ? n / (y.dim(0) * channels) : 1;
  GB_LAUNCH(bias_activation_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a, bias.data, y.data, n, channels, inner);
  check_launch("bias_activation");
}

namespace {

__global__ void fill_zero_kernel(float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) y[i] = 0.f;
}

// dx = dy * act'(x) (from x when given, else from y), or a rectifier's backward rule from y (element_formulas.h).
__global__ void activation_backward_kernel(ActivationAttrs a, BackwardRule rule, const float* __restrict__ x,
                                           const float* __restrict__ y, const float* __restrict__ dy,
                                           float* __restrict__ dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (rule != BackwardRule::gradient) dx[i] = rule_backward_at(rule, a, y[i], dy[i]);
    else dx[i] = dy[i] * (x ? activation_derivative_at_input(a, x[i]) : activation_derivative_at_output(a, y[i]));
  }
}

}  // namespace

void fill_zero(Context& ctx, View y) {
  const int64_t n = y.numel();
  if (n == 0 || !y.data) return;
  GB_LAUNCH(fill_zero_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(y.data, n);
  check_launch("fill_zero");
}

void activation_backward(Context& ctx, const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                         BackwardRule rule) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  GB_CHECK(!x.empty() || (!y.empty() && has_output_derivative(a)),
           "activation backward needs the input x for this kind (", int(a.kind), "), else x or y");
  if (!is_rectifier(a)) rule = BackwardRule::gradient;
  GB_CHECK(rule == BackwardRule::gradient || !y.empty(), "the deconvnet and guided rules read the rectifier's output y");
  GB_LAUNCH(activation_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a, rule, x.data, y.data, dy.data,
                                                                                    dx.data, n);
  check_launch("activation_backward");
}

}  // namespace glassbox::kernels::cuda
