// Shape inference and kernel dispatch for each ONNX operator, opsets 11..22. Each rule checks its inputs, gives
// the output shapes, and returns the kernel call (or folds shape computations on the host).
#include "engine/shape_inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

#include "kernels/element_formulas.h"

namespace glassbox {

using kernels::ActivationAttrs;
using kernels::Activation;
using kernels::Backend;
using kernels::ConstView;
using kernels::View;
using Ins = std::vector<ConstView>;
using Outs = std::vector<View>;

const Shape& NodeCtx::shape(size_t i) const {
  if (!has(i)) error("input ", i, " is required");
  return shapes[n.inputs[i]];
}

const Tensor* NodeCtx::known_input(size_t i) const {
  if (!has(i)) return nullptr;
  const Tensor& t = known[n.inputs[i]];
  return t.defined() && t.raw() ? &t : nullptr;
}

std::vector<int64_t> NodeCtx::ints_input(size_t i, const char* what) const {
  const Tensor* t = known_input(i);
  if (!t) error("input ", i, " (", what, ") must be a constant or computable from shapes at load time");
  if (t->dtype() != DType::i64) error("input ", i, " (", what, ") must be an integer tensor");
  return std::vector<int64_t>(t->data<int64_t>(), t->data<int64_t>() + t->numel());
}

float NodeCtx::scalar_input(size_t i, const char* what, float def) const {
  if (!has(i)) return def;
  const Tensor* t = known_input(i);
  if (!t) error("input ", i, " (", what, ") must be a constant");
  if (t->numel() != 1) error("input ", i, " (", what, ") must be a scalar, got shape ", shape_str(t->shape()));
  return t->dtype() == DType::f32 ? t->data<float>()[0] : static_cast<float>(t->data<int64_t>()[0]);
}

void NodeCtx::expect_inputs(size_t lo, size_t hi) const {
  if (n.inputs.size() < lo || n.inputs.size() > hi)
    error("expected ", lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi),
          " inputs, got ", n.inputs.size());
  for (size_t i = 0; i < lo; ++i)
    if (!has(i)) error("input ", i, " is required");
}

