// The CPU backward kernels against finite differences of the forward kernels (which are tested against ONNX
// Runtime): for L(x) = sum_i F(x)_i r_i with random r, the central difference (L(x + h e_j) - L(x - h e_j)) / 2h,
// accumulated in float64 over the outputs that changed, must match the backward kernel's gradient at every j.
// Inputs stay 3h away from the kinks of piecewise functions (ReLU at 0, clip bounds, ...), and max pooling gets
// distinct values spaced wider than 2h, so no difference straddles a kink. Linear operators also pass the exact
// adjoint identity <F(x), r> = <x, F^T(r)> to float32 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "engine/error.h"
#include "kernels/element_formulas.h"
#include "kernels/kernels.h"
#include "kernels/null_backend.h"
#include "tests/support/einsum_axes.h"

namespace glassbox::kernels {
namespace {

using Inputs = std::vector<ConstView>;

struct GradCase {
  std::string name;
  std::vector<Shape> inputs;
  Shape output;
  std::function<void(Backend&, const Inputs&, View)> forward;
  std::vector<int> wrt;  // inputs whose gradient is checked
  // Writes the gradients of the inputs in `wrt` (same order) for output gradient dy; y is the forward output.
  std::function<void(Backend&, const Inputs&, ConstView y, ConstView dy, const std::vector<View>&)> backward;
  std::vector<float> kinks = {};  // input values where the function is not differentiable
  std::vector<int> positive = {}; // inputs drawn from [0.5, 1.5]
  bool distinct = false;          // all inputs distinct and 0.05 apart (max pooling)
  // Linear operators also check the adjoint identity: `each` — linear in each wrt input with the others held
  // (Gemm, MatMul: <F, r> = <x_k, g_k> for every k); `jointly` — linear in all together (Concat:
  // <F, r> = sum_k <x_k, g_k>).
  enum class Linear { no, each, jointly } linear = Linear::no;
};

constexpr double kStep = 1e-2;

std::vector<Tensor> make_inputs(const GradCase& c, std::mt19937& rng) {
  std::vector<Tensor> t;
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> pos(0.5f, 1.5f);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor x = Tensor::empty(c.inputs[i]);
    float* p = x.data<float>();
    const int64_t n = x.numel();
    const bool positive = std::count(c.positive.begin(), c.positive.end(), int(i)) > 0;
    if (c.distinct) {
      std::vector<int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      for (int64_t j = 0; j < n; ++j) p[j] = 0.05f * float(order[j] - n / 2);
    } else {
      for (int64_t j = 0; j < n; ++j) {
        float v;
        bool near;
        do {
          v = positive ? pos(rng) : normal(rng);
          near = false;
          for (float k : c.kinks) near = near || std::fabs(v - k) < 3 * kStep;
        } while (near);
        p[j] = v;
      }
    }
    t.push_back(std::move(x));
  }
  return t;
}

Inputs views(const std::vector<Tensor>& t) {
  Inputs v;
  for (const Tensor& x : t) v.push_back(view_of(x));
  return v;
}

// Normalized error max |fd - g| / max(1, max |g|) of the backward against central differences, per wrt input.
void expect_gradients_match(Backend& b, const GradCase& c, uint32_t seed) {
  SCOPED_TRACE(c.name);
  std::mt19937 rng(seed);
  std::vector<Tensor> in = make_inputs(c, rng);
  Tensor y = Tensor::empty(c.output), dy = Tensor::empty(c.output);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < dy.numel(); ++i) dy.data<float>()[i] = normal(rng);
  c.forward(b, views(in), view_of(y));

  std::vector<Tensor> grads;
  std::vector<View> grad_views;
  for (int k : c.wrt) grads.push_back(Tensor::zeros(c.inputs[k]));
  for (Tensor& g : grads) grad_views.push_back(view_of(g));
  c.backward(b, views(in), view_of(y), view_of(dy), grad_views);