int normalize_axis(const NodeCtx& c, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) c.error("axis ", axis, " is out of range for rank ", rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

bool derivative_from_output(const ActivationAttrs& a) { return kernels::has_output_derivative(a); }

namespace {

// Bounds for values read from attributes and constant inputs, so that shape arithmetic cannot overflow: element
// counts (as in onnx_import.cpp and plan.cpp), and kernel sizes, strides, dilations and pads of 2-D windows.
constexpr int64_t kMaxElements = int64_t(1) << 34;
constexpr int64_t kMaxWindow = int64_t(1) << 24;
// Shape computations folded here on the host (Gather, Concat) make at most this many elements.
constexpr int64_t kMaxFoldElements = int64_t(1) << 26;

void check_fold_size(const NodeCtx& c, const Shape& y) {
  int64_t n = 1;
  for (int64_t d : y) {
    if (d && n > kMaxFoldElements / d) c.error("the folded result ", shape_str(y), " is too large");
    n *= d;
  }
}

Shape broadcast(const NodeCtx& c, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      c.error("shapes ", shape_str(a), " and ", shape_str(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// ---- spatial helpers (Conv and pooling share the padding rules) ----------------------------------------------

struct Spatial {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow;
};

Spatial spatial(const NodeCtx& c, const Shape& x, int64_t kh, int64_t kw, bool ceil_mode) {
  const Attributes& a = c.n.attrs;
  const auto strides = a.ints("strides", {1, 1}), dil = a.ints("dilations", {1, 1});
  if (strides.size() != 2 || dil.size() != 2) c.error("strides and dilations must have 2 values (2-D only)");
  Spatial s{kh, kw, strides[0], strides[1], dil[0], dil[1], 0, 0, 0, 0, 0, 0};
  if (s.sh < 1 || s.sw < 1 || s.dh < 1 || s.dw < 1 || kh < 1 || kw < 1)
    c.error("kernel, strides and dilations must be positive");
  if (s.sh > kMaxWindow || s.sw > kMaxWindow || s.dh > kMaxWindow || s.dw > kMaxWindow)
    c.error("strides and dilations must be at most ", kMaxWindow);
  const int64_t H = x[2], W = x[3];
  const int64_t ekh = (kh - 1) * s.dh + 1, ekw = (kw - 1) * s.dw + 1;  // effective (dilated) kernel
  const std::string auto_pad = a.s("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    s.oh = (H + s.sh - 1) / s.sh;
    s.ow = (W + s.sw - 1) / s.sw;
    const int64_t th = std::max<int64_t>(0, (s.oh - 1) * s.sh + ekh - H);
    const int64_t tw = std::max<int64_t>(0, (s.ow - 1) * s.sw + ekw - W);
    const bool upper = auto_pad == "SAME_UPPER";  // the extra pixel goes at the end
    s.pt = upper ? th / 2 : th - th / 2, s.pb = th - s.pt;
    s.pl = upper ? tw / 2 : tw - tw / 2, s.pr = tw - s.pl;
    return s;
  }
  if (auto_pad != "NOTSET" && auto_pad != "VALID") c.error("unknown auto_pad '", auto_pad, "'");
  if (auto_pad == "NOTSET") {
    const auto pads = a.ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) c.error("pads must have 4 values (top, left, bottom, right), got ", pads.size());
    for (int64_t p : pads)
      if (p < 0 || p > kMaxWindow) c.error("pads must be in [0, ", kMaxWindow, "], got ", p);
    s.pt = pads[0], s.pl = pads[1], s.pb = pads[2], s.pr = pads[3];
  }
  auto out = [&](int64_t in, int64_t pb, int64_t pe, int64_t ek, int64_t st) {
    const int64_t span = in + pb + pe - ek;
    if (span < 0) c.error("the kernel (", ek, " with dilation) is larger than the padded input ", shape_str(x));
    int64_t o = (ceil_mode ? (span + st - 1) / st : span / st) + 1;
    // In ceil mode the last window must start inside the input or its leading padding.
    if (ceil_mode && (o - 1) * st >= in + pb) --o;
    return o;
  };
  s.oh = out(H, s.pt, s.pb, ekh, s.sh);
  s.ow = out(W, s.pl, s.pr, ekw, s.sw);
  return s;
}

std::vector<int64_t> row_major_strides(const Shape& s) {
  std::vector<int64_t> stride(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) stride[d] = stride[d + 1] * s[d + 1];
  return stride;
}

void expect_rank(const NodeCtx& c, size_t i, size_t rank, const char* what) {
  if (c.shape(i).size() != rank)
    c.error("input ", i, " (", what, ") must have rank ", rank, ", got shape ", shape_str(c.shape(i)));
}

// ---- operators ------------------------------------------------------------------------------------------------

OpPlan plan_conv(const NodeCtx& c) {
  c.expect_inputs(2, 3);
  expect_rank(c, 0, 4, "X, NCHW; only 2-D convolution is supported");
  expect_rank(c, 1, 4, "W, [M, C/group, kH, kW]");
  const Shape &x = c.shape(0), &w = c.shape(1);
  const int64_t G = c.n.attrs.i("group", 1);
  if (G < 1 || x[1] % G != 0 || w[0] % G != 0 || w[1] != x[1] / G)
    c.error("group ", G, " does not fit input channels ", x[1], " and weight shape ", shape_str(w),
            " (expected W[1] * group == C and M divisible by group)");
  const auto ks = c.n.attrs.ints("kernel_shape", {w[2], w[3]});
  if (ks.size() != 2 || ks[0] != w[2] || ks[1] != w[3])
    c.error("kernel_shape does not match the weight shape ", shape_str(w));
  if (c.has(2) && c.shape(2) != Shape{w[0]})
    c.error("bias shape ", shape_str(c.shape(2)), " does not match ", w[0], " output channels");
  const Spatial s = spatial(c, x, w[2], w[3], false);
  kernels::Conv2dAttrs a;
  a.stride_h = s.sh, a.stride_w = s.sw, a.dilation_h = s.dh, a.dilation_w = s.dw;
  a.pad_top = s.pt, a.pad_left = s.pl, a.pad_bottom = s.pb, a.pad_right = s.pr, a.groups = G;
  // Weights that are constants of the model (not values folded into a plan, which a later plan may reallocate) may
  // be prepared once per session by the backend (kernels.h).
  a.constant_weights = c.g.values[c.n.inputs[1]].is_constant();
  OpPlan p;
  p.shapes = {{x[0], w[0], s.oh, s.ow}};
  p.epilogue = std::make_shared<ActivationAttrs>();
  auto epi = p.epilogue;
  const bool has_bias = c.has(2);
  p.run = [a, epi, has_bias](Backend& b, const Ins& in, const Outs& out) {
    kernels::Conv2dAttrs attrs = a;
    attrs.act = *epi;
    b.conv2d(attrs, in[0], in[1], has_bias ? in[2] : ConstView{}, out[0]);
  };
  p.backward = [a](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.conv2d_backward_data(a, dy, in[1], dx[0]);
  };
  p.backward_inputs = {1};
  return p;
}

OpPlan plan_activation(const NodeCtx& c, ActivationAttrs act) {
  OpPlan p;
  p.shapes = {c.shape(0)};
  p.pointwise = act;
  p.run = [act](Backend& b, const Ins& in, const Outs& out) { b.activation(act, in[0], out[0]); };
  const bool from_input = !derivative_from_output(act);
  p.backward = [act, from_input](Backend& b, const Ins& in, ConstView y, ConstView dy, const Outs& dx) {
    if (dx[0].data)
      b.activation_backward(act, from_input ? in[0] : ConstView{}, from_input ? ConstView{} : y, dy, dx[0],
                            kernels::BackwardRule::gradient);
  };
  if (from_input) p.backward_inputs = {0};
  else p.backward_output = true;
  return p;
}

OpPlan plan_clip(const NodeCtx& c) {
  c.expect_inputs(1, 3);
  ActivationAttrs a;
  a.kind = Activation::clip;
  // opset >= 11: min and max are optional inputs; older files carried attributes.
  a.alpha = c.has(1) ? c.scalar_input(1, "min", 0.f) : c.n.attrs.f("min", -std::numeric_limits<float>::infinity());
  a.beta = c.has(2) ? c.scalar_input(2, "max", 0.f) : c.n.attrs.f("max", std::numeric_limits<float>::infinity());
  return plan_activation(c, a);
}

// Pow with a constant scalar exponent (x^2 and x^0.5 of the decomposed LayerNorm): an element-wise function of x.
OpPlan plan_pow(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  const Tensor* e = c.known_input(1);
  if (!e || e->numel() != 1) c.error("the exponent must be a constant scalar (a run-time or tensor exponent is not supported)");
  return plan_activation(c, {Activation::pow, c.scalar_input(1, "exponent", 1.f)});
}

OpPlan plan_gelu(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const std::string approximate = c.n.attrs.s("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    c.error("approximate='", approximate, "' is not supported (none and tanh are)");
  return plan_activation(c, {approximate == "tanh" ? Activation::gelu_tanh : Activation::gelu});
}

OpPlan plan_binary(const NodeCtx& c, kernels::BinaryOp op) {
  c.expect_inputs(2, 2);
  OpPlan p;
  p.shapes = {broadcast(c, c.shape(0), c.shape(1))};
  const Tensor *a = c.known_input(0), *b = c.known_input(1);
  if (a && b && (a->dtype() == DType::i64 || b->dtype() == DType::i64)) {
    // Integer arithmetic on shape values (exporters compute reshape targets this way).
    if (a->dtype() != DType::i64 || b->dtype() != DType::i64) c.error("mixed integer and float operands");
    check_fold_size(c, p.shapes[0]);  // before allocating: [n, 1] and [1, n] broadcast to n * n elements
    Tensor y = Tensor::empty(p.shapes[0], DType::i64);
    const int64_t n = y.numel();
    const Shape& ys = p.shapes[0];
    const int r = static_cast<int>(ys.size());
    // Element i of y reads a and b at their broadcast positions (numpy rules: stride 0 along size-1 dimensions).
    auto source = [&](const Shape& xs, int64_t i) {
      int64_t at = 0, stride = 1;
      for (int d = r - 1, e = static_cast<int>(xs.size()) - 1; d >= 0; --d, --e) {
        const int64_t k = i % ys[d];
        i /= ys[d];
        if (e >= 0) {
          if (xs[e] != 1) at += k * stride;
          stride *= xs[e];
        }
      }
      return at;
    };
    for (int64_t i = 0; i < n; ++i) {
      const int64_t u = a->data<int64_t>()[source(a->shape(), i)], v = b->data<int64_t>()[source(b->shape(), i)];
      int64_t r = 0;
      bool overflow = false;
      switch (op) {
        case kernels::BinaryOp::add: overflow = __builtin_add_overflow(u, v, &r); break;
        case kernels::BinaryOp::sub: overflow = __builtin_sub_overflow(u, v, &r); break;
        case kernels::BinaryOp::mul: overflow = __builtin_mul_overflow(u, v, &r); break;
        case kernels::BinaryOp::div:
          if (v == 0) c.error("integer division by zero");
          overflow = u == std::numeric_limits<int64_t>::min() && v == -1;
          if (!overflow) r = u / v;
          break;
      }
      if (overflow) c.error("integer overflow computing ", u, " and ", v);
      y.data<int64_t>()[i] = r;
    }
    p.folded = {y};
    return p;
  }
  p.epilogue = std::make_shared<ActivationAttrs>();
  auto epi = p.epilogue;
  p.run = [op, epi](Backend& b, const Ins& in, const Outs& out) { b.binary(op, *epi, in[0], in[1], out[0]); };
  p.backward = [op](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data || dx[1].data) b.binary_backward(op, in[0], in[1], dy, dx[0], dx[1]);
  };
  if (op == kernels::BinaryOp::mul || op == kernels::BinaryOp::div) p.backward_inputs = {0, 1};
  return p;
}

OpPlan plan_batchnorm(const NodeCtx& c) {
  c.expect_inputs(5, 5);
  if (c.n.attrs.i("training_mode", 0) != 0) c.error("training_mode=1 is not supported (inference only)");
  const Shape& x = c.shape(0);
  if (x.size() < 2) c.error("input must have a channel dimension, got ", shape_str(x));
  for (size_t i = 1; i < 5; ++i)
    if (c.shape(i) != Shape{x[1]}) c.error("parameter ", i, " has shape ", shape_str(c.shape(i)), ", expected [", x[1], "]");
  const float eps = c.n.attrs.f("epsilon", 1e-5f);
  OpPlan p;
  p.shapes = {x};
  p.run = [eps](Backend& b, const Ins& in, const Outs& out) {
    b.batchnorm(eps, in[0], in[1], in[2], in[3], in[4], out[0]);
  };
  p.backward = [eps](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.batchnorm_backward(eps, in[1], in[4], dy, dx[0]);
  };
  p.backward_inputs = {1, 4};
  return p;
}

OpPlan plan_pool(const NodeCtx& c, bool max) {
  c.expect_inputs(1, 1);
  expect_rank(c, 0, 4, "X, NCHW; only 2-D pooling is supported");
  if (c.n.outputs.size() > 1 && c.n.outputs[1] >= 0) c.error("the Indices output is not supported");
  const auto ks = c.n.attrs.ints("kernel_shape");
  if (ks.size() != 2) c.error("kernel_shape must have 2 values, got ", ks.size());
  if (ks[0] > kMaxWindow || ks[1] > kMaxWindow) c.error("kernel_shape must be at most ", kMaxWindow);
  const Spatial s = spatial(c, c.shape(0), ks[0], ks[1], c.n.attrs.i("ceil_mode", 0) != 0);
  kernels::Pool2dAttrs a;
  a.kind = max ? kernels::Pool2dAttrs::Kind::max : kernels::Pool2dAttrs::Kind::average;
  a.kernel_h = s.kh, a.kernel_w = s.kw, a.stride_h = s.sh, a.stride_w = s.sw, a.dilation_h = s.dh, a.dilation_w = s.dw;
  a.pad_top = s.pt, a.pad_left = s.pl, a.pad_bottom = s.pb, a.pad_right = s.pr;
  a.count_include_pad = c.n.attrs.i("count_include_pad", 0) != 0;
  const Shape& x = c.shape(0);
  OpPlan p;
  p.shapes = {{x[0], x[1], s.oh, s.ow}};
  p.run = [a](Backend& b, const Ins& in, const Outs& out) { b.pool2d(a, in[0], out[0]); };
  p.backward = [a](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.pool2d_backward(a, in[0], dy, dx[0]);
  };
  if (max) p.backward_inputs = {0};  // the window maxima
  return p;
}

OpPlan plan_global_avg_pool(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const Shape& x = c.shape(0);
  if (x.size() < 3) c.error("input must be [N, C, spatial...], got ", shape_str(x));
  Shape y = x;
  std::fill(y.begin() + 2, y.end(), 1);
  OpPlan p;
  p.shapes = {y};
  p.run = [](Backend& b, const Ins& in, const Outs& out) { b.global_avg_pool(in[0], out[0]); };
  p.backward = [](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.global_avg_pool_backward(dy, dx[0]);
  };
  return p;
}

OpPlan plan_gemm(const NodeCtx& c) {
  c.expect_inputs(2, 3);
  expect_rank(c, 0, 2, "A");
  expect_rank(c, 1, 2, "B");
  kernels::GemmAttrs a;
  a.alpha = c.n.attrs.f("alpha", 1.f), a.beta = c.n.attrs.f("beta", 1.f);
  a.trans_a = c.n.attrs.i("transA", 0) != 0, a.trans_b = c.n.attrs.i("transB", 0) != 0;
  a.constant_b = c.g.values[c.n.inputs[1]].is_constant();  // may be prepared once per session (as Conv's weights)
  const Shape &A = c.shape(0), &B = c.shape(1);
  const int64_t M = a.trans_a ? A[1] : A[0], K = a.trans_a ? A[0] : A[1];
  const int64_t KB = a.trans_b ? B[1] : B[0], N = a.trans_b ? B[0] : B[1];
  if (K != KB) c.error("inner dimensions differ: A ", shape_str(A), " and B ", shape_str(B), " (transA=", a.trans_a,
                       ", transB=", a.trans_b, ")");
  const bool has_c = c.has(2);
  if (has_c) {
    const Shape& C = c.shape(2);
    if (C.size() > 2 || broadcast(c, C, {M, N}) != Shape{M, N})
      c.error("C of shape ", shape_str(C), " cannot be broadcast to [", M, ", ", N, "]");
  }
  OpPlan p;
  p.shapes = {{M, N}};
  p.run = [a, has_c](Backend& b, const Ins& in, const Outs& out) {
    ConstView C = has_c ? in[2] : ConstView{};
    if (has_c && C.shape.size() < 2) C.shape.insert(C.shape.begin(), 2 - C.shape.size(), 1);
    b.gemm(a, in[0], in[1], C, out[0]);
  };
  p.backward = [a](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data || dx[1].data) b.gemm_backward(a, in[0], in[1], dy, dx[0], dx[1]);
  };
  p.backward_inputs = {0, 1};
  return p;
}

OpPlan plan_matmul(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  Shape a = c.shape(0), b = c.shape(1);
  if (a.empty() || b.empty()) c.error("operands must have rank >= 1");
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a.back() != b[b.size() - 2]) c.error("inner dimensions differ: ", shape_str(c.shape(0)), " x ", shape_str(c.shape(1)));
  const Shape batch = broadcast(c, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  Shape full = batch;
  full.push_back(a[a.size() - 2]);
  full.push_back(b.back());
  Shape y = batch;
  if (!a1) y.push_back(a[a.size() - 2]);
  if (!b1) y.push_back(b.back());
  OpPlan p;
  p.shapes = {y};
  const bool constant_b = c.g.values[c.n.inputs[1]].is_constant();  // may be prepared once per session
  p.run = [a, b, full, constant_b](Backend& be, const Ins& in, const Outs& out) {
    be.matmul({in[0].data, a, in[0].device}, {in[1].data, b, in[1].device}, {out[0].data, full, out[0].device},
              constant_b);
  };
  p.backward = [a, b, full](Backend& be, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data || dx[1].data)
      be.matmul_backward({in[0].data, a, in[0].device}, {in[1].data, b, in[1].device}, {dy.data, full, dy.device},
                         {dx[0].data, a, dx[0].device}, {dx[1].data, b, dx[1].device});
  };
  p.backward_inputs = {0, 1};
  return p;
}

OpPlan alias_to(const Shape& s) {
  OpPlan p;
  p.shapes = {s};
  p.alias = true;
  return p;
}

OpPlan plan_flatten(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  int64_t axis = c.n.attrs.i("axis", 1);
  if (axis < -r || axis > r) c.error("axis ", axis, " out of range for rank ", r);
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;  // each a product of its own dimensions: [0, 4, 1, 1] is [0, 4], not [0, 0]
  for (int i = 0; i < r; ++i) (i < axis ? outer : inner) *= x[i];
  return alias_to({outer, inner});
}

OpPlan plan_reshape(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  const Shape& x = c.shape(0);
  const auto target = c.ints_input(1, "shape");
  const bool allowzero = c.n.attrs.i("allowzero", 0) != 0;
  Shape y(target.begin(), target.end());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0 && !allowzero) {
      if (i >= x.size()) c.error("shape ", shape_str(y), ": 0 at position ", i, " but the input has rank ", x.size());
      y[i] = x[i];
    }
    if (y[i] == -1) {
      if (infer >= 0) c.error("shape ", shape_str(y), " has more than one -1");
      infer = static_cast<int>(i);
    } else if (y[i] < 0) {
      c.error("shape ", shape_str(y), " has a negative dimension");
    } else {
      if (y[i] > kMaxElements || (y[i] && known > kMaxElements / y[i]))
        c.error("shape ", shape_str(y), " is too large");
      known *= y[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel(x) % known != 0) c.error("cannot reshape ", shape_str(x), " to ", shape_str(Shape(target.begin(), target.end())));
    y[infer] = numel(x) / known;
  }
  if (numel(y) != numel(x)) c.error("cannot reshape ", shape_str(x), " (", numel(x), " elements) to ", shape_str(y));
  return alias_to(y);
}

std::vector<int> axes_of(const NodeCtx& c, const std::vector<int64_t>& axes, int rank) {
  std::vector<int> r;
  for (int64_t a : axes) r.push_back(normalize_axis(c, a, rank));
  std::sort(r.begin(), r.end());
  if (std::adjacent_find(r.begin(), r.end()) != r.end()) c.error("repeated axis");
  return r;
}

OpPlan plan_unsqueeze(const NodeCtx& c) {
  c.expect_inputs(1, 2);
  const Shape& x = c.shape(0);
  const auto axes_raw = c.has(1) ? c.ints_input(1, "axes") : c.n.attrs.ints("axes");
  const int r = static_cast<int>(x.size() + axes_raw.size());
  const auto axes = axes_of(c, axes_raw, r);
  Shape y;
  size_t k = 0, j = 0;
  for (int i = 0; i < r; ++i) y.push_back(k < axes.size() && axes[k] == i ? (++k, 1) : x[j++]);
  return alias_to(y);
}

OpPlan plan_squeeze(const NodeCtx& c) {
  c.expect_inputs(1, 2);
  const Shape& x = c.shape(0);
  const bool given = c.has(1) || c.n.attrs.has("axes");
  const auto axes = given ? axes_of(c, c.has(1) ? c.ints_input(1, "axes") : c.n.attrs.ints("axes"), static_cast<int>(x.size()))
                          : std::vector<int>{};
  Shape y;
  for (int i = 0; i < static_cast<int>(x.size()); ++i) {
    const bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (listed && x[i] != 1) c.error("cannot squeeze axis ", i, " of size ", x[i]);
    if (listed || (!given && x[i] == 1)) continue;
    y.push_back(x[i]);
  }
  return alias_to(y);
}

OpPlan plan_concat(const NodeCtx& c) {
  if (c.n.inputs.empty()) c.error("needs at least one input");
  const Shape& first = c.shape(0);
  const int r = static_cast<int>(first.size());
  if (!c.n.attrs.has("axis")) c.error("attribute 'axis' is required");
  const int axis = normalize_axis(c, c.n.attrs.i("axis", 0), r);
  Shape y = first;
  y[axis] = 0;
  bool all_known = true;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    const Shape& s = c.shape(i);
    if (static_cast<int>(s.size()) != r) c.error("input ", i, " has rank ", s.size(), ", input 0 has rank ", r);
    for (int d = 0; d < r; ++d)
      if (d != axis && s[d] != first[d])
        c.error("input ", i, " has shape ", shape_str(s), ", incompatible with ", shape_str(first), " on axis ", d);
    y[axis] += s[axis];  // each term is at most kMaxElements (plan.cpp): bound the sum before it can overflow
    if (y[axis] > kMaxElements) c.error("the concatenated dimension ", axis, " is too large (", y[axis], ")");
    all_known = all_known && c.known_input(i);
  }
  OpPlan p;
  p.shapes = {y};
  if (all_known && c.known_input(0)->dtype() == DType::i64) {
    // Shape values: concatenate on the host (1-D in practice; any rank handled by rows).
    check_fold_size(c, y);
    Tensor out = Tensor::empty(y, DType::i64);
    int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= y[d];
    int64_t off = 0;
    const int64_t row_out = numel(y) / std::max<int64_t>(1, outer);
    for (size_t i = 0; i < c.n.inputs.size(); ++i) {
      const Tensor* t = c.known_input(i);
      if (t->dtype() != DType::i64) c.error("mixed integer and float inputs");
      const int64_t row = t->numel() / std::max<int64_t>(1, outer);
      for (int64_t o = 0; o < outer; ++o)
        std::copy(t->data<int64_t>() + o * row, t->data<int64_t>() + (o + 1) * row,
                  out.data<int64_t>() + o * row_out + off);
      off += row;
    }
    p.folded = {out};
    return p;
  }
  p.run = [axis](Backend& b, const Ins& in, const Outs& out) { b.concat(axis, in, out[0]); };
  p.backward = [axis](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) { b.concat_backward(axis, dy, dx); };
  return p;
}