  Tensor plus = Tensor::empty(c.output), minus = Tensor::empty(c.output);
  for (size_t w = 0; w < c.wrt.size(); ++w) {
    float* x = in[c.wrt[w]].data<float>();
    const float* g = grads[w].data<float>();
    double worst = 0, scale = 1;
    for (int64_t j = 0; j < grads[w].numel(); ++j) {
      const float x0 = x[j];
      x[j] = float(x0 + kStep);
      c.forward(b, views(in), view_of(plus));
      x[j] = float(x0 - kStep);
      c.forward(b, views(in), view_of(minus));
      const double step = double(float(x0 + kStep)) - double(float(x0 - kStep));
      x[j] = x0;
      double diff = 0;  // only outputs that changed contribute: the rest cancel exactly
      for (int64_t i = 0; i < plus.numel(); ++i)
        if (plus.data<float>()[i] != minus.data<float>()[i])
          diff += (double(plus.data<float>()[i]) - minus.data<float>()[i]) * dy.data<float>()[i];
      worst = std::max(worst, std::fabs(diff / step - g[j]));
      scale = std::max(scale, std::fabs(double(g[j])));
    }
    EXPECT_LE(worst / scale, 1e-3) << "input " << c.wrt[w] << ": gradient vs central differences";
  }

  if (c.linear == GradCase::Linear::no) return;
  double lhs = 0, mag = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    lhs += double(y.data<float>()[i]) * dy.data<float>()[i];
    mag += std::fabs(double(y.data<float>()[i]) * dy.data<float>()[i]);
  }
  double total = 0;
  for (size_t w = 0; w < c.wrt.size(); ++w) {
    double rhs = 0;
    for (int64_t j = 0; j < grads[w].numel(); ++j) rhs += double(in[c.wrt[w]].data<float>()[j]) * grads[w].data<float>()[j];
    total += rhs;
    if (c.linear == GradCase::Linear::each) {
      EXPECT_NEAR(lhs, rhs, 1e-5 * std::max(1.0, mag)) << "adjoint identity, input " << c.wrt[w];
    }
  }
  if (c.linear == GradCase::Linear::jointly) {
    EXPECT_NEAR(lhs, total, 1e-5 * std::max(1.0, mag)) << "adjoint identity";
  }
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d) {
  return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

GradCase conv_case(Shape x, int64_t M, int64_t KH, int64_t KW, Conv2dAttrs a) {
  const int64_t OH = out_size(x[2], KH, a.stride_h, a.pad_top, a.pad_bottom, a.dilation_h);
  const int64_t OW = out_size(x[3], KW, a.stride_w, a.pad_left, a.pad_right, a.dilation_w);
  GradCase c;
  c.name = "conv x" + shape_str(x) + " M" + std::to_string(M) + " k" + std::to_string(KH) + "x" + std::to_string(KW) +
           " s" + std::to_string(a.stride_h) + "x" + std::to_string(a.stride_w) + " g" + std::to_string(a.groups) +
           " d" + std::to_string(a.dilation_h);
  c.inputs = {x, {M, x[1] / a.groups, KH, KW}};
  c.output = {x[0], M, OH, OW};
  c.forward = [a](Backend& b, const Inputs& in, View y) { b.conv2d(a, in[0], in[1], {}, y); };
  c.wrt = {0};
  c.backward = [a](Backend& b, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
    b.conv2d_backward_data(a, dy, in[1], g[0]);
  };
  c.linear = GradCase::Linear::each;
  return c;
}

Conv2dAttrs conv_attrs(int64_t s, int64_t pad, int64_t d = 1, int64_t groups = 1) {
  Conv2dAttrs a;
  a.stride_h = a.stride_w = s;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
  a.dilation_h = a.dilation_w = d;
  a.groups = groups;
  return a;
}

std::vector<GradCase> conv_cases() {
  std::vector<GradCase> cs;
  cs.push_back(conv_case({2, 3, 7, 6}, 4, 3, 3, conv_attrs(1, 1)));
  cs.push_back(conv_case({1, 4, 9, 9}, 5, 3, 3, conv_attrs(2, 1)));
  cs.push_back(conv_case({1, 3, 8, 7}, 2, 5, 5, conv_attrs(1, 4, 2)));         // dilation 2
  cs.push_back(conv_case({2, 4, 5, 5}, 6, 3, 3, conv_attrs(1, 1, 1, 2)));      // 2 groups
  cs.push_back(conv_case({2, 5, 7, 7}, 5, 3, 3, conv_attrs(1, 1, 1, 5)));      // depthwise
  cs.push_back(conv_case({1, 3, 8, 8}, 6, 5, 5, conv_attrs(2, 2, 1, 3)));      // depthwise, multiplier 2
  cs.push_back(conv_case({1, 6, 4, 4}, 3, 1, 1, conv_attrs(1, 0)));            // 1x1
  Conv2dAttrs same = conv_attrs(2, 0);
  same.pad_bottom = same.pad_right = 1;  // TF "same"
  cs.push_back(conv_case({1, 3, 8, 8}, 4, 3, 3, same));
  Conv2dAttrs rect = conv_attrs(1, 0);
  rect.stride_w = 2, rect.pad_left = 2;
  cs.push_back(conv_case({1, 2, 5, 9}, 3, 1, 5, rect));
  return cs;
}

TEST(CpuBackward, Conv2d) {
  for (const char* variant : {"im2col_gemm", "direct"}) {
    auto b = make_cpu_backend(2);
    b->select_variant("conv2d", variant);  // "direct" also selects the definition for the backward
    uint32_t seed = 1;
    for (const GradCase& c : conv_cases()) expect_gradients_match(*b, c, seed++);
  }
}

TEST(CpuBackward, Pooling) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  for (auto kind : {Pool2dAttrs::Kind::max, Pool2dAttrs::Kind::average})
    for (int variant = 0; variant < 3; ++variant) {
      Pool2dAttrs a;
      a.kind = kind;
      a.kernel_h = a.kernel_w = 3;
      a.stride_h = a.stride_w = variant == 1 ? 1 : 2;
      a.pad_top = a.pad_left = 1;
      a.pad_bottom = a.pad_right = variant == 2 ? 2 : 1;
      a.dilation_h = a.dilation_w = variant == 1 ? 2 : 1;
      a.count_include_pad = variant == 2;
      const int64_t H = 7, O = out_size(H, 3, a.stride_h, a.pad_top, a.pad_bottom, a.dilation_h);
      GradCase c;
      c.name = std::string(kind == Pool2dAttrs::Kind::max ? "max" : "average") + " pool " + std::to_string(variant);
      c.inputs = {{2, 2, H, H}};
      c.output = {2, 2, O, O};
      c.forward = [a](Backend& bk, const Inputs& in, View y) { bk.pool2d(a, in[0], y); };
      c.wrt = {0};
      c.backward = [a](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
        bk.pool2d_backward(a, in[0], dy, g[0]);
      };
      c.distinct = kind == Pool2dAttrs::Kind::max;
      if (kind == Pool2dAttrs::Kind::average) c.linear = GradCase::Linear::each;
      expect_gradients_match(*b, c, seed++);
    }
  GradCase g;
  g.name = "global average pool";
  g.inputs = {{2, 3, 4, 5}};
  g.output = {2, 3, 1, 1};
  g.forward = [](Backend& bk, const Inputs& in, View y) { bk.global_avg_pool(in[0], y); };
  g.wrt = {0};
  g.backward = [](Backend& bk, const Inputs&, ConstView, ConstView dy, const std::vector<View>& gr) {
    bk.global_avg_pool_backward(dy, gr[0]);
  };
  g.linear = GradCase::Linear::each;
  expect_gradients_match(*b, g, seed++);
}