OpPlan plan_pad(const NodeCtx& c) {
  c.expect_inputs(1, 4);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  kernels::PadAttrs a;
  const std::string mode = c.n.attrs.s("mode", "constant");
  if (mode == "constant") a.mode = kernels::PadMode::constant;
  else if (mode == "reflect") a.mode = kernels::PadMode::reflect;
  else if (mode == "edge") a.mode = kernels::PadMode::edge;
  else if (mode == "wrap") a.mode = kernels::PadMode::wrap;
  else c.error("pad mode '", mode, "' is not supported (constant, reflect, edge, wrap are)");
  const auto pads = c.has(1) ? c.ints_input(1, "pads") : c.n.attrs.ints("pads");
  a.value = c.has(2) ? c.scalar_input(2, "constant_value", 0.f) : c.n.attrs.f("value", 0.f);
  // opset 18+: optional axes select which dimensions the pads refer to.
  std::vector<int> axes(r);
  std::iota(axes.begin(), axes.end(), 0);
  if (c.has(3)) {
    axes.clear();
    for (int64_t ax : c.ints_input(3, "axes")) axes.push_back(normalize_axis(c, ax, r));
  }
  if (pads.size() != 2 * axes.size()) c.error("pads has ", pads.size(), " values, expected ", 2 * axes.size());
  if (r == 0) return alias_to(x);  // a scalar has nothing to pad
  for (int64_t v : pads)
    if (v < -kMaxElements || v > kMaxElements) c.error("pad ", v, " is out of range");
  a.pads.assign(2 * r, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    a.pads[axes[i]] = pads[i];
    a.pads[r + axes[i]] = pads[axes.size() + i];
  }
  Shape y = x;
  for (int d = 0; d < r; ++d) {
    y[d] = x[d] + a.pads[d] + a.pads[r + d];
    if (y[d] < 0) c.error("pads crop dimension ", d, " of ", shape_str(x), " below zero");
    if (a.mode == kernels::PadMode::reflect && (a.pads[d] >= x[d] || a.pads[r + d] >= x[d]) && (a.pads[d] > 0 || a.pads[r + d] > 0))
      c.error("reflect padding of ", std::max(a.pads[d], a.pads[r + d]), " needs dimension ", d, " larger than ", x[d]);
    if (a.mode != kernels::PadMode::constant && x[d] == 0 && y[d] > 0) c.error("cannot ", mode, "-pad an empty dimension");
  }
  OpPlan p;
  p.shapes = {y};
  p.run = [a](Backend& b, const Ins& in, const Outs& out) { b.pad(a, in[0], out[0]); };
  p.backward = [a](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.pad_backward(a, dy, dx[0]);
  };
  return p;
}

// ---- Resize -----------------------------------------------------------------------------------------------------

kernels::ResizeMode resize_mode(const NodeCtx& c) {
  const std::string mode = c.n.attrs.s("mode", "nearest");
  if (mode == "nearest") return kernels::ResizeMode::nearest;
  if (mode == "linear") return kernels::ResizeMode::linear;
  c.error("mode '", mode, "' is not supported (nearest and linear are)");
}

kernels::ResizeCoordinates resize_coordinates(const NodeCtx& c) {
  using kernels::ResizeCoordinates;
  const std::string m = c.n.attrs.s("coordinate_transformation_mode", "half_pixel");
  if (m == "half_pixel") return ResizeCoordinates::half_pixel;
  if (m == "pytorch_half_pixel") return ResizeCoordinates::pytorch_half_pixel;
  if (m == "align_corners") return ResizeCoordinates::align_corners;
  if (m == "asymmetric") return ResizeCoordinates::asymmetric;
  if (m == "half_pixel_symmetric" && c.g.opset >= 19) return ResizeCoordinates::half_pixel_symmetric;
  if (m == "half_pixel_symmetric") c.error("coordinate_transformation_mode half_pixel_symmetric needs opset 19");
  c.error("coordinate_transformation_mode '", m,
          "' is not supported (half_pixel, pytorch_half_pixel, align_corners, asymmetric, half_pixel_symmetric are)");
}

kernels::ResizeNearest resize_nearest(const NodeCtx& c) {
  using kernels::ResizeNearest;
  const std::string m = c.n.attrs.s("nearest_mode", "round_prefer_floor");
  if (m == "round_prefer_floor") return ResizeNearest::round_prefer_floor;
  if (m == "round_prefer_ceil") return ResizeNearest::round_prefer_ceil;
  if (m == "floor") return ResizeNearest::floor;
  if (m == "ceil") return ResizeNearest::ceil;
  c.error("nearest_mode '", m, "' is not supported (round_prefer_floor, round_prefer_ceil, floor, ceil are)");
}

// The resized axes, in the order of the scales / sizes entries: opset 18's `axes` attribute, or all four.
std::vector<int> resize_axes(const NodeCtx& c) {
  if (!c.n.attrs.has("axes")) return {0, 1, 2, 3};
  if (c.g.opset < 18) c.error("the axes attribute needs opset 18");
  std::vector<int> axes;
  for (int64_t a : c.n.attrs.ints("axes")) {
    const int d = normalize_axis(c, a, 4);
    if (std::find(axes.begin(), axes.end(), d) != axes.end()) c.error("axes repeats axis ", a);
    axes.push_back(d);
  }
  return axes;
}

// Resize (ONNX spec, opsets 11..19): H and W of a 4-D NCHW input, nearest (nearest_mode) or bilinear, under the
// coordinate transforms of kernels.h (Resize2dAttrs). Each resized axis gets
//   scales given: out = floor(in * scale), the product in float (as ONNX's shape inference and ONNX Runtime take it;
//                 the spec's floor(input_dimension * scale)), and the transform divides by that scale;
//   sizes given:  out = the size, scale = out / in; with keep_aspect_ratio_policy (18) not_larger / not_smaller,
//                 scale = the smallest / largest out / in over `axes` for every axis there, out = round(in * scale).
// N and C must keep their size and a scale of 1. roi (tf_crop_and_resize only), cubic_coeff_a (cubic only) and
// extrapolation_value (tf_crop_and_resize only) do not apply; exclude_outside has no effect without cubic or
// antialiasing. antialias=1 is the plain filter when no axis shrinks (spec: the antialiasing filter is used when
// downscaling), and refused when one does.
OpPlan plan_resize(const NodeCtx& c) {
  if (c.g.opset < 11) c.error("Resize before opset 11 is not supported (opsets 11 and later are)");
  c.expect_inputs(1, 4);
  expect_rank(c, 0, 4, "X, NCHW; only resizing H and W of a 4-D input is supported");
  const Shape& x = c.shape(0);
  const Attributes& at = c.n.attrs;
  kernels::Resize2dAttrs a;
  a.mode = resize_mode(c);
  a.coordinates = resize_coordinates(c);
  a.nearest = resize_nearest(c);
  const int64_t exclude_outside = at.i("exclude_outside", 0), antialias = at.i("antialias", 0);
  if (exclude_outside != 0 && exclude_outside != 1) c.error("exclude_outside must be 0 or 1, got ", exclude_outside);
  if (antialias != 0 && antialias != 1) c.error("antialias must be 0 or 1, got ", antialias);
  if (antialias && c.g.opset < 18) c.error("the antialias attribute needs opset 18");
  const std::string policy = at.s("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    c.error("keep_aspect_ratio_policy '", policy, "' is not supported (stretch, not_larger, not_smaller are)");
  if (policy != "stretch" && c.g.opset < 18) c.error("keep_aspect_ratio_policy needs opset 18");
  const std::vector<int> axes = resize_axes(c);

  // scales (input 2) or sizes (input 3): exactly one, known at plan time; an empty tensor counts as absent (opset
  // 11 writes an empty scales beside sizes).
  const Tensor* scales = c.has(2) ? c.known_input(2) : nullptr;
  if (c.has(2) && !scales) c.error("input 2 (scales) must be a constant or computable from shapes at load time");
  if (scales && scales->numel() == 0) scales = nullptr;
  if (scales && scales->dtype() != DType::f32) c.error("input 2 (scales) must be a float tensor");
  std::vector<int64_t> sizes = c.has(3) ? c.ints_input(3, "sizes") : std::vector<int64_t>{};
  if (scales && !sizes.empty()) c.error("only one of scales (input 2) and sizes (input 3) may be given");
  if (!scales && sizes.empty()) c.error("one of scales (input 2) and sizes (input 3) is required");
  const size_t given = scales ? static_cast<size_t>(scales->numel()) : sizes.size();
  if (given != axes.size())
    c.error(scales ? "scales" : "sizes", " has ", given, " values, expected ", axes.size(), " (one per axis)");

  float scale[4] = {1.f, 1.f, 1.f, 1.f};
  int64_t out[4] = {x[0], x[1], x[2], x[3]};
  auto check_size = [&](int d, float product) {  // a float in * scale within the element bound
    if (!(double(product) <= double(kMaxElements)))
      c.error("resizing dimension ", d, " of ", shape_str(x), " by ", scale[d], " is too large");
  };
  if (scales) {
    for (size_t k = 0; k < axes.size(); ++k) {
      const int d = axes[k];
      const float s = scales->data<float>()[k];
      if (!std::isfinite(s) || !(s > 0.f)) c.error("scale ", s, " for axis ", d, " must be finite and positive");
      scale[d] = s;
      const float product = float(x[d]) * s;
      check_size(d, product);
      out[d] = static_cast<int64_t>(std::floor(product));
    }
  } else {
    for (size_t k = 0; k < axes.size(); ++k) {
      const int d = axes[k];
      const int64_t v = sizes[k];
      if (v < 0 || v > kMaxElements) c.error("size ", v, " for axis ", d, " must be in [1, ", kMaxElements, "]");
      if (v != x[d] && (v == 0 || x[d] == 0))
        c.error("cannot resize dimension ", d, " of ", shape_str(x), " to ", v, " (sizes must be positive and the "
                "input dimension non-empty)");
      out[d] = v;
      scale[d] = v == x[d] ? 1.f : float(v) / float(x[d]);
    }
    if (policy != "stretch") {  // one scale for every axis in `axes`
      float s = scale[axes[0]];
      for (int d : axes) s = policy == "not_larger" ? std::min(s, scale[d]) : std::max(s, scale[d]);
      for (int d : axes) {
        scale[d] = s;
        const float product = s * float(x[d]);
        check_size(d, product);
        out[d] = static_cast<int64_t>(std::round(product));
      }
    }
  }
  for (int d : {0, 1})
    if (out[d] != x[d] || scale[d] != 1.f)
      c.error("resizing dimension ", d, " (", d == 0 ? "N" : "C", ") of ", shape_str(x), " to ", out[d],
              " with scale ", scale[d], " is not supported: only H and W (dimensions 2 and 3) are resized");
  if (antialias && a.mode == kernels::ResizeMode::linear && (scale[2] < 1.f || scale[3] < 1.f))
    c.error("antialias=1 when downscaling is not supported (antialias=0 is, and antialias=1 when upscaling)");
  a.scale_h = scale[2], a.scale_w = scale[3];

  OpPlan p;
  p.shapes = {{x[0], x[1], out[2], out[3]}};
  p.run = [a](Backend& b, const Ins& in, const Outs& o) { b.resize2d(a, in[0], o[0]); };
  p.backward = [a](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.resize2d_backward(a, dy, dx[0]);
  };
  return p;
}

OpPlan plan_softmax(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  OpPlan p;
  p.shapes = {x};
  if (c.g.opset < 13) {
    // Opset < 13: the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)], softmax over each row.
    const int axis = normalize_axis(c, c.n.attrs.i("axis", 1), r);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < r; ++d) (d < axis ? outer : inner) *= x[d];
    const Shape flat{outer, inner};
    p.run = [flat](Backend& b, const Ins& in, const Outs& out) {
      b.softmax(1, {in[0].data, flat, in[0].device}, {out[0].data, flat, out[0].device});
    };
    p.backward = [flat](Backend& b, const Ins&, ConstView y, ConstView dy, const Outs& dx) {
      if (dx[0].data)
        b.softmax_backward(1, {y.data, flat, y.device}, {dy.data, flat, dy.device}, {dx[0].data, flat, dx[0].device});
    };
  } else {
    const int axis = normalize_axis(c, c.n.attrs.i("axis", -1), r);
    p.run = [axis](Backend& b, const Ins& in, const Outs& out) { b.softmax(axis, in[0], out[0]); };
    p.backward = [axis](Backend& b, const Ins&, ConstView y, ConstView dy, const Outs& dx) {
      if (dx[0].data) b.softmax_backward(axis, y, dy, dx[0]);
    };
  }
  p.backward_output = true;
  return p;
}

// ReduceMean, ReduceSum, ReduceL1, ReduceL2, ReduceSumSquare, ReduceMax, ReduceMin, ReduceLogSum and
// ReduceLogSumExp (kernels::ReduceKind states each formula). Axes: an attribute before opset 18 (ReduceSum: before
// 13), an optional input from then on; none (or empty) means every axis, or with noop_with_empty_axes (an attribute
// of the opsets with the axes input) no axis at all: the op is then the identity, as the spec's text says.
// keepdims (default 1) keeps the reduced dimensions as size 1.
OpPlan plan_reduce(const NodeCtx& c, kernels::ReduceKind kind) {
  const bool axes_input = c.g.opset >= (c.n.op == "ReduceSum" ? 13 : 18);
  c.expect_inputs(1, axes_input ? 2 : 1);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  const bool keepdims = c.n.attrs.i("keepdims", 1) != 0;
  const std::vector<int64_t> raw =
      axes_input ? (c.has(1) ? c.ints_input(1, "axes") : std::vector<int64_t>{}) : c.n.attrs.ints("axes");
  std::vector<int> axes = axes_of(c, raw, r);
  if (axes.empty()) {
    if (axes_input && c.n.attrs.i("noop_with_empty_axes", 0) != 0) return alias_to(x);
    axes.resize(r);
    std::iota(axes.begin(), axes.end(), 0);
  }
  Shape kept = x, y;
  for (int a : axes) kept[a] = 1;
  for (int d = 0; d < r; ++d)
    if (keepdims || std::find(axes.begin(), axes.end(), d) == axes.end()) y.push_back(kept[d]);
  OpPlan p;
  p.shapes = {y};
  p.run = [kind, axes, kept](Backend& b, const Ins& in, const Outs& out) {
    b.reduce(kind, axes, in[0], {out[0].data, kept, out[0].device});
  };
  p.backward = [kind, axes, kept](Backend& b, const Ins& in, ConstView y, ConstView dy, const Outs& dx) {
    if (dx[0].data)
      b.reduce_backward(kind, axes, in[0], {y.data, kept, y.device}, {dy.data, kept, dy.device}, dx[0]);
  };
  if (kernels::reduce_backward_reads_x(kind)) p.backward_inputs = {0};
  p.backward_output = kernels::reduce_backward_reads_y(kind);
  return p;
}