TEST(CpuBackward, Activations) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  struct A {
    Activation kind;
    float alpha, beta;
    std::vector<float> kinks;
  };
  const A acts[] = {{Activation::relu, 0, 0, {0.f}},
                    {Activation::clip, 0.f, 0.8f, {0.f, 0.8f}},
                    {Activation::leaky_relu, 0.1f, 0, {0.f}},
                    {Activation::sigmoid, 0, 0, {}},
                    {Activation::hard_sigmoid, 0.5f, 0.4f, {-0.8f, 1.2f}},
                    {Activation::hard_swish, 0, 0, {-3.f, 3.f}},
                    {Activation::erf, 0, 0, {}},
                    {Activation::gelu, 0, 0, {}},
                    {Activation::gelu_tanh, 0, 0, {}},
                    {Activation::sqrt, 0, 0, {}},
                    {Activation::pow, 2.f, 0, {}},
                    {Activation::pow, 3.f, 0, {}},
                    {Activation::pow, 0.5f, 0, {}},
                    {Activation::exp, 0, 0, {}},
                    {Activation::tanh, 0, 0, {}}};
  for (const A& act : acts)
    for (bool from_input : {false, true}) {
      ActivationAttrs a;
      a.kind = act.kind, a.alpha = act.alpha, a.beta = act.beta;
      if (!from_input && !has_output_derivative(a)) continue;  // needs x
      GradCase c;
      c.name = "activation " + std::to_string(int(act.kind)) + (from_input ? " from x" : " from y");
      c.inputs = {{3, 40}};
      c.output = {3, 40};
      c.forward = [a](Backend& bk, const Inputs& in, View y) { bk.activation(a, in[0], y); };
      c.wrt = {0};
      c.backward = [a, from_input](Backend& bk, const Inputs& in, ConstView y, ConstView dy,
                                   const std::vector<View>& g) {
        bk.activation_backward(a, from_input ? in[0] : ConstView{}, from_input ? ConstView{} : y, dy, g[0],
                               BackwardRule::gradient);
      };
      c.kinks = act.kinks;
      if (act.kind == Activation::sqrt || (act.kind == Activation::pow && act.alpha < 1.f)) c.positive = {0};
      if (act.kind == Activation::hard_swish) {  // spread over the three pieces
        c.inputs = {{3, 40}};
      }
      expect_gradients_match(*b, c, seed++);
    }
  GradCase s;
  s.name = "softmax axis 1";
  s.inputs = {{2, 5, 3}};
  s.output = {2, 5, 3};
  s.forward = [](Backend& bk, const Inputs& in, View y) { bk.softmax(1, in[0], y); };
  s.wrt = {0};
  s.backward = [](Backend& bk, const Inputs&, ConstView y, ConstView dy, const std::vector<View>& g) {
    bk.softmax_backward(1, y, dy, g[0]);
  };
  expect_gradients_match(*b, s, seed++);
  GradCase n;
  n.name = "batchnorm";
  n.inputs = {{2, 3, 2, 2}, {3}, {3}, {3}, {3}};
  n.output = {2, 3, 2, 2};
  n.positive = {4};
  n.forward = [](Backend& bk, const Inputs& in, View y) { bk.batchnorm(1e-3f, in[0], in[1], in[2], in[3], in[4], y); };
  n.wrt = {0};
  n.backward = [](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
    bk.batchnorm_backward(1e-3f, in[1], in[4], dy, g[0]);
  };
  expect_gradients_match(*b, n, seed++);
}