OpPlan plan_layer_norm(const NodeCtx& c) {
  c.expect_inputs(2, 3);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  const int axis = normalize_axis(c, c.n.attrs.i("axis", -1), r);
  const Shape normalized(x.begin() + axis, x.end());
  for (size_t i = 1; i < 3; ++i)  // scale and bias: one value per normalized element
    if (c.has(i) && (numel(c.shape(i)) != numel(normalized) || broadcast(c, c.shape(i), normalized) != normalized))
      c.error("input ", i, " of shape ", shape_str(c.shape(i)), " does not match the normalized shape ",
              shape_str(normalized), " (axis ", axis, ")");
  const float eps = c.n.attrs.f("epsilon", 1e-5f);
  const bool has_bias = c.has(2);
  OpPlan p;
  p.shapes = {x};  // the Mean and InvStdDev outputs are not produced (make_plan rejects their use)
  p.run = [eps, has_bias](Backend& b, const Ins& in, const Outs& out) {
    b.layer_norm(eps, in[0], in[1], has_bias ? in[2] : ConstView{}, out[0]);
  };
  p.backward = [eps](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.layer_norm_backward(eps, in[0], in[1], dy, dx[0]);
  };
  p.backward_inputs = {0, 1};
  return p;
}

// ---- shape computations, folded on the host; Gather, Slice and Expand also run on activations (strided reads) ---

OpPlan folded(const Tensor& t) {
  OpPlan p;
  p.shapes = {t.shape()};
  p.folded = {t};
  return p;
}

OpPlan plan_shape(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const Shape& x = c.shape(0);
  const int64_t r = static_cast<int64_t>(x.size());
  // opset 15+: start and end attributes select a range of dimensions (clamped).
  auto clampi = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t s = clampi(c.n.attrs.i("start", 0)), e = clampi(c.n.attrs.i("end", r));
  std::vector<int64_t> dims;
  for (int64_t i = s; i < e; ++i) dims.push_back(x[i]);
  return folded(Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims));
}

const Tensor& known_or_fail(const NodeCtx& c, size_t i, const char* what) {
  const Tensor* t = c.known_input(i);
  if (!t)
    c.error("input ", i, " (", what, ") is computed at run time; this operator is only supported on shapes and ",
            "constants (folded at load time)");
  return *t;
}

// Copies elements by bytes, whatever the dtype.
void copy_elems(const Tensor& src, int64_t si, Tensor& dst, int64_t di, int64_t count) {
  const size_t e = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw()) + di * e, static_cast<const char*>(src.raw()) + si * e, count * e);
}

// A strided read of x: y[j] = x[offset + sum_d j_d * steps[d]] (Backend::strided_copy), y of shape `shape`.
struct StridedRead {
  Shape shape;
  int64_t offset = 0;
  std::vector<int64_t> steps;
};

// Strides that read x broadcast to y's shape: 0 along broadcast dimensions.
std::vector<int64_t> broadcast_steps(const Shape& x, const Shape& y) {
  const std::vector<int64_t> stride = row_major_strides(x);
  const size_t lead = y.size() - x.size();
  std::vector<int64_t> steps;
  for (size_t d = 0; d < y.size(); ++d) steps.push_back(d < lead || x[d - lead] == 1 ? 0 : stride[d - lead]);
  return steps;
}

// Folds a strided read of a known tensor on the host (any dtype).
OpPlan fold_strided(const NodeCtx& c, const Tensor& data, const StridedRead& s) {
  check_fold_size(c, s.shape);
  Tensor out = Tensor::empty(s.shape, data.dtype());
  const int r = static_cast<int>(s.shape.size());
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, src = s.offset;
    for (int d = r - 1; d >= 0; --d) {
      src += (rem % s.shape[d]) * s.steps[d];
      rem /= s.shape[d];
    }
    copy_elems(data, src, out, i, 1);
  }
  return folded(out);
}

OpPlan plan_transpose(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  std::vector<int64_t> raw(r);  // default: the dimensions reversed
  for (int d = 0; d < r; ++d) raw[d] = r - 1 - d;
  if (c.n.attrs.has("perm")) raw = c.n.attrs.ints("perm");
  if (static_cast<int>(raw.size()) != r) c.error("perm has ", raw.size(), " values for an input of rank ", r);
  std::vector<int> perm(r), inverse(r, -1);
  Shape y(r);
  for (int d = 0; d < r; ++d) {
    perm[d] = normalize_axis(c, raw[d], r);
    if (inverse[perm[d]] >= 0) c.error("perm repeats axis ", perm[d]);
    inverse[perm[d]] = d;
    y[d] = x[perm[d]];
  }
  // A strided copy reading x's stride of dimension perm[d] along y's dimension d; the backward is the same with
  // the inverse permutation, from dy's strides.
  const auto permuted = [](const Shape& s, const std::vector<int>& order) {
    const std::vector<int64_t> stride = row_major_strides(s);
    std::vector<int64_t> steps(s.size());
    for (size_t d = 0; d < s.size(); ++d) steps[d] = stride[order[d]];
    return steps;
  };
  const std::vector<int64_t> steps = permuted(x, perm), back = permuted(y, inverse);
  // Known data of any type (the integer index maps of windowed attention, built from shapes) is permuted on the
  // host.
  if (const Tensor* data = c.known_input(0)) return fold_strided(c, *data, StridedRead{y, 0, steps});
  OpPlan p;
  p.shapes = {y};
  p.run = [steps](Backend& b, const Ins& in, const Outs& out) { b.strided_copy(0, steps, in[0], out[0]); };
  p.backward = [back](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.strided_copy(0, back, dy, dx[0]);
  };
  return p;
}

// A strided read at run time; its backward scatters dy back (zeros elsewhere).
OpPlan run_strided(const StridedRead& s) {
  OpPlan p;
  p.shapes = {s.shape};
  p.run = [s](Backend& b, const Ins& in, const Outs& out) { b.strided_copy(s.offset, s.steps, in[0], out[0]); };
  p.backward = [s](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.strided_copy_backward(s.offset, s.steps, dy, dx[0]);
  };
  return p;
}

// Gather of run-time data along `axis` with known indices: a scalar index or 1-D indices in arithmetic progression
// (the class token x[:, 0] is Gather axis 1 with the scalar 0).
OpPlan plan_gather_run_time(const NodeCtx& c, const Tensor& idx) {
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  if (r == 0) c.error("data must have rank >= 1");
  const int axis = normalize_axis(c, c.n.attrs.i("axis", 0), r);
  if (idx.rank() > 1)
    c.error("indices of shape ", shape_str(idx.shape()), " on run-time data: only a scalar or 1-D indices are supported");
  const int64_t len = x[axis], ni = idx.numel();
  std::vector<int64_t> at(ni);
  for (int64_t k = 0; k < ni; ++k) {
    const int64_t j = idx.data<int64_t>()[k];
    if (j < -len || j >= len) c.error("index ", j, " out of range for dimension of size ", len);
    at[k] = j < 0 ? j + len : j;
  }
  const int64_t step = ni > 1 ? at[1] - at[0] : 1;
  for (int64_t k = 1; k < ni; ++k)
    if (at[k] - at[k - 1] != step)
      c.error("indices on run-time data must be evenly spaced (a strided read); general gathers are not supported");
  const std::vector<int64_t> stride = row_major_strides(x);
  StridedRead s;
  s.offset = ni ? at[0] * stride[axis] : 0;
  for (int d = 0; d < r; ++d) {
    if (d == axis && idx.rank() == 0) continue;  // a scalar index removes the dimension
    s.shape.push_back(d == axis ? ni : x[d]);
    s.steps.push_back(d == axis ? step * stride[axis] : stride[d]);
  }
  return run_strided(s);
}

OpPlan plan_gather(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  const Tensor& idx = known_or_fail(c, 1, "indices");
  if (idx.dtype() != DType::i64) c.error("indices must be integers");
  if (!c.known_input(0)) return plan_gather_run_time(c, idx);
  const Tensor& data = *c.known_input(0);
  const int r = data.rank();
  if (r == 0) c.error("data must have rank >= 1");
  const int axis = normalize_axis(c, c.n.attrs.i("axis", 0), r);
  Shape y(data.shape().begin(), data.shape().begin() + axis);
  y.insert(y.end(), idx.shape().begin(), idx.shape().end());
  y.insert(y.end(), data.shape().begin() + axis + 1, data.shape().end());
  check_fold_size(c, y);
  Tensor out = Tensor::empty(y, data.dtype());
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= data.dim(d);
  for (int d = axis + 1; d < r; ++d) inner *= data.dim(d);
  const int64_t len = data.dim(axis), ni = idx.numel();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < ni; ++k) {
      int64_t j = idx.data<int64_t>()[k];
      if (j < -len || j >= len) c.error("index ", j, " out of range for dimension of size ", len);
      if (j < 0) j += len;
      copy_elems(data, (o * len + j) * inner, out, (o * ni + k) * inner, inner);
    }
  return folded(out);
}

// Expand: x broadcast to broadcast(x, shape), a strided read with step 0 along the broadcast dimensions; the
// backward's scatter-add sums dy over them.
OpPlan plan_expand(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  const Shape& x = c.shape(0);
  const auto target = c.ints_input(1, "shape");
  for (int64_t d : target)
    if (d < 0 || d > kMaxElements) c.error("shape ", shape_str(Shape(target.begin(), target.end())), " is not valid");
  StridedRead s;
  s.shape = broadcast(c, x, Shape(target.begin(), target.end()));
  s.steps = broadcast_steps(x, s.shape);
  const Tensor* data = c.known_input(0);
  return data ? fold_strided(c, *data, s) : run_strided(s);
}

OpPlan plan_slice(const NodeCtx& c) {
  c.expect_inputs(3, 5);
  const Shape& x = c.shape(0);
  const auto starts = c.ints_input(1, "starts"), ends = c.ints_input(2, "ends");
  const int r = static_cast<int>(x.size());
  std::vector<int64_t> axes = c.has(3) ? c.ints_input(3, "axes") : std::vector<int64_t>();
  if (!c.has(3))
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  const auto steps = c.has(4) ? c.ints_input(4, "steps") : std::vector<int64_t>(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    c.error("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> b(r, 0), st(r, 1), len(x);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int a = normalize_axis(c, axes[i], r);
    const int64_t n = x[a];
    int64_t s = steps[i];
    if (s == 0) c.error("step 0");
    s = std::clamp<int64_t>(s, -(n + 1), n + 1);  // a longer step takes one element at most: same result
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v += n;
      return std::clamp(v, lo, hi);
    };
    const int64_t from = s > 0 ? clampi(starts[i], 0, n) : clampi(starts[i], -1, n - 1);
    const int64_t to = s > 0 ? clampi(ends[i], 0, n) : clampi(ends[i], -1, n - 1);
    b[a] = from, st[a] = s;
    len[a] = s > 0 ? std::max<int64_t>(0, (to - from + s - 1) / s) : std::max<int64_t>(0, (from - to - s - 1) / -s);
  }
  const std::vector<int64_t> stride = row_major_strides(x);
  StridedRead s{Shape(len.begin(), len.end()), 0, std::vector<int64_t>(r)};
  for (int d = 0; d < r; ++d) {
    if (len[d] > 0) s.offset += b[d] * stride[d];
    s.steps[d] = st[d] * stride[d];
  }
  const Tensor* data = c.known_input(0);
  return data ? fold_strided(c, *data, s) : run_strided(s);
}