TEST(CpuBackward, Binary) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  const std::pair<Shape, Shape> shapes[] = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{1, 3, 1}, {2, 1, 4}}, {{1}, {2, 3}}};
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div})
    for (const auto& [sa, sb] : shapes) {
      Shape y(std::max(sa.size(), sb.size()));
      for (size_t i = 0; i < y.size(); ++i) {
        const int64_t da = i + sa.size() >= y.size() ? sa[i + sa.size() - y.size()] : 1;
        const int64_t db = i + sb.size() >= y.size() ? sb[i + sb.size() - y.size()] : 1;
        y[i] = std::max(da, db);
      }
      GradCase c;
      c.name = "binary " + std::to_string(int(op)) + " " + shape_str(sa) + " " + shape_str(sb);
      c.inputs = {sa, sb};
      c.output = y;
      c.forward = [op](Backend& bk, const Inputs& in, View out) { bk.binary(op, {}, in[0], in[1], out); };
      c.wrt = {0, 1};
      c.backward = [op](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
        bk.binary_backward(op, in[0], in[1], dy, g[0], g[1]);
      };
      if (op == BinaryOp::div) c.positive = {1};
      expect_gradients_match(*b, c, seed++);
    }
}

TEST(CpuBackward, GemmAndMatmul) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      GemmAttrs a;
      a.trans_a = ta, a.trans_b = tb, a.alpha = 0.7f;
      const int64_t M = 3, N = 5, K = 4;
      GradCase c;
      c.name = "gemm ta" + std::to_string(ta) + " tb" + std::to_string(tb);
      c.inputs = {ta ? Shape{K, M} : Shape{M, K}, tb ? Shape{N, K} : Shape{K, N}};
      c.output = {M, N};
      c.forward = [a](Backend& bk, const Inputs& in, View y) { bk.gemm(a, in[0], in[1], {}, y); };
      c.wrt = {0, 1};
      c.backward = [a](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
        bk.gemm_backward(a, in[0], in[1], dy, g[0], g[1]);
      };
      c.linear = GradCase::Linear::each;
      expect_gradients_match(*b, c, seed++);
    }
  const Shape mm[][3] = {{{3, 4}, {4, 5}, {3, 5}}, {{2, 3, 4}, {4, 2}, {2, 3, 2}}, {{2, 1, 3, 2}, {3, 2, 4}, {2, 3, 3, 4}}};
  for (const auto& m : mm) {
    GradCase c;
    c.name = "matmul " + shape_str(m[0]) + " x " + shape_str(m[1]);
    c.inputs = {m[0], m[1]};
    c.output = m[2];
    c.forward = [](Backend& bk, const Inputs& in, View y) { bk.matmul(in[0], in[1], y); };
    c.wrt = {0, 1};
    c.backward = [](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
      bk.matmul_backward(in[0], in[1], dy, g[0], g[1]);
    };
    c.linear = GradCase::Linear::each;
    expect_gradients_match(*b, c, seed++);
  }
}