// Split along `axis` into the sizes of the `split` input (opset 13+) or attribute (opset 11), or into equal parts
// (opset 18: num_outputs parts of ceil(len / n), the last one smaller). Each output is a strided read of the input:
// one step per output (OpPlan::per_output), or folded when the input is known.
OpPlan plan_split(const NodeCtx& c) {
  c.expect_inputs(1, 2);
  const Shape& x = c.shape(0);
  const int r = static_cast<int>(x.size());
  if (r == 0) c.error("input must have rank >= 1");
  const int axis = normalize_axis(c, c.n.attrs.i("axis", 0), r);
  const int64_t len = x[axis];
  const int64_t parts = static_cast<int64_t>(c.n.outputs.size());
  std::vector<int64_t> sizes = c.has(1) ? c.ints_input(1, "split") : c.n.attrs.ints("split");
  if (sizes.empty()) {
    const int64_t n = c.n.attrs.i("num_outputs", parts);
    if (n != parts) c.error("num_outputs is ", n, " but the node has ", parts, " outputs");
    if (!c.n.attrs.has("num_outputs") && len % n != 0)
      c.error("cannot split dimension ", axis, " of size ", len, " into ", n, " equal parts");
    const int64_t each = (len + n - 1) / n;
    for (int64_t k = 0; k < n; ++k) sizes.push_back(std::max<int64_t>(0, std::min(each, len - k * each)));
  }
  if (static_cast<int64_t>(sizes.size()) != parts)
    c.error("split has ", sizes.size(), " sizes but the node has ", parts, " outputs");
  int64_t total = 0;
  for (int64_t v : sizes) {
    if (v < 0 || v > len) c.error("split size ", v, " is out of range for dimension of size ", len);
    total += v;
  }
  if (total != len) c.error("split sizes add up to ", total, ", dimension ", axis, " has size ", len);
  const std::vector<int64_t> stride = row_major_strides(x);
  const Tensor* data = c.known_input(0);
  OpPlan p;
  int64_t start = 0;
  for (int64_t size : sizes) {
    StridedRead s{x, start * stride[axis], stride};
    s.shape[axis] = size;
    start += size;
    OpPlan part = data ? fold_strided(c, *data, s) : run_strided(s);
    p.shapes.push_back(s.shape);
    if (data) p.folded.push_back(part.folded[0]);
    else p.per_output.emplace_back(std::move(part.run), std::move(part.backward));
  }
  return p;
}

// ---- element-wise computations on known data (the batch-size arithmetic of exports with a dynamic batch) ------

// y = f(inputs...) element by element with broadcasting, all inputs known; f reads element j of input i through
// `at(i, j)` as a double (integer inputs are exact up to 2^53) and returns the result.
template <class F>
OpPlan fold_elementwise(const NodeCtx& c, DType out_type, F f) {
  std::vector<const Tensor*> in;
  Shape y;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    in.push_back(&known_or_fail(c, i, "data"));
    y = i == 0 ? in[0]->shape() : broadcast(c, y, in[i]->shape());
  }
  check_fold_size(c, y);
  std::vector<std::vector<int64_t>> steps;
  for (const Tensor* t : in) steps.push_back(broadcast_steps(t->shape(), y));
  Tensor out = Tensor::empty(y, out_type);
  const int r = static_cast<int>(y.size());
  std::vector<int64_t> src(in.size());
  for (int64_t j = 0; j < out.numel(); ++j) {
    int64_t rem = j;
    std::fill(src.begin(), src.end(), 0);
    for (int d = r - 1; d >= 0; --d) {
      for (size_t i = 0; i < in.size(); ++i) src[i] += (rem % y[d]) * steps[i][d];
      rem /= y[d];
    }
    auto at = [&](size_t i) {
      const Tensor& t = *in[i];
      return t.dtype() == DType::i64 ? static_cast<double>(t.data<int64_t>()[src[i]]) : double(t.data<float>()[src[i]]);
    };
    const double v = f(at);
    if (out_type == DType::i64) out.data<int64_t>()[j] = static_cast<int64_t>(v);
    else out.data<float>()[j] = static_cast<float>(v);
  }
  return folded(out);
}

DType common_type(const NodeCtx& c, size_t first, size_t last) {
  const DType t = known_or_fail(c, first, "data").dtype();
  for (size_t i = first + 1; i <= last; ++i)
    if (known_or_fail(c, i, "data").dtype() != t) c.error("inputs ", first, " and ", i, " have different types");
  return t;
}

OpPlan plan_equal(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  common_type(c, 0, 1);
  return fold_elementwise(c, DType::i64, [](auto at) { return at(0) == at(1) ? 1.0 : 0.0; });  // bool as 0/1
}

// Where(condition, a, b): a where the condition holds, else b.
OpPlan plan_where(const NodeCtx& c) {
  c.expect_inputs(3, 3);
  return fold_elementwise(c, common_type(c, 1, 2), [](auto at) { return at(0) != 0 ? at(1) : at(2); });
}

// Mod: fmod = 0 (integers): the remainder takes the divisor's sign (as Python's %); fmod = 1: C's fmod.
OpPlan plan_mod(const NodeCtx& c) {
  c.expect_inputs(2, 2);
  const DType t = common_type(c, 0, 1);
  const bool fmod = c.n.attrs.i("fmod", 0) != 0;
  if (t == DType::f32 && !fmod) c.error("fmod must be 1 for floating-point inputs");
  bool zero = false;
  OpPlan p = fold_elementwise(c, t, [&](auto at) {
    const double a = at(0), b = at(1);
    if (b == 0) {
      zero = true;
      return 0.0;
    }
    const double m = std::fmod(a, b);
    return !fmod && m != 0 && ((m < 0) != (b < 0)) ? m + b : m;
  });
  if (zero) c.error("division by zero");
  return p;
}

// Not, And, Or and the comparisons on known values (masks built from shapes, as Swin's shifted-window attention
// mask); booleans are integer tensors holding 0 or 1.
OpPlan plan_not(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  return fold_elementwise(c, DType::i64, [](auto at) { return at(0) == 0 ? 1.0 : 0.0; });
}

template <class F>
OpPlan plan_logical(const NodeCtx& c, F f) {
  c.expect_inputs(2, 2);
  return fold_elementwise(c, DType::i64, [f](auto at) { return f(at(0), at(1)) ? 1.0 : 0.0; });
}

// Range(start, limit, delta): start + i * delta for i < max(ceil((limit - start) / delta), 0), in the inputs' type.
OpPlan plan_range(const NodeCtx& c) {
  c.expect_inputs(3, 3);
  const DType t = common_type(c, 0, 2);
  double v[3];
  for (size_t i = 0; i < 3; ++i) {
    const Tensor& x = known_or_fail(c, i, i == 0 ? "start" : i == 1 ? "limit" : "delta");
    if (x.numel() != 1) c.error("input ", i, " must be a scalar, got shape ", shape_str(x.shape()));
    v[i] = t == DType::i64 ? static_cast<double>(x.data<int64_t>()[0]) : double(x.data<float>()[0]);
  }
  if (!std::isfinite(v[0]) || !std::isfinite(v[1]) || !std::isfinite(v[2]) || v[2] == 0)
    c.error("start, limit and delta must be finite and delta non-zero");
  if (t == DType::i64) {  // exact: 128-bit arithmetic, each element between start and limit
    const auto at = [&](size_t i) { return static_cast<__int128>(known_or_fail(c, i, "").data<int64_t>()[0]); };
    const __int128 start = at(0), span = at(1) - start, delta = at(2);
    const __int128 count = std::max<__int128>(0, span / delta + (span % delta != 0 && (span < 0) == (delta < 0)));
    if (count > kMaxFoldElements) c.error("the range has more than ", kMaxFoldElements, " elements");
    Tensor out = Tensor::empty({static_cast<int64_t>(count)}, t);
    for (int64_t i = 0; i < out.numel(); ++i) out.data<int64_t>()[i] = static_cast<int64_t>(start + i * delta);
    return folded(out);
  }
  const double count = std::max(0.0, std::ceil((v[1] - v[0]) / v[2]));
  if (!(count <= static_cast<double>(kMaxFoldElements)))
    c.error("the range has more than ", kMaxFoldElements, " elements");
  Tensor out = Tensor::empty({static_cast<int64_t>(count)}, t);
  for (int64_t i = 0; i < out.numel(); ++i)
    out.data<float>()[i] = static_cast<float>(double(v[0]) + static_cast<double>(i) * v[2]);
  return folded(out);
}