TEST(CpuBackward, Layout) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  for (int axis : {0, 1, 2}) {
    GradCase c;
    c.name = "concat axis " + std::to_string(axis);
    c.inputs = {{2, 3, 4}, {2, 3, 4}};
    c.output = {2, 3, 4};
    c.output[axis] *= 2;
    c.forward = [axis](Backend& bk, const Inputs& in, View y) { bk.concat(axis, {in[0], in[1]}, y); };
    c.wrt = {0, 1};
    c.backward = [axis](Backend& bk, const Inputs&, ConstView, ConstView dy, const std::vector<View>& g) {
      bk.concat_backward(axis, dy, g);
    };
    c.linear = GradCase::Linear::jointly;
    expect_gradients_match(*b, c, seed++);
  }
  for (PadMode mode : {PadMode::constant, PadMode::reflect, PadMode::edge, PadMode::wrap}) {
    PadAttrs a;
    a.mode = mode;
    a.pads = {0, 2, 1, 1, 3, -1};  // a negative end crops
    GradCase c;
    c.name = "pad mode " + std::to_string(int(mode));
    c.inputs = {{2, 3, 4}};
    c.output = {3, 8, 4};
    c.forward = [a](Backend& bk, const Inputs& in, View y) { bk.pad(a, in[0], y); };
    c.wrt = {0};
    c.backward = [a](Backend& bk, const Inputs&, ConstView, ConstView dy, const std::vector<View>& g) {
      bk.pad_backward(a, dy, g[0]);
    };
    c.linear = GradCase::Linear::each;  // the pad value is 0
    expect_gradients_match(*b, c, seed++);
  }
}

// Every reduction kind over inner, leading and trailing axes: max and min on distinct values (no ties, no
// difference across a change of the maximum), l1 away from 0, log_sum on positive values; mean and sum are linear.
TEST(CpuBackward, Reductions) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  const ReduceKind kinds[] = {ReduceKind::mean,    ReduceKind::sum, ReduceKind::l1,      ReduceKind::l2,
                              ReduceKind::sum_square, ReduceKind::max, ReduceKind::min, ReduceKind::log_sum,
                              ReduceKind::log_sum_exp};
  for (ReduceKind kind : kinds)
    for (const std::vector<int>& axes : {std::vector<int>{2, 3}, std::vector<int>{1}, std::vector<int>{0, 2},
                                         std::vector<int>{3}}) {
      Shape y = {2, 3, 4, 5};
      for (int a : axes) y[a] = 1;
      GradCase c;
      c.name = "reduce " + std::to_string(int(kind)) + " axes " + shape_str(Shape(axes.begin(), axes.end()));
      c.inputs = {{2, 3, 4, 5}};
      c.output = y;
      c.forward = [kind, axes](Backend& bk, const Inputs& in, View out) { bk.reduce(kind, axes, in[0], out); };
      c.wrt = {0};
      c.backward = [kind, axes](Backend& bk, const Inputs& in, ConstView y, ConstView dy, const std::vector<View>& g) {
        bk.reduce_backward(kind, axes, in[0], y, dy, g[0]);
      };
      if (kind == ReduceKind::l1) c.kinks = {0.f};
      if (kind == ReduceKind::log_sum) c.positive = {0};
      c.distinct = kind == ReduceKind::max || kind == ReduceKind::min;
      if (kind == ReduceKind::mean || kind == ReduceKind::sum) c.linear = GradCase::Linear::each;
      expect_gradients_match(*b, c, seed++);
    }
}

// Einsum's backward as plan_einsum runs it (two more einsums with the operands' roles moved) against central
// differences, and the adjoint identity in each operand: MaxViT's equations, attention scores, a transposed output,
// a label summed that only one operand has, a broadcast batch label, an outer product.
TEST(CpuBackward, Einsum) {
  struct Spec {
    std::string a, b, y;
    Shape sa, sb;
  };
  const Spec specs[] = {{"BGHID", "BGHJD", "BGHIJ", {1, 2, 2, 5, 4}, {1, 2, 2, 5, 4}},
                        {"BGHIJ", "BGHJD", "BGHID", {1, 2, 2, 5, 5}, {1, 2, 2, 5, 4}},
                        {"bhqd", "bhkd", "bhqk", {2, 2, 3, 4}, {2, 2, 5, 4}},
                        {"ik", "kj", "ji", {3, 4}, {4, 5}},
                        {"ij", "jk", "k", {3, 4}, {4, 2}},
                        {"eij", "ejk", "eik", {1, 3, 4}, {3, 4, 2}},
                        {"i", "j", "ij", {4}, {3}}};
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  for (const Spec& e : specs) {
    Shape y;
    const std::vector<EinsumAxis> axes = test::einsum_axes(e.a, e.b, e.y, e.sa, e.sb, y);
    const std::vector<EinsumAxis> for_da = test::einsum_roles(axes, 1), for_db = test::einsum_roles(axes, 2);
    GradCase c;
    c.name = "einsum " + e.a + "," + e.b + "->" + e.y;
    c.inputs = {e.sa, e.sb};
    c.output = y;
    c.forward = [axes](Backend& bk, const Inputs& in, View out) { bk.einsum(axes, in[0], in[1], out); };
    c.wrt = {0, 1};
    c.backward = [for_da, for_db](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
      bk.einsum(for_da, dy, in[1], g[0]);
      bk.einsum(for_db, in[0], dy, g[1]);
    };
    c.linear = GradCase::Linear::each;
    expect_gradients_match(*b, c, seed++);
  }
}