// ScatterND(data, indices, updates) on known tensors: a copy of data where each index tuple indices[j] (the last
// axis of length q <= rank) selects a slice that takes updates[j] (or adds/multiplies/takes the max/min of it, by
// `reduction`, opset 16+).
OpPlan plan_scatter_nd(const NodeCtx& c) {
  c.expect_inputs(3, 3);
  const Tensor& data = known_or_fail(c, 0, "data");
  const Tensor& idx = known_or_fail(c, 1, "indices");
  const Tensor& upd = known_or_fail(c, 2, "updates");
  if (idx.dtype() != DType::i64) c.error("indices must be integers");
  if (upd.dtype() != data.dtype()) c.error("updates and data have different types");
  const int r = data.rank(), qr = idx.rank();
  if (r < 1 || qr < 1) c.error("data and indices must have rank >= 1");
  const int64_t q = idx.dim(qr - 1);
  if (q < 1 || q > r) c.error("the last dimension of indices (", q, ") must be in [1, ", r, "]");
  Shape expect(idx.shape().begin(), idx.shape().end() - 1);
  expect.insert(expect.end(), data.shape().begin() + q, data.shape().end());
  if (upd.shape() != expect)
    c.error("updates of shape ", shape_str(upd.shape()), ", expected ", shape_str(expect));
  const std::string reduction = c.n.attrs.s("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    c.error("unknown reduction '", reduction, "'");
  int64_t slice = 1;
  for (int d = static_cast<int>(q); d < r; ++d) slice *= data.dim(d);
  const std::vector<int64_t> stride = row_major_strides(data.shape());
  Tensor out = Tensor::empty(data.shape(), data.dtype());
  std::memcpy(out.raw(), data.raw(), data.bytes());
  const int64_t tuples = idx.numel() / q;
  for (int64_t j = 0; j < tuples; ++j) {
    int64_t at = 0;
    for (int64_t k = 0; k < q; ++k) {
      int64_t i = idx.data<int64_t>()[j * q + k];
      const int64_t len = data.dim(static_cast<int>(k));
      if (i < -len || i >= len) c.error("index ", i, " out of range for dimension ", k, " of size ", len);
      at += (i < 0 ? i + len : i) * stride[k];
    }
    for (int64_t e = 0; e < slice; ++e) {
      auto apply = [&](auto* y, const auto* u) {
        auto& dst = y[at + e];
        const auto v = u[j * slice + e];
        if (reduction == "add") dst += v;
        else if (reduction == "mul") dst *= v;
        else if (reduction == "max") dst = std::max(dst, v);
        else if (reduction == "min") dst = std::min(dst, v);
        else dst = v;
      };
      if (data.dtype() == DType::i64) apply(out.data<int64_t>(), upd.data<int64_t>());
      else if (data.dtype() == DType::f32) apply(out.data<float>(), upd.data<float>());
      else c.error("data of type ", dtype_name(data.dtype()), " is not supported");
    }
  }
  return folded(out);
}

// ConstantOfShape: a tensor of the given shape filled with the `value` attribute (one element; default float 0).
OpPlan plan_constant_of_shape(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const auto dims = c.ints_input(0, "shape");
  for (int64_t d : dims)
    if (d < 0 || d > kMaxElements) c.error("shape ", shape_str(Shape(dims.begin(), dims.end())), " is not valid");
  Tensor value = Tensor::from_vector<float>({1}, {0.f});
  if (c.n.attrs.has("value")) {
    const auto& v = c.n.attrs.all().at("value");
    if (!std::holds_alternative<Tensor>(v)) c.error("attribute 'value' must be a tensor");
    value = std::get<Tensor>(v);
    if (value.numel() != 1) c.error("attribute 'value' must hold one element, it holds ", value.numel());
  }
  const Shape y(dims.begin(), dims.end());
  check_fold_size(c, y);
  Tensor out = Tensor::empty(y, value.dtype());
  for (int64_t j = 0; j < out.numel(); ++j) copy_elems(value, 0, out, j, 1);
  return folded(out);
}

OpPlan plan_cast(const NodeCtx& c) {
  c.expect_inputs(1, 1);
  const int64_t to = c.n.attrs.i("to", 0);
  const bool to_float = to == 1 || to == 11, to_bool = to == 9, to_int = to == 6 || to == 7 || to_bool;
  if (!to_float && !to_int) c.error("cast to ONNX type ", to, " is not supported (float and integer types are)");
  const Tensor* t = c.known_input(0);
  if (!t) {
    if (!to_float) c.error("casting a run-time tensor to an integer type is not supported");
    return alias_to(c.shape(0));  // float -> float at run time: nothing to do
  }
  Tensor out = Tensor::empty(t->shape(), to_float ? DType::f32 : DType::i64);
  const int64_t n = t->numel();
  for (int64_t i = 0; i < n; ++i) {
    if (to_float) out.data<float>()[i] = t->dtype() == DType::f32 ? t->data<float>()[i] : float(t->data<int64_t>()[i]);
    else if (to_bool)  // booleans are integers 0 and 1
      out.data<int64_t>()[i] = t->dtype() == DType::i64 ? t->data<int64_t>()[i] != 0 : t->data<float>()[i] != 0.f;
    else if (t->dtype() == DType::i64) out.data<int64_t>()[i] = t->data<int64_t>()[i];
    else {
      const float f = t->data<float>()[i];
      // [-2^63, 2^63): the range of int64 (NaN fails both comparisons).
      if (!(f >= -9.2233720e18f && f < 9.2233720e18f)) c.error("value ", f, " does not fit the integer type");
      out.data<int64_t>()[i] = static_cast<int64_t>(f);
    }
  }
  return folded(out);
}

// Dropout at inference: the identity; training_mode (input 2), when given, must be a constant false.
OpPlan plan_dropout(const NodeCtx& c) {
  if (c.has(2)) {
    const Tensor* t = c.known_input(2);
    if (!t || t->numel() != 1 || (t->dtype() == DType::i64 ? t->data<int64_t>()[0] != 0 : t->data<float>()[0] != 0.f))
      c.error("training_mode must be a constant false (inference only)");
  }
  return alias_to(c.shape(0));
}

// ---- Einsum (opset 12+) ----------------------------------------------------------------------------------------
// The equation's labels: letters A-Z (ids 0-25) and a-z (26-51), ids in ASCII order, so the implicit output's
// sorted labels are the ids in increasing order (numpy's order; ONNX Runtime 1.20 refuses upper-case letters
// there); the dimensions under "..." (broadcast as numpy does, right-aligned) follow as ids 52, 53, ...
constexpr int kEinsumLetters = 52;
constexpr int kEinsumEllipsis = -1;       // "..." in a term
constexpr size_t kMaxEquationLength = 1024;

std::string einsum_label_name(int id) {
  if (id >= kEinsumLetters) return "... dimension " + std::to_string(id - kEinsumLetters);
  return std::string(1, static_cast<char>(id < 26 ? 'A' + id : 'a' + id - 26));
}

// One term (an operand's or the output's subscripts): label ids in order, kEinsumEllipsis for "..."; spaces are
// ignored. The characters were checked by parse_einsum.
std::vector<int> einsum_term(const NodeCtx& c, const std::string& term) {
  std::vector<int> t;
  for (size_t i = 0; i < term.size(); ++i) {
    const char ch = term[i];
    if (ch == ' ') continue;
    if (ch >= 'A' && ch <= 'Z') {
      t.push_back(ch - 'A');
    } else if (ch >= 'a' && ch <= 'z') {
      t.push_back(26 + ch - 'a');
    } else if (term.compare(i, 3, "...") == 0) {
      if (std::count(t.begin(), t.end(), kEinsumEllipsis))
        c.error("equation term '", term, "' has more than one ellipsis");
      t.push_back(kEinsumEllipsis);
      i += 2;
    } else {
      c.error("equation term '", term, "': '", ch, "' is not part of '->' or '...'");
    }
  }
  return t;
}

struct EinsumEquation {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
  bool explicit_output = false;  // "->" given
};

// "ab,bc->ac", "ab,bc" (implicit output), "...ij,...jk->...ik", spaces anywhere (torchvision writes
// 'B G H I D, B G H J D -> B G H I J').
EinsumEquation parse_einsum(const NodeCtx& c, const std::string& eq) {
  if (eq.empty() || eq.size() > kMaxEquationLength)
    c.error("the equation must have 1 to ", kMaxEquationLength, " characters, got ", eq.size());
  for (char ch : eq)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == ',' || ch == '.' || ch == '-' || ch == '>' ||
          ch == ' '))
      c.error("the equation may hold only letters, spaces, ',', '->' and '...'");
  EinsumEquation e;
  const size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 2) != std::string::npos)
    c.error("equation '", eq, "' has more than one '->'");
  const std::string lhs = eq.substr(0, arrow);
  for (size_t begin = 0;;) {
    const size_t comma = lhs.find(',', begin);
    e.inputs.push_back(einsum_term(c, lhs.substr(begin, comma == std::string::npos ? comma : comma - begin)));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  e.explicit_output = arrow != std::string::npos;
  if (e.explicit_output) {
    const std::string rhs = eq.substr(arrow + 2);
    if (rhs.find(',') != std::string::npos) c.error("equation '", eq, "' has more than one output term");
    e.output = einsum_term(c, rhs);
  }
  return e;
}

// Every label's size and, per operand, its stride (0 where the operand lacks it or broadcasts it from size 1), the
// label of each operand dimension, and the output's labels and shape.
struct EinsumLabels {
  std::vector<int64_t> size;                   // per label id; -1: not in the equation
  std::vector<std::vector<int64_t>> stride;    // [operand][label id]
  std::vector<std::vector<int>> dims;          // [operand][dimension]: label id
  std::vector<int> output;
  Shape y;
};

EinsumLabels einsum_labels(const NodeCtx& c, const EinsumEquation& e) {
  const size_t ops = e.inputs.size();
  std::vector<int64_t> ellipsis_rank(ops, 0);
  int64_t E = 0;  // the broadcast ellipsis rank
  for (size_t i = 0; i < ops; ++i) {
    const int64_t rank = static_cast<int64_t>(c.shape(i).size());
    const auto& t = e.inputs[i];
    const bool has_ellipsis = std::count(t.begin(), t.end(), kEinsumEllipsis) > 0;
    const int64_t letters = static_cast<int64_t>(t.size()) - (has_ellipsis ? 1 : 0);
    if (has_ellipsis ? letters > rank : letters != rank)
      c.error("equation term ", i, " has ", letters, " labels", has_ellipsis ? " and '...'" : "", " but input ", i,
              " has shape ", shape_str(c.shape(i)));
    if (has_ellipsis) ellipsis_rank[i] = rank - letters;
    E = std::max(E, ellipsis_rank[i]);
  }
  const int labels = kEinsumLetters + static_cast<int>(E);
  EinsumLabels L;
  L.size.assign(labels, -1);
  L.stride.assign(ops, std::vector<int64_t>(labels, 0));
  L.dims.resize(ops);
  for (size_t i = 0; i < ops; ++i) {
    const Shape& x = c.shape(i);
    const std::vector<int64_t> rm = row_major_strides(x);
    std::vector<bool> seen(kEinsumLetters, false);
    for (int t : e.inputs[i]) {
      if (t == kEinsumEllipsis) {
        for (int64_t j = 0; j < ellipsis_rank[i]; ++j)
          L.dims[i].push_back(static_cast<int>(kEinsumLetters + E - ellipsis_rank[i] + j));
        continue;
      }
      if (seen[t])
        c.error("label '", einsum_label_name(t), "' repeats in term ", i,
                ": diagonals (a label twice in one operand) are not supported");
      seen[t] = true;
      L.dims[i].push_back(t);
    }
    for (size_t d = 0; d < x.size(); ++d) {
      const int l = L.dims[i][d];
      const int64_t have = L.size[l];
      if (have < 0 || have == 1) L.size[l] = x[d];
      else if (x[d] != 1 && x[d] != have)
        c.error("label '", einsum_label_name(l), "' has size ", have, " in one operand and ", x[d], " in input ", i,
                " (only size 1 broadcasts)");
      L.stride[i][l] = x[d] == 1 ? 0 : rm[d];
    }
  }
  if (e.explicit_output) {
    std::vector<bool> seen(kEinsumLetters, false);
    bool ellipsis = false;
    for (int t : e.output) {
      if (t == kEinsumEllipsis) {
        ellipsis = true;
        for (int j = kEinsumLetters; j < labels; ++j) L.output.push_back(j);
        continue;
      }
      if (L.size[t] < 0) c.error("output label '", einsum_label_name(t), "' is in no input term");
      if (seen[t]) c.error("output label '", einsum_label_name(t), "' repeats");
      seen[t] = true;
      L.output.push_back(t);
    }
    if (E > 0 && !ellipsis) c.error("the inputs have dimensions under '...' but the output term has no '...'");
  } else {  // the ellipsis' dimensions, then the letters that occur once, sorted
    for (int j = kEinsumLetters; j < labels; ++j) L.output.push_back(j);
    for (int l = 0; l < kEinsumLetters; ++l) {
      int occurrences = 0;
      for (const auto& t : e.inputs) occurrences += static_cast<int>(std::count(t.begin(), t.end(), l));
      if (occurrences == 1) L.output.push_back(l);
    }
  }
  for (int l : L.output) L.y.push_back(L.size[l]);
  return L;
}