// Strided copies of x [2, 3, 4, 5] (strides 60, 20, 5, 1): a transpose (its backward also as the inverse
// transpose, as the Transpose plan runs it), a slice with a negative step, a scalar Gather, and a broadcast.
TEST(CpuBackward, StridedCopy) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  struct S {
    const char* name;
    Shape y;
    int64_t offset;
    std::vector<int64_t> steps, inverse;  // inverse: the transpose's backward as a gather from dy, or empty
  };
  const S cases[] = {{"transpose 0213", {2, 4, 3, 5}, 0, {60, 5, 20, 1}, {60, 5, 15, 1}},
                     {"slice 1:3, 3:0:-2", {2, 2, 2, 5}, 20 + 15, {60, 20, -10, 1}, {}},
                     {"gather axis 1 index 2", {2, 4, 5}, 40, {60, 5, 1}, {}},
                     {"broadcast", {2, 2, 4, 5}, 0, {60, 0, 5, 1}, {}}};
  for (const S& s : cases)
    for (bool by_inverse : {false, true}) {
      if (by_inverse && s.inverse.empty()) continue;
      GradCase c;
      c.name = std::string("strided_copy ") + s.name + (by_inverse ? " (inverse transpose)" : "");
      c.inputs = {{2, 3, 4, 5}};
      c.output = s.y;
      c.forward = [s](Backend& bk, const Inputs& in, View y) { bk.strided_copy(s.offset, s.steps, in[0], y); };
      c.wrt = {0};
      c.backward = [s, by_inverse](Backend& bk, const Inputs&, ConstView, ConstView dy, const std::vector<View>& g) {
        if (by_inverse) bk.strided_copy(0, s.inverse, dy, g[0]);
        else bk.strided_copy_backward(s.offset, s.steps, dy, g[0]);
      };
      c.linear = GradCase::Linear::each;
      expect_gradients_match(*b, c, seed++);
    }
}

TEST(CpuBackward, LayerNorm) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  for (const Shape& x : {Shape{3, 8}, Shape{2, 3, 17}}) {
    GradCase c;
    c.name = "layer_norm " + shape_str(x);
    c.inputs = {x, {x.back()}, {x.back()}};
    c.output = x;
    c.forward = [](Backend& bk, const Inputs& in, View y) { bk.layer_norm(1e-5f, in[0], in[1], in[2], y); };
    c.wrt = {0};
    c.backward = [](Backend& bk, const Inputs& in, ConstView, ConstView dy, const std::vector<View>& g) {
      bk.layer_norm_backward(1e-5f, in[0], in[1], dy, g[0]);
    };
    expect_gradients_match(*b, c, seed++);
  }
}

// ONNX Resize (linear in x: central differences are exact up to rounding): nearest and bilinear under each
// coordinate transform, up by 2.5 x 1.5 and down by 0.6 x 0.5.
TEST(CpuBackward, Resize2d) {
  auto b = make_cpu_backend(2);
  uint32_t seed = 1;
  struct S {
    Shape x, y;
    float scale_h, scale_w;
  };
  for (const S& s : {S{{1, 2, 4, 6}, {1, 2, 10, 9}, 2.5f, 1.5f}, S{{2, 1, 10, 8}, {2, 1, 6, 4}, 0.6f, 0.5f}})
    for (ResizeMode mode : {ResizeMode::nearest, ResizeMode::linear})
      for (ResizeCoordinates m : {ResizeCoordinates::half_pixel, ResizeCoordinates::pytorch_half_pixel,
                                  ResizeCoordinates::align_corners, ResizeCoordinates::asymmetric,
                                  ResizeCoordinates::half_pixel_symmetric}) {
        const Resize2dAttrs a{mode, m, ResizeNearest::round_prefer_ceil, s.scale_h, s.scale_w};
        GradCase c;
        c.name = std::string("resize2d ") + (mode == ResizeMode::linear ? "linear" : "nearest") + " coordinates " +
                 std::to_string(int(m)) + " " + shape_str(s.x) + " -> " + shape_str(s.y);
        c.inputs = {s.x};
        c.output = s.y;
        c.forward = [a](Backend& bk, const Inputs& in, View y) { bk.resize2d(a, in[0], y); };
        c.wrt = {0};
        c.backward = [a](Backend& bk, const Inputs&, ConstView, ConstView dy, const std::vector<View>& g) {
          bk.resize2d_backward(a, dy, g[0]);
        };
        c.linear = GradCase::Linear::each;
        expect_gradients_match(*b, c, seed++);
      }
}

// A backend without a backward kernel says so (the CUDA backend has none yet).
TEST(CpuBackward, MissingKernelIsAnError) {
  NullBackend b;  // the interface's default backward methods
  try {
    b.softmax_backward(0, {}, {}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel for Softmax"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glassbox::kernels