// One operand: a permutation (a strided read, or an alias when nothing moves), or sums over labels that leave the
// others in order (ReduceSum's kernel); both at once is refused.
OpPlan plan_einsum_one_operand(const NodeCtx& c, const EinsumLabels& L) {
  const Shape& x = c.shape(0);
  const std::vector<int>& in = L.dims[0];
  std::vector<int> axes, kept_labels;
  Shape kept = x;
  for (size_t d = 0; d < in.size(); ++d) {
    if (std::find(L.output.begin(), L.output.end(), in[d]) == L.output.end()) {
      axes.push_back(static_cast<int>(d));
      kept[d] = 1;
    } else {
      kept_labels.push_back(in[d]);
    }
  }
  if (axes.empty()) {
    if (L.output == in) return alias_to(L.y);
    std::vector<int64_t> steps;
    for (int l : L.output) steps.push_back(L.stride[0][l]);
    return run_strided(StridedRead{L.y, 0, steps});
  }
  if (kept_labels != L.output)
    c.error("a one-operand Einsum that both sums labels and reorders the others is not supported (write it as "
            "ReduceSum and Transpose)");
  OpPlan p;
  p.shapes = {L.y};
  p.run = [axes, kept](Backend& b, const Ins& in, const Outs& out) {
    b.reduce(kernels::ReduceKind::sum, axes, in[0], {out[0].data, kept, out[0].device});
  };
  p.backward = [axes, kept](Backend& b, const Ins&, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.reduce_backward(kernels::ReduceKind::sum, axes, {}, {}, {dy.data, kept, dy.device}, dx[0]);
  };
  return p;
}

// Einsum: one or two operands (more, and diagonals, are refused). Two operands run as one strided, batched GEMM
// (Backend::einsum: each label with its size and strides; permuted and broadcast operands are read in place). The
// backward is two more of the same: dA = the contraction of dY with B onto A's labels, dB that of A with dY onto
// B's (a label an operand lacks or broadcasts has stride 0 in its gradient, so it is summed).
OpPlan plan_einsum(const NodeCtx& c) {
  if (c.n.inputs.size() > 2)
    c.error("Einsum of ", c.n.inputs.size(), " operands is not supported (one or two; chain them in pairs)");
  c.expect_inputs(1, 2);
  const std::string equation = c.n.attrs.s("equation", "");
  const EinsumEquation e = parse_einsum(c, equation);
  if (e.inputs.size() != c.n.inputs.size())
    c.error("equation '", equation, "' has ", e.inputs.size(), " operand terms for ", c.n.inputs.size(), " inputs");
  const EinsumLabels L = einsum_labels(c, e);
  if (c.n.inputs.size() == 1) return plan_einsum_one_operand(c, L);

  std::vector<int64_t> y_stride(L.size.size(), 0);
  const std::vector<int64_t> rm = row_major_strides(L.y);
  for (size_t k = 0; k < L.output.size(); ++k) y_stride[L.output[k]] = L.y[k] == 1 ? 0 : rm[k];
  std::vector<kernels::EinsumAxis> axes;
  for (size_t l = 0; l < L.size.size(); ++l)
    if (L.size[l] >= 0) axes.push_back({L.size[l], L.stride[0][l], L.stride[1][l], y_stride[l]});
  // The same labels with the operands' roles moved: (dY, B) -> dA and (A, dY) -> dB.
  std::vector<kernels::EinsumAxis> for_da = axes, for_db = axes;
  for (auto& x : for_da) x = {x.size, x.y, x.b, x.a};
  for (auto& x : for_db) x = {x.size, x.a, x.y, x.b};
  OpPlan p;
  p.shapes = {L.y};
  p.run = [axes](Backend& b, const Ins& in, const Outs& out) { b.einsum(axes, in[0], in[1], out[0]); };
  p.backward = [for_da, for_db](Backend& b, const Ins& in, ConstView, ConstView dy, const Outs& dx) {
    if (dx[0].data) b.einsum(for_da, dy, in[1], dx[0]);
    if (dx[1].data) b.einsum(for_db, in[0], dy, dx[1]);
  };
  p.backward_inputs = {0, 1};
  return p;
}

using Planner = OpPlan (*)(const NodeCtx&);

// Every operator glassbox runs, with its planning rule (one place: supported_operators() reads it too).
const std::map<std::string, Planner>& planners() {
  using kernels::BinaryOp;
  static const std::map<std::string, Planner> table = {
      {"Conv", plan_conv},
      {"Relu", [](const NodeCtx& c) { return plan_activation(c, {Activation::relu}); }},
      {"Clip", plan_clip},
      {"LeakyRelu",
       [](const NodeCtx& c) { return plan_activation(c, {Activation::leaky_relu, c.n.attrs.f("alpha", 0.01f)}); }},
      {"Sigmoid", [](const NodeCtx& c) { return plan_activation(c, {Activation::sigmoid}); }},
      {"HardSigmoid",
       [](const NodeCtx& c) {
         return plan_activation(c, {Activation::hard_sigmoid, c.n.attrs.f("alpha", 0.2f), c.n.attrs.f("beta", 0.5f)});
       }},
      {"HardSwish", [](const NodeCtx& c) { return plan_activation(c, {Activation::hard_swish}); }},
      {"Erf", [](const NodeCtx& c) { return plan_activation(c, {Activation::erf}); }},
      {"Exp", [](const NodeCtx& c) { return plan_activation(c, {Activation::exp}); }},
      {"Tanh", [](const NodeCtx& c) { return plan_activation(c, {Activation::tanh}); }},
      {"Gelu", plan_gelu},
      {"Sqrt", [](const NodeCtx& c) { return plan_activation(c, {Activation::sqrt}); }},
      {"Pow", plan_pow},
      {"Add", [](const NodeCtx& c) { return plan_binary(c, BinaryOp::add); }},
      {"Sub", [](const NodeCtx& c) { return plan_binary(c, BinaryOp::sub); }},
      {"Mul", [](const NodeCtx& c) { return plan_binary(c, BinaryOp::mul); }},
      {"Div", [](const NodeCtx& c) { return plan_binary(c, BinaryOp::div); }},
      {"BatchNormalization", plan_batchnorm},
      {"MaxPool", [](const NodeCtx& c) { return plan_pool(c, true); }},
      {"AveragePool", [](const NodeCtx& c) { return plan_pool(c, false); }},
      {"GlobalAveragePool", plan_global_avg_pool},
      {"Gemm", plan_gemm},
      {"MatMul", plan_matmul},
      {"Einsum", plan_einsum},
      {"Flatten", plan_flatten},
      {"Reshape", plan_reshape},
      {"Identity", [](const NodeCtx& c) { return alias_to(c.shape(0)); }},
      {"Dropout", plan_dropout},
      {"Unsqueeze", plan_unsqueeze},
      {"Squeeze", plan_squeeze},
      {"Concat", plan_concat},
      {"Pad", plan_pad},
      {"Resize", plan_resize},
      {"Softmax", plan_softmax},
      {"ReduceMean", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::mean); }},
      {"ReduceSum", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::sum); }},
      {"ReduceL1", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::l1); }},
      {"ReduceL2", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::l2); }},
      {"ReduceSumSquare", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::sum_square); }},
      {"ReduceMax", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::max); }},
      {"ReduceMin", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::min); }},
      {"ReduceLogSum", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::log_sum); }},
      {"ReduceLogSumExp", [](const NodeCtx& c) { return plan_reduce(c, kernels::ReduceKind::log_sum_exp); }},
      {"Transpose", plan_transpose},
      {"LayerNormalization", plan_layer_norm},
      {"Shape", plan_shape},
      {"Gather", plan_gather},
      {"Slice", plan_slice},
      {"Expand", plan_expand},
      {"Cast", plan_cast},
      {"Split", plan_split},
      {"Equal", plan_equal},
      {"Where", plan_where},
      {"Mod", plan_mod},
      {"ConstantOfShape", plan_constant_of_shape},
      {"Not", plan_not},
      {"And", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a != 0 && b != 0; }); }},
      {"Or", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a != 0 || b != 0; }); }},
      {"Less", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a < b; }); }},
      {"LessOrEqual", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a <= b; }); }},
      {"Greater", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a > b; }); }},
      {"GreaterOrEqual", [](const NodeCtx& c) { return plan_logical(c, [](double a, double b) { return a >= b; }); }},
      {"Range", plan_range},
      {"ScatterND", plan_scatter_nd},
  };
  return table;
}

}  // namespace

OpPlan plan_op(const NodeCtx& c) {
  const auto& table = planners();
  const auto it = table.find(c.n.op);
  if (it == table.end()) c.error("no planning rule for operator '", c.n.op, "'");
  return it->second(c);
}

const std::vector<std::string>& supported_operators() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v = {"Constant"};  // the importer makes Constant nodes constant values
    for (const auto& entry : planners()) v.push_back(entry.first);
    std::sort(v.begin(), v.end());
    return v;
  }();
  return ops;
}

}  // namespace glassbox
