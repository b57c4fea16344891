// One harness runs every operator on every backend against the CPU reference (the ggml way): random inputs,
// attribute sweeps, guard bytes around every output buffer, and a failure on a NaN/inf mismatch or a normalized
// error max|got - ref| / max|ref| above the backend's stated tolerance:
//   fp32 kernels 2e-5 (summation order only), TF32 tensor-core variants 5e-3 (10-bit mantissa operands).
// Backends under test: the CPU backend in another configuration (1 thread, the generic sgemm micro-kernel; for
// convolution, each registered CPU variant in turn), and every CUDA convolution variant and the CUDA kernels of every other operator where a GPU
// is present. Built as test_backends_emulated, the "CUDA backend" is the same kernel sources run by the CPU
// emulation of tests/cuda_emulation: their logic is checked in every CI run, the GPU run remains the real test.
// Input-gradients join when the backward pass exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>

#include "engine/error.h"
#include "kernels/element_formulas.h"
#include "kernels/kernels.h"
#include "kernels/null_backend.h"
#include "tests/support/einsum_axes.h"

namespace glassbox::kernels {
namespace {

struct Case {
  std::string name;
  std::vector<Shape> inputs;
  Shape output;
  std::function<void(Backend&, const std::vector<ConstView>&, View)> run;
  std::vector<int> positive = {};  // inputs drawn from [0.5, 1.5] (variances, divisors)
};

struct Participant {
  std::string label;
  std::function<std::unique_ptr<Backend>()> make;
  double tolerance = 2e-5;
};

constexpr int64_t kGuard = 64;                // floats of guard on each side of every output
constexpr uint32_t kSentinel = 0x7fbadbadu;  // a NaN payload no kernel writes

float sentinel() {
  float f;
  std::memcpy(&f, &kSentinel, 4);
  return f;
}

Tensor random_tensor(const Shape& s, bool positive, std::mt19937& rng) {
  Tensor t = Tensor::empty(s);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> pos(0.5f, 1.5f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = positive ? pos(rng) : normal(rng);
  return t;
}

struct Outcome {
  bool guards_intact = true;
  bool nonfinite_mismatch = false;
  double error = 0;  // max |got - ref| / max |ref| over finite elements
  std::string error_text;
};

// Runs `c` on `ref` (host) and on `dut` (its device) with the same inputs; compares.
Outcome run_case(const Case& c, Backend& ref, Backend& dut, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> host, device;
  std::vector<ConstView> host_views, device_views;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const bool positive = std::find(c.positive.begin(), c.positive.end(), int(i)) != c.positive.end();
    host.push_back(random_tensor(c.inputs[i], positive, rng));
    device.push_back(host.back().to(dut.device()));
  }
  for (auto& t : host) host_views.push_back(view_of(t));
  for (auto& t : device) device_views.push_back(view_of(t));

  Tensor want = Tensor::empty(c.output);
  c.run(ref, host_views, view_of(want));

  const int64_t n = numel(c.output);
  Tensor guarded = Tensor::empty({n + 2 * kGuard});
  std::fill(guarded.data<float>(), guarded.data<float>() + n + 2 * kGuard, sentinel());
  Tensor on_device = guarded.to(dut.device());
  View out{on_device.data<float>() + kGuard, c.output, dut.device()};
  try {
    c.run(dut, device_views, out);
    dut.synchronize();
  } catch (const Error& e) {
    Outcome o;
    o.error = INFINITY;
    o.error_text = e.what();
    return o;
  }
  const Tensor back = on_device.to(Device::cpu());
  const float* g = back.data<float>();
  Outcome o;
  for (int64_t i = 0; i < kGuard; ++i) {
    uint32_t lo, hi;
    std::memcpy(&lo, g + i, 4);
    std::memcpy(&hi, g + kGuard + n + i, 4);
    o.guards_intact = o.guards_intact && lo == kSentinel && hi == kSentinel;
  }
  double max_diff = 0, max_ref = 0;
  const float* w = want.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const float a = g[kGuard + i], b = w[i];
    if (std::isnan(a) != std::isnan(b) || ((std::isinf(a) || std::isinf(b)) && a != b)) {
      o.nonfinite_mismatch = true;
      continue;
    }
    if (!std::isfinite(b)) continue;
    max_diff = std::max(max_diff, std::fabs(double(a) - double(b)));
    max_ref = std::max(max_ref, std::fabs(double(b)));
  }
  o.error = max_ref > 0 ? max_diff / max_ref : max_diff;
  return o;
}

void expect_all(const std::vector<Case>& cases, const std::vector<Participant>& participants) {
  auto ref = make_cpu_backend(3);
  for (const Participant& p : participants) {
    std::unique_ptr<Backend> dut;
    try {
      dut = p.make();
    } catch (const Error& e) {
      if (std::string(e.what()).find("need cuDNN") == std::string::npos) throw;
      std::printf("[ skipped  ] %s: %s\n", p.label.c_str(), e.what());
      continue;
    }
    uint32_t seed = 1;
    for (const Case& c : cases) {
      SCOPED_TRACE(p.label + " / " + c.name);
      const Outcome o = run_case(c, *ref, *dut, seed++);
      if (o.error_text.find("need cuDNN") != std::string::npos) {
        std::printf("[ skipped  ] %s: %s\n", p.label.c_str(), o.error_text.c_str());
        break;
      }
      EXPECT_TRUE(o.error_text.empty()) << o.error_text;
      EXPECT_TRUE(o.guards_intact) << "a write outside the output buffer";
      EXPECT_FALSE(o.nonfinite_mismatch) << "NaN/inf where the reference has none (or the reverse)";
      EXPECT_LE(o.error, p.tolerance) << "normalized error";
    }
  }
}

// --- participants ------------------------------------------------------------------------------------------------

#if GLASSBOX_CUDA_EMULATION
bool has_cuda() { return true; }
const char* kCudaLabel = "cuda (emulated on the CPU)";
#else
bool has_cuda() { return cuda_device_count() > 0; }
const char* kCudaLabel = "cuda:0";
#endif

// The CPU in another configuration: 1 thread, the portable micro-kernel, and (for conv2d) a given variant.
Participant cpu_participant(const std::string& conv_variant = "") {
  return {"cpu (1 thread, generic sgemm" + (conv_variant.empty() ? "" : ", conv2d=" + conv_variant) + ")",
          [conv_variant] {
            auto b = make_cpu_backend(1);
            b->select_variant("sgemm", "generic_6x16");
            if (!conv_variant.empty()) b->select_variant("conv2d", conv_variant);
            return b;
          }};
}

std::vector<Participant> participants_for(const std::string& op) {
  std::vector<Participant> out;
  if (op == "conv2d") {  // every registered CPU convolution variant, by name (a new one joins without an edit here)
    for (const std::string& v : make_cpu_backend(1)->variants("conv2d")) out.push_back(cpu_participant(v));
    // The depthwise variants on each instruction set (the default session's, on 2 threads).
    for (const std::string& isa : make_cpu_backend(1)->variants("isa"))
      for (const std::string& v : make_cpu_backend(1)->variants("depthwise"))
        out.push_back({"cpu (2 threads, isa=" + isa + ", depthwise=" + v + ")", [isa, v] {
                         auto b = make_cpu_backend(2);
                         b->select_variant("isa", isa);
                         b->select_variant("depthwise", v);
                         return b;
                       }});
  } else {
    out.push_back(cpu_participant());
  }
  if (!has_cuda()) return out;
  if (op == "conv2d") {
    for (const std::string& v : make_cuda_backend(0)->variants("conv2d")) {
      const bool tf32 = v.find("tf32") != std::string::npos;
      out.push_back({std::string(kCudaLabel) + " conv2d=" + v,
                     [v] {
                       auto b = make_cuda_backend(0);
                       b->select_variant("conv2d", v);
                       return b;
                     },
                     tf32 ? 5e-3 : 2e-5});
    }
  } else {
    out.push_back({kCudaLabel, [] { return make_cuda_backend(0); }});
  }
  return out;
}

// --- cases -------------------------------------------------------------------------------------------------------

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d) {
  return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

Case conv_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t M, int64_t KH, int64_t KW, Conv2dAttrs a,
               bool bias) {
  const int64_t OH = out_size(H, KH, a.stride_h, a.pad_top, a.pad_bottom, a.dilation_h);
  const int64_t OW = out_size(W, KW, a.stride_w, a.pad_left, a.pad_right, a.dilation_w);
  char name[200];
  std::snprintf(name, sizeof name, "x[%ld,%ld,%ld,%ld] w[%ld,%ld,%ld,%ld] s%ldx%ld p%ld,%ld,%ld,%ld d%ldx%ld g%ld act%d%s",
                long(N), long(C), long(H), long(W), long(M), long(C / a.groups), long(KH), long(KW), long(a.stride_h),
                long(a.stride_w), long(a.pad_top), long(a.pad_left), long(a.pad_bottom), long(a.pad_right),
                long(a.dilation_h), long(a.dilation_w), long(a.groups), int(a.act.kind), bias ? " bias" : "");
  Case c{name, {{N, C, H, W}, {M, C / a.groups, KH, KW}}, {N, M, OH, OW}, nullptr};
  if (bias) c.inputs.push_back({M});
  c.run = [a, bias](Backend& b, const std::vector<ConstView>& in, View y) {
    b.conv2d(a, in[0], in[1], bias ? in[2] : ConstView{}, y);
  };
  return c;
}

Conv2dAttrs conv_attrs(int64_t s, int64_t pad, int64_t d = 1, int64_t groups = 1, Activation act = Activation::none) {
  Conv2dAttrs a;
  a.stride_h = a.stride_w = s;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
  a.dilation_h = a.dilation_w = d;
  a.groups = groups;
  a.act.kind = act;
  if (act == Activation::clip) a.act.alpha = 0.f, a.act.beta = 6.f;
  return a;
}

std::vector<Case> conv_cases() {
  std::vector<Case> cs;
  cs.push_back(conv_case(1, 3, 8, 8, 4, 3, 3, conv_attrs(1, 1), true));
  cs.push_back(conv_case(2, 3, 33, 31, 16, 7, 7, conv_attrs(2, 3, 1, 1, Activation::relu), true));  // stem, K = 147
  cs.push_back(conv_case(2, 64, 14, 14, 64, 1, 1, conv_attrs(1, 0), false));                          // 1x1
  cs.push_back(conv_case(3, 32, 28, 28, 160, 1, 1, conv_attrs(1, 0, 1, 1, Activation::relu), true));  // M > 128
  cs.push_back(conv_case(2, 24, 15, 15, 40, 3, 3, conv_attrs(2, 1, 1, 1, Activation::clip), true));
  cs.push_back(conv_case(1, 16, 10, 12, 20, 5, 5, conv_attrs(1, 4, 2), true));                         // dilation 2
  cs.push_back(conv_case(2, 8, 9, 9, 12, 3, 3, conv_attrs(1, 1, 1, 4), true));                         // 4 groups
  cs.push_back(conv_case(2, 32, 16, 16, 32, 3, 3, conv_attrs(1, 1, 1, 32, Activation::clip), true));   // depthwise
  cs.push_back(conv_case(1, 16, 17, 17, 32, 5, 5, conv_attrs(2, 2, 1, 16), false));                    // multiplier 2
  cs.push_back(conv_case(2, 40, 7, 7, 40, 3, 3, conv_attrs(1, 1, 1, 40), true));                       // 7x7 plane
  Conv2dAttrs same = conv_attrs(2, 0, 1, 1, Activation::relu);  // TF "same": pad only bottom/right
  same.pad_bottom = same.pad_right = 1;
  cs.push_back(conv_case(1, 8, 16, 16, 24, 3, 3, same, true));
  Conv2dAttrs dw_same = conv_attrs(2, 0, 1, 24);
  dw_same.pad_top = dw_same.pad_left = 1, dw_same.pad_bottom = dw_same.pad_right = 2;
  cs.push_back(conv_case(2, 24, 14, 14, 24, 5, 5, dw_same, true));
  Conv2dAttrs rect = conv_attrs(1, 0, 1, 1, Activation::leaky_relu);
  rect.stride_w = 2, rect.pad_left = 2, rect.act.alpha = 0.1f;
  cs.push_back(conv_case(1, 5, 6, 19, 7, 1, 5, rect, true));  // 1x5 kernel, unequal strides
  cs.push_back(conv_case(4, 130, 3, 3, 66, 3, 3, conv_attrs(1, 1, 1, 1, Activation::hard_swish), true));
  cs.push_back(conv_case(2, 3, 1, 1, 5, 1, 1, conv_attrs(1, 0, 1, 1, Activation::sigmoid), true));  // 1x1 image
  // 3x3, stride 1 (Winograd's shapes): odd output sizes (edge tiles), no padding and uneven padding, batches, C and
  // M that are multiples of nothing, a plane narrower than a tile.
  cs.push_back(conv_case(3, 7, 11, 9, 13, 3, 3, conv_attrs(1, 1, 1, 1, Activation::relu), true));
  cs.push_back(conv_case(2, 5, 10, 13, 6, 3, 3, conv_attrs(1, 0), false));
  Conv2dAttrs uneven = conv_attrs(1, 0, 1, 1, Activation::clip);
  uneven.pad_top = 2, uneven.pad_left = 1, uneven.pad_bottom = 0, uneven.pad_right = 2;
  cs.push_back(conv_case(2, 9, 6, 7, 11, 3, 3, uneven, true));
  cs.push_back(conv_case(1, 3, 2, 3, 4, 3, 3, conv_attrs(1, 1, 1, 1, Activation::sigmoid), true));
  cs.push_back(conv_case(1, 33, 17, 19, 47, 3, 3, conv_attrs(1, 1, 1, 1, Activation::hard_swish), true));
  return cs;
}

TEST(Backends, CudaIsPresent) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device: only the CPU configuration ran in the Backends tests";
  EXPECT_GE(make_cuda_backend(0)->variants("conv2d").size(), 5u);
}

TEST(Backends, Conv2d) { expect_all(conv_cases(), participants_for("conv2d")); }

TEST(Backends, Pool2d) {
  std::vector<Case> cs;
  auto pool = [&](Pool2dAttrs::Kind kind, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d, bool include,
                  int64_t H) {
    Pool2dAttrs a;
    a.kind = kind;
    a.kernel_h = a.kernel_w = k;
    a.stride_h = a.stride_w = s;
    a.pad_top = a.pad_left = p0;
    a.pad_bottom = a.pad_right = p1;
    a.dilation_h = a.dilation_w = d;
    a.count_include_pad = include;
    const int64_t O = out_size(H, k, s, p0, p1, d);
    cs.push_back({"pool k" + std::to_string(k) + " s" + std::to_string(s) + " p" + std::to_string(p0) + "," +
                      std::to_string(p1) + " d" + std::to_string(d) + (kind == Pool2dAttrs::Kind::max ? " max" : " avg") +
                      (include ? " incl" : ""),
                  {{2, 5, H, H}},
                  {2, 5, O, O},
                  [a](Backend& b, const std::vector<ConstView>& in, View y) { b.pool2d(a, in[0], y); }});
  };
  for (auto kind : {Pool2dAttrs::Kind::max, Pool2dAttrs::Kind::average}) {
    pool(kind, 3, 2, 1, 1, 1, false, 17);
    pool(kind, 2, 2, 0, 0, 1, false, 16);
    pool(kind, 3, 1, 1, 2, 2, false, 9);
    pool(kind, 3, 2, 0, 1, 1, true, 8);  // ceil-mode-like overhang
  }
  cs.push_back({"global average", {{3, 7, 5, 9}}, {3, 7, 1, 1},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.global_avg_pool(in[0], y); }});
  cs.push_back({"global average 56x56", {{2, 64, 56, 56}}, {2, 64, 1, 1},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.global_avg_pool(in[0], y); }});
  expect_all(cs, participants_for("pool2d"));
}

TEST(Backends, Pointwise) {
  std::vector<Case> cs;
  cs.push_back({"batchnorm", {{2, 6, 5, 7}, {6}, {6}, {6}, {6}}, {2, 6, 5, 7},
                [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.batchnorm(1e-5f, in[0], in[1], in[2], in[3], in[4], y);
                },
                {4}});
  const std::pair<Activation, const char*> acts[] = {
      {Activation::relu, "relu"}, {Activation::clip, "clip"}, {Activation::leaky_relu, "leaky_relu"},
      {Activation::sigmoid, "sigmoid"}, {Activation::hard_sigmoid, "hard_sigmoid"},
      {Activation::hard_swish, "hard_swish"}, {Activation::erf, "erf"}, {Activation::gelu, "gelu"},
      {Activation::gelu_tanh, "gelu_tanh"}, {Activation::sqrt, "sqrt"}, {Activation::pow, "pow"},
      {Activation::exp, "exp"}, {Activation::tanh, "tanh"}};
  for (auto [kind, name] : acts) {
    ActivationAttrs a;
    a.kind = kind;
    a.alpha = kind == Activation::clip ? -0.5f : kind == Activation::pow ? 2.f : 0.2f;
    a.beta = kind == Activation::clip ? 0.7f : 0.5f;
    cs.push_back({std::string("activation ") + name, {{3, 1000, 3}}, {3, 1000, 3},
                  [a](Backend& b, const std::vector<ConstView>& in, View y) { b.activation(a, in[0], y); },
                  kind == Activation::sqrt ? std::vector<int>{0} : std::vector<int>{}});
  }
  struct Bin {
    BinaryOp op;
    Shape a, b, y;
    Activation act;
  };
  const Bin bins[] = {
      {BinaryOp::add, {2, 8, 5, 5}, {2, 8, 5, 5}, {2, 8, 5, 5}, Activation::relu},  // residual Add + ReLU
      {BinaryOp::mul, {2, 8, 5, 5}, {2, 8, 1, 1}, {2, 8, 5, 5}, Activation::none},  // squeeze-excite scale
      {BinaryOp::sub, {8, 1, 1}, {2, 8, 5, 5}, {2, 8, 5, 5}, Activation::none},
      {BinaryOp::div, {3, 1, 4}, {1, 5, 1}, {3, 5, 4}, Activation::sigmoid},
      {BinaryOp::add, {1}, {7, 3}, {7, 3}, Activation::none},
  };
  for (const Bin& bn : bins) {
    ActivationAttrs act;
    act.kind = bn.act;
    cs.push_back({"binary " + std::to_string(int(bn.op)) + " " + shape_str(bn.a) + " " + shape_str(bn.b), {bn.a, bn.b},
                  bn.y,
                  [op = bn.op, act](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.binary(op, act, in[0], in[1], y);
                  },
                  bn.op == BinaryOp::div ? std::vector<int>{1} : std::vector<int>{}});
  }
  cs.push_back({"copy", {{5, 77}}, {5, 77}, [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.copy(in[0], y);
                }});
  expect_all(cs, participants_for("pointwise"));
}

TEST(Backends, GemmAndMatmul) {
  std::vector<Case> cs;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& cshape : {Shape{}, Shape{33}, Shape{17, 33}, Shape{1}}) {
        GemmAttrs a;
        a.trans_a = ta, a.trans_b = tb, a.alpha = 0.7f, a.beta = 1.3f;
        if (ta && tb) a.act.kind = Activation::relu;
        const int64_t M = 17, N = 33, K = 70;
        Case c{"gemm ta" + std::to_string(ta) + " tb" + std::to_string(tb) + " C" + shape_str(cshape),
               {ta ? Shape{K, M} : Shape{M, K}, tb ? Shape{N, K} : Shape{K, N}}, {M, N}, nullptr};
        const bool has_c = !cshape.empty();
        if (has_c) c.inputs.push_back(cshape);
        c.run = [a, has_c](Backend& b, const std::vector<ConstView>& in, View y) {
          b.gemm(a, in[0], in[1], has_c ? in[2] : ConstView{}, y);
        };
        cs.push_back(c);
      }
  GemmAttrs head;  // the classifier head: [batch, 2048] x [1000, 2048]^T + bias
  head.trans_b = true;
  cs.push_back({"gemm head", {{8, 2048}, {1000, 2048}, {1000}}, {8, 1000},
                [head](Backend& b, const std::vector<ConstView>& in, View y) { b.gemm(head, in[0], in[1], in[2], y); }});
  const Shape mm[][3] = {{{5, 7}, {7, 9}, {5, 9}},
                         {{2, 3, 5, 7}, {7, 4}, {2, 3, 5, 4}},
                         {{3, 1, 6, 8}, {4, 8, 2}, {3, 4, 6, 2}},
                         {{6, 1, 8}, {1, 8, 5}, {6, 1, 5}},  // torchvision's attention projection: [T, N, D] x W
                         {{130, 70}, {70, 140}, {130, 140}}};
  for (const auto& m : mm)
    cs.push_back({"matmul " + shape_str(m[0]) + " x " + shape_str(m[1]), {m[0], m[1]}, m[2],
                  [](Backend& b, const std::vector<ConstView>& in, View y) { b.matmul(in[0], in[1], y); }});
  expect_all(cs, participants_for("gemm"));
}

// Every reduction kind over leading, inner, trailing and all axes (fewer than 32 elements per output: the CUDA
// kernel's thread per output; 32 or more: its warp per output), forward and backward (y from the backend itself);
// log_sum on positive inputs. Max and min also on values with many ties (the first equal element takes dy).
const std::pair<ReduceKind, const char*> kReduceKinds[] = {
    {ReduceKind::mean, "mean"}, {ReduceKind::sum, "sum"}, {ReduceKind::l1, "l1"}, {ReduceKind::l2, "l2"},
    {ReduceKind::sum_square, "sum_square"}, {ReduceKind::max, "max"}, {ReduceKind::min, "min"},
    {ReduceKind::log_sum, "log_sum"}, {ReduceKind::log_sum_exp, "log_sum_exp"}};

TEST(Backends, Reductions) {
  struct R {
    Shape x;
    std::vector<int> axes;
  };
  const R shapes[] = {{{2, 6, 5, 7}, {2, 3}}, {{2, 6, 5, 7}, {1}},         {{2, 6, 5, 7}, {0, 2}},
                      {{2, 6, 5, 7}, {0, 1, 2, 3}}, {{4, 3, 49, 32}, {3}}, {{3, 1000}, {1}},
                      {{3, 40, 2}, {1}}};  // Swin V2's F.normalize: ReduceL2 over the last 32
  std::vector<Case> cs;
  for (const auto& [kind, name] : kReduceKinds)
    for (const R& r : shapes) {
      Shape kept = r.x;
      for (int a : r.axes) kept[a] = 1;
      const std::string label = std::string(name) + " " + shape_str(r.x) + " axes " +
                                shape_str(Shape(r.axes.begin(), r.axes.end()));
      const std::vector<int> positive = kind == ReduceKind::log_sum ? std::vector<int>{0} : std::vector<int>{};
      cs.push_back({"reduce " + label, {r.x}, kept,
                    [kind = kind, axes = r.axes](Backend& b, const std::vector<ConstView>& in, View y) {
                      b.reduce(kind, axes, in[0], y);
                    },
                    positive});
      cs.push_back({"reduce_backward " + label, {r.x, kept}, r.x,
                    [kind = kind, axes = r.axes, kept](Backend& b, const std::vector<ConstView>& in, View dx) {
                      Tensor y = Tensor::empty(kept, DType::f32, b.device());
                      b.reduce(kind, axes, in[0], view_of(y));
                      b.reduce_backward(kind, axes, in[0], view_of(y), in[1], dx);
                    },
                    positive});
    }
  for (ReduceKind kind : {ReduceKind::max, ReduceKind::min})
    cs.push_back({"reduce_backward ties " + std::to_string(int(kind)), {{2, 6, 1, 1}}, {2, 6, 5, 7},
                  [kind](Backend& b, const std::vector<ConstView>& in, View dx) {
                    std::vector<float> v(2 * 6 * 5 * 7);
                    for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 7) % 3);  // 0, 1, 2 many times
                    const Tensor x = Tensor::from_vector<float>({2, 6, 5, 7}, v).to(b.device());
                    Tensor y = Tensor::empty({2, 6, 1, 1}, DType::f32, b.device());
                    b.reduce(kind, {2, 3}, view_of(x), view_of(y));
                    b.reduce_backward(kind, {2, 3}, view_of(x), view_of(y), in[0], dx);
                  }});
  expect_all(cs, participants_for("reduce"));
}

using test::einsum_axes;
using test::einsum_roles;

struct EinsumSpec {
  std::string a, b, y;
  Shape sa, sb;
};
std::vector<EinsumSpec> einsum_specs() {
  return {
      {"BGHID", "BGHJD", "BGHIJ", {1, 4, 2, 49, 32}, {1, 4, 2, 49, 32}},  // MaxViT: q k^T
      {"BGHIJ", "BGHJD", "BGHID", {1, 4, 2, 49, 49}, {1, 4, 2, 49, 32}},  // MaxViT: attention v
      {"bhqd", "bhkd", "bhqk", {2, 3, 17, 8}, {2, 3, 19, 8}},
      {"ik", "kj", "ji", {33, 70}, {70, 17}},                 // y^T: m at unit output stride
      {"bij", "bjk", "ikb", {3, 5, 7}, {3, 7, 4}},             // no unit output stride on m or n
      {"ij", "jk", "k", {9, 13}, {13, 6}},                    // i summed, a lacks nothing, b lacks i
      {"i", "j", "ij", {40}, {30}},                           // outer product (K = 1)
      {"eij", "ejk", "eik", {1, 6, 8}, {5, 8, 3}},            // a broadcast batch label (size 1 in a)
      {"bmk", "kn", "bmn", {4, 130, 70}, {70, 140}},          // the batch folds into the rows
      {"abcd", "cdbe", "aeb", {3, 4, 5, 6}, {5, 6, 4, 7}},    // two contracted labels, permuted
      // 7 batch labels in opposite orders (none fuse): more than the CUDA launch's 6, the outer ones looped
      {"abcdefgij", "gfedcbajk", "abcdefgik", {2, 2, 2, 2, 2, 2, 2, 3, 4}, {2, 2, 2, 2, 2, 2, 2, 4, 5}},
  };
}

TEST(Backends, Einsum) {
  std::vector<Case> cs;
  for (const EinsumSpec& e : einsum_specs()) {
    Shape y;
    const std::vector<EinsumAxis> axes = einsum_axes(e.a, e.b, e.y, e.sa, e.sb, y);
    const std::string name = e.a + "," + e.b + "->" + e.y + " " + shape_str(e.sa) + " " + shape_str(e.sb);
    cs.push_back({"einsum " + name, {e.sa, e.sb}, y, [axes](Backend& b, const std::vector<ConstView>& in, View out) {
                    b.einsum(axes, in[0], in[1], out);
                  }});
    cs.push_back({"einsum dA " + name, {y, e.sb}, e.sa, [axes](Backend& b, const std::vector<ConstView>& in, View d) {
                    b.einsum(einsum_roles(axes, 1), in[0], in[1], d);
                  }});
    cs.push_back({"einsum dB " + name, {e.sa, y}, e.sb, [axes](Backend& b, const std::vector<ConstView>& in, View d) {
                    b.einsum(einsum_roles(axes, 2), in[0], in[1], d);
                  }});
  }
  expect_all(cs, participants_for("einsum"));
}

// Strided copies of x [2, 6, 5, 7] (strides 210, 35, 7, 1): transposes (ViT's [B, T, H, d] -> [B, H, T, d] and a
// reversal), a slice with steps and a negative step, the class-token pick x[:, 0] (Gather axis 1, scalar index),
// and a broadcast (step 0).
struct StridedCase {
  std::string name;
  Shape x, y;
  int64_t offset;
  std::vector<int64_t> steps;
};
std::vector<StridedCase> strided_cases() {
  return {{"transpose 0213", {2, 6, 5, 7}, {2, 5, 6, 7}, 0, {210, 7, 35, 1}},
          {"transpose 3210", {2, 6, 5, 7}, {7, 5, 6, 2}, 0, {1, 7, 35, 210}},
          {"transpose 2-D", {130, 70}, {70, 130}, 0, {1, 70}},
          {"slice 1:6:2, ::-1", {2, 6, 5, 7}, {2, 3, 5, 7}, 35 + 6, {210, 70, 7, -1}},
          {"gather axis 1 index 0", {2, 6, 5, 7}, {2, 5, 7}, 0, {210, 7, 1}},
          {"broadcast", {1, 6, 1, 7}, {2, 6, 5, 7}, 0, {0, 7, 0, 1}}};
}

TEST(Backends, Layout) {
  std::vector<Case> cs;
  for (int axis : {0, 1, 3})
    cs.push_back({"concat axis " + std::to_string(axis), {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
                  axis == 0 ? Shape{6, 3, 4, 5} : axis == 1 ? Shape{2, 9, 4, 5} : Shape{2, 3, 4, 15},
                  [axis](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.concat(axis, {in[0], in[1], in[2]}, y);
                  }});
  for (PadMode mode : {PadMode::constant, PadMode::reflect, PadMode::edge, PadMode::wrap}) {
    PadAttrs a;
    a.mode = mode;
    a.value = 0.25f;
    a.pads = {0, 1, 2, 3, 1, 0, 3, -1};  // begins, ends; a negative end crops
    cs.push_back({"pad mode " + std::to_string(int(mode)), {{2, 3, 5, 6}}, {3, 4, 10, 8},
                  [a](Backend& b, const std::vector<ConstView>& in, View y) { b.pad(a, in[0], y); }});
  }
  cs.push_back({"softmax last axis", {{4, 1000}}, {4, 1000},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.softmax(1, in[0], y); }});
  cs.push_back({"softmax inner axis", {{2, 10, 3, 4}}, {2, 10, 3, 4},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.softmax(1, in[0], y); }});
  for (const StridedCase& s : strided_cases())
    cs.push_back({"strided_copy " + s.name, {s.x}, s.y, [s](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.strided_copy(s.offset, s.steps, in[0], y);
                  }});
  for (const Shape& x : {Shape{4, 197, 192}, Shape{3, 5, 1000}, Shape{2, 7}})
    for (bool bias : {true, false})
      cs.push_back({"layer_norm " + shape_str(x) + (bias ? " bias" : ""), {x, {x.back()}, {x.back()}}, x,
                    [bias](Backend& b, const std::vector<ConstView>& in, View y) {
                      b.layer_norm(1e-6f, in[0], in[1], bias ? in[2] : ConstView{}, y);
                    }});
  expect_all(cs, participants_for("layout"));
}

// ---- backward kernels: the same harness, each case one gradient --------------------------------------------------

Case conv_backward_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t M, int64_t KH, int64_t KW, Conv2dAttrs a) {
  const int64_t OH = out_size(H, KH, a.stride_h, a.pad_top, a.pad_bottom, a.dilation_h);
  const int64_t OW = out_size(W, KW, a.stride_w, a.pad_left, a.pad_right, a.dilation_w);
  return {"conv2d_backward_data x[" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(H) + "," +
              std::to_string(W) + "] M" + std::to_string(M) + " k" + std::to_string(KH) + "x" + std::to_string(KW) +
              " s" + std::to_string(a.stride_h) + " g" + std::to_string(a.groups),
          {{N, M, OH, OW}, {M, C / a.groups, KH, KW}},
          {N, C, H, W},
          [a](Backend& b, const std::vector<ConstView>& in, View dx) { b.conv2d_backward_data(a, in[0], in[1], dx); }};
}

TEST(Backends, Backward) {
  std::vector<Case> cs;
  cs.push_back(conv_backward_case(2, 3, 9, 8, 5, 3, 3, conv_attrs(1, 1)));
  cs.push_back(conv_backward_case(1, 8, 15, 15, 12, 3, 3, conv_attrs(2, 1)));
  cs.push_back(conv_backward_case(1, 6, 10, 10, 4, 5, 5, conv_attrs(1, 4, 2)));
  cs.push_back(conv_backward_case(2, 8, 7, 7, 12, 3, 3, conv_attrs(1, 1, 1, 4)));
  cs.push_back(conv_backward_case(2, 16, 9, 9, 16, 3, 3, conv_attrs(2, 1, 1, 16)));  // depthwise
  cs.push_back(conv_backward_case(1, 64, 7, 7, 32, 1, 1, conv_attrs(1, 0)));
  for (auto kind : {Pool2dAttrs::Kind::max, Pool2dAttrs::Kind::average}) {
    Pool2dAttrs a;
    a.kind = kind;
    a.kernel_h = a.kernel_w = 3, a.stride_h = a.stride_w = 2, a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1;
    const int64_t O = out_size(11, 3, 2, 1, 1, 1);
    cs.push_back({std::string("pool2d_backward ") + (kind == Pool2dAttrs::Kind::max ? "max" : "average"),
                  {{2, 3, 11, 11}, {2, 3, O, O}}, {2, 3, 11, 11},
                  [a](Backend& b, const std::vector<ConstView>& in, View dx) { b.pool2d_backward(a, in[0], in[1], dx); }});
  }
  cs.push_back({"global_avg_pool_backward", {{2, 5, 1, 1}}, {2, 5, 6, 7},
                [](Backend& b, const std::vector<ConstView>& in, View dx) { b.global_avg_pool_backward(in[0], dx); }});
  cs.push_back({"batchnorm_backward", {{4}, {4}, {2, 4, 3, 3}}, {2, 4, 3, 3},
                [](Backend& b, const std::vector<ConstView>& in, View dx) {
                  b.batchnorm_backward(1e-5f, in[0], in[1], in[2], dx);
                },
                {1}});
  for (Activation kind : {Activation::relu, Activation::clip, Activation::leaky_relu, Activation::sigmoid,
                          Activation::hard_sigmoid, Activation::hard_swish, Activation::erf, Activation::gelu,
                          Activation::gelu_tanh, Activation::sqrt, Activation::pow, Activation::exp,
                          Activation::tanh})
    for (bool from_x : {true, false}) {
      ActivationAttrs a;
      a.kind = kind, a.alpha = kind == Activation::clip ? -0.5f : kind == Activation::pow ? 3.f : 0.2f;
      a.beta = kind == Activation::clip ? 0.7f : 0.5f;
      if (!from_x && !has_output_derivative(a)) continue;
      cs.push_back({"activation_backward " + std::to_string(int(kind)) + (from_x ? " x" : " y"), {{3, 50}, {3, 50}},
                    {3, 50}, [a, from_x](Backend& b, const std::vector<ConstView>& in, View dx) {
                      b.activation_backward(a, from_x ? in[0] : ConstView{}, from_x ? ConstView{} : in[0], in[1], dx,
                                            BackwardRule::gradient);
                    },
                    kind == Activation::sqrt ? std::vector<int>{0} : std::vector<int>{}});
    }
  for (Activation kind : {Activation::relu, Activation::clip, Activation::leaky_relu, Activation::sigmoid})
    for (BackwardRule rule : {BackwardRule::deconvnet, BackwardRule::guided}) {
      ActivationAttrs a;
      a.kind = kind, a.alpha = kind == Activation::clip ? -0.5f : 0.2f, a.beta = kind == Activation::clip ? 0.7f : 0.5f;
      cs.push_back({"activation_backward rule " + std::to_string(int(rule)) + " kind " + std::to_string(int(kind)),
                    {{3, 50}, {3, 50}}, {3, 50}, [a, rule](Backend& b, const std::vector<ConstView>& in, View dx) {
                      b.activation_backward(a, {}, in[0], in[1], dx, rule);
                    }});
    }
  const std::pair<Shape, Shape> shapes[] = {{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{1, 3, 1}, {2, 1, 4}}};
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div})
    for (const auto& [sa, sb] : shapes)
      for (int which : {0, 1}) {
        Shape y(3);
        for (size_t i = 0; i < 3; ++i) {
          const int64_t da = i + sa.size() >= 3 ? sa[i + sa.size() - 3] : 1, db = i + sb.size() >= 3 ? sb[i + sb.size() - 3] : 1;
          y[i] = std::max(da, db);
        }
        cs.push_back({"binary_backward " + std::to_string(int(op)) + " " + shape_str(sa) + " " + shape_str(sb) +
                          (which ? " db" : " da"),
                      {sa, sb, y}, which ? sb : sa,
                      [op, which](Backend& b, const std::vector<ConstView>& in, View d) {
                        View none{nullptr, which ? in[0].shape : in[1].shape, d.device};
                        b.binary_backward(op, in[0], in[1], in[2], which ? none : d, which ? d : none);
                      },
                      op == BinaryOp::div ? std::vector<int>{1} : std::vector<int>{}});
      }
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int which : {0, 1}) {
        GemmAttrs a;
        a.trans_a = ta, a.trans_b = tb, a.alpha = 0.7f;
        const int64_t M = 9, N = 70, K = 33;
        const Shape As = ta ? Shape{K, M} : Shape{M, K}, Bs = tb ? Shape{N, K} : Shape{K, N};
        cs.push_back({"gemm_backward ta" + std::to_string(ta) + " tb" + std::to_string(tb) + (which ? " dB" : " dA"),
                      {As, Bs, {M, N}}, which ? Bs : As,
                      [a, which](Backend& b, const std::vector<ConstView>& in, View d) {
                        View none{nullptr, which ? in[0].shape : in[1].shape, d.device};
                        b.gemm_backward(a, in[0], in[1], in[2], which ? none : d, which ? d : none);
                      }});
      }
  const Shape mm[][3] = {{{5, 7}, {7, 9}, {5, 9}}, {{2, 3, 5, 7}, {7, 4}, {2, 3, 5, 4}}, {{3, 1, 6, 8}, {4, 8, 2}, {3, 4, 6, 2}},
                         {{6, 1, 8}, {1, 8, 5}, {6, 1, 5}}};
  for (const auto& m : mm)
    for (int which : {0, 1})
      cs.push_back({"matmul_backward " + shape_str(m[0]) + " x " + shape_str(m[1]) + (which ? " db" : " da"),
                    {m[0], m[1], m[2]}, which ? m[1] : m[0],
                    [which](Backend& b, const std::vector<ConstView>& in, View d) {
                      View none{nullptr, which ? in[0].shape : in[1].shape, d.device};
                      b.matmul_backward(in[0], in[1], in[2], which ? none : d, which ? d : none);
                    }});
  for (int axis : {0, 1, 3})
    for (int which : {0, 1}) {
      Shape y = {2, 3, 4, 5}, x0 = {2, 3, 4, 5}, x1 = {2, 3, 4, 5};
      x1[axis] = 2, y[axis] += 2;
      cs.push_back({"concat_backward axis " + std::to_string(axis) + " input " + std::to_string(which), {y},
                    which ? x1 : x0, [axis, which, x0, x1](Backend& b, const std::vector<ConstView>& in, View d) {
                      std::vector<View> dxs = {View{nullptr, x0, d.device}, View{nullptr, x1, d.device}};
                      dxs[which] = d;
                      b.concat_backward(axis, in[0], dxs);
                    }});
    }
  for (PadMode mode : {PadMode::constant, PadMode::reflect, PadMode::edge, PadMode::wrap}) {
    PadAttrs a;
    a.mode = mode;
    a.pads = {0, 1, 2, 3, 1, 0, 3, -1};
    cs.push_back({"pad_backward mode " + std::to_string(int(mode)), {{3, 4, 10, 8}}, {2, 3, 5, 6},
                  [a](Backend& b, const std::vector<ConstView>& in, View dx) { b.pad_backward(a, in[0], dx); }});
  }
  cs.push_back({"softmax_backward last axis", {{4, 100}, {4, 100}}, {4, 100},
                [](Backend& b, const std::vector<ConstView>& in, View dx) { b.softmax_backward(1, in[0], in[1], dx); }});
  cs.push_back({"softmax_backward inner axis", {{2, 10, 3, 4}, {2, 10, 3, 4}}, {2, 10, 3, 4},
                [](Backend& b, const std::vector<ConstView>& in, View dx) { b.softmax_backward(1, in[0], in[1], dx); }});
  for (const StridedCase& s : strided_cases())
    cs.push_back({"strided_copy_backward " + s.name, {s.y}, s.x, [s](Backend& b, const std::vector<ConstView>& in, View dx) {
                    b.strided_copy_backward(s.offset, s.steps, in[0], dx);
                  }});
  for (const Shape& x : {Shape{4, 197, 192}, Shape{3, 5, 1000}, Shape{2, 7}})
    cs.push_back({"layer_norm_backward " + shape_str(x), {x, {x.back()}, x}, x,
                  [](Backend& b, const std::vector<ConstView>& in, View dx) {
                    b.layer_norm_backward(1e-5f, in[0], in[1], in[2], dx);
                  }});
  expect_all(cs, participants_for("backward"));
}

TEST(Backends, Explain) {
  std::vector<Case> cs;
  for (CamMethod m : {CamMethod::cam, CamMethod::gradcam, CamMethod::gradcampp, CamMethod::xgradcam,
                      CamMethod::layercam, CamMethod::hirescam, CamMethod::gradcam_elementwise,
                      CamMethod::smoothgradcampp}) {
    const int S = m == CamMethod::smoothgradcampp ? 3 : 1;
    cs.push_back({"cam " + std::to_string(int(m)), {{2 * S, 6, 7, 7}, {2 * S, 6, 7, 7}}, {2, 7, 7},
                  [m, S](Backend& b, const std::vector<ConstView>& in, View map) { b.cam(m, S, in[0], in[1], map); },
                  {0}});  // activations after a ReLU are positive
  }
  for (CamMethod m : {CamMethod::gradcampp, CamMethod::xgradcam, CamMethod::layercam}) {  // K = 3 maps per image
    cs.push_back({"cam K=3 " + std::to_string(int(m)), {{2, 6, 7, 7}, {6, 6, 7, 7}}, {6, 7, 7},
                  [m](Backend& b, const std::vector<ConstView>& in, View map) { b.cam(m, 1, in[0], in[1], map); },
                  {0}});
  }
  cs.push_back({"cam smoothgradcampp S=2 K=3", {{4, 6, 7, 7}, {12, 6, 7, 7}}, {6, 7, 7},
                [](Backend& b, const std::vector<ConstView>& in, View map) {
                  b.cam(CamMethod::smoothgradcampp, 2, in[0], in[1], map);
                },
                {0}});
  cs.push_back({"fuse_layer_maps", {{4, 9, 11}, {4, 9, 11}}, {4, 9, 11},
                [](Backend& b, const std::vector<ConstView>& in, View fused) {
                  b.fuse_layer_maps(2.f, true, in[1], fused);
                  b.fuse_layer_maps(3.f, false, in[0], fused);
                },
                {1}});
  // Targets: the top 4 of logits with ties (each value three times), as logits and as probabilities; and given
  // classes. The output holds the seeds [N*K, C], then the classes [N*K].
  for (bool probability : {false, true})
    for (int K : {1, 4}) {
      const int64_t N = 3, C = 300;
      cs.push_back({"target_seeds K=" + std::to_string(K) + (probability ? " probability" : " logit"), {{N, C}},
                    {N * K * C + N * K}, [=](Backend& b, const std::vector<ConstView>&, View out) {
                      Tensor host = Tensor::empty({N, C});
                      for (int64_t i = 0; i < N * C; ++i) host.data<float>()[i] = float((i * 37) % 101 / 3) * 0.1f;
                      const Tensor logits = host.to(b.device());
                      View seeds{out.data, {N * K, C}, out.device}, classes{out.data + N * K * C, {N * K}, out.device};
                      b.target_seeds(probability, view_of(logits), {}, seeds, classes);
                    }});
    }
  cs.push_back({"target_seeds given", {{3, 50}}, {3 * 50 + 3}, [](Backend& b, const std::vector<ConstView>& in, View out) {
                  Tensor given = Tensor::empty({3});
                  given.data<float>()[0] = 7, given.data<float>()[1] = 0, given.data<float>()[2] = 49;
                  Tensor on_device = given.to(b.device());
                  View seeds{out.data, {3, 50}, out.device}, classes{out.data + 150, {3}, out.device};
                  b.target_seeds(true, in[0], view_of(on_device), seeds, classes);
                }});
  for (bool peak : {false, true})
    cs.push_back({std::string("channel_seed") + (peak ? " peak" : " map"), {{3, 4, 17, 19}}, {3, 4, 17, 19},
                  [peak](Backend& b, const std::vector<ConstView>& in, View y) { b.channel_seed(peak, 2, in[0], y); }});
  cs.push_back({"channel_abs_max", {{3, 4, 5, 7}}, {3, 5, 7},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.channel_abs_max(in[0], y); }});
  cs.push_back({"repeat_rows", {{3, 5, 4}}, {9, 5, 4},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.repeat_rows(in[0], y); }});
  cs.push_back({"noisy_copies", {{2, 3, 8, 8}}, {10, 3, 8, 8},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.noisy_copies(0.2f, 7, in[0], y); }});
  cs.push_back({"resize_bilinear up", {{2, 7, 5}}, {2, 32, 29},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.resize_bilinear(in[0], y); }});
  cs.push_back({"resize_bilinear down", {{1, 40, 40}}, {1, 13, 9},
                [](Backend& b, const std::vector<ConstView>& in, View y) { b.resize_bilinear(in[0], y); }});
  cs.push_back({"normalize_minmax", {{3, 500}}, {3, 500}, [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.copy(in[0], y);
                  b.normalize_minmax(y);
                }});
  // Attention explanations: head fusion, discarding (random values; quantized values with many ties, zeros and the
  // smallest value at entry (0, 0); ViT-B/16's 197 tokens), rollout matrices.
  for (HeadFusion f : {HeadFusion::mean, HeadFusion::max, HeadFusion::min})
    cs.push_back({"fuse_heads " + std::to_string(int(f)), {{3, 4, 11, 11}}, {3, 11, 11},
                  [f](Backend& b, const std::vector<ConstView>& in, View y) { b.fuse_heads(f, in[0], y); }});
  for (float ratio : {0.f, 0.3f, 0.5f, 0.9f, 1.f})
    cs.push_back({"discard_smallest " + std::to_string(ratio), {{3, 13, 13}}, {3, 13, 13},
                  [ratio](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.copy(in[0], y);
                    b.discard_smallest(ratio, y);
                  },
                  {0}});
  for (float ratio : {0.25f, 0.6f})
    cs.push_back({"discard_smallest ties " + std::to_string(ratio), {{1}}, {2, 9, 9},
                  [ratio](Backend& b, const std::vector<ConstView>&, View y) {
                    std::vector<float> v(2 * 81);
                    for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 7) % 5) * 0.25f;  // 0, 0.25, ... 1
                    v[0] = 0.f, v[81] = -0.f;
                    Tensor x = Tensor::from_vector<float>({2, 9, 9}, v).to(b.device());
                    b.copy(view_of(x), y);
                    b.discard_smallest(ratio, y);
                  }});
  cs.push_back({"discard_smallest 197 tokens", {{1, 197, 197}}, {1, 197, 197},
                [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.copy(in[0], y);
                  b.discard_smallest(0.9f, y);
                },
                {0}});
  for (bool normalize : {false, true})
    for (int64_t T : {17, 197})
      cs.push_back({std::string("rollout_step ") + (normalize ? "normalized " : "plus identity ") + std::to_string(T),
                    {{2, T, T}}, {2, T, T},
                    [normalize](Backend& b, const std::vector<ConstView>& in, View y) {
                      b.copy(in[0], y);
                      b.rollout_step(normalize, y);
                    },
                    {0}});
  // The chains explain/attention.cpp runs: gradient-weighted rollout over two blocks for K = 2 targets per image
  // (max(G * A, 0) with the targets broadcast, fused heads, I + Abar, the rollout product), and attention rollout
  // with discarding; the class token's row on a 4 x 4 grid (prefix 1) by strided_copy, upsampled and normalized.
  for (bool gradient : {false, true})
    cs.push_back({std::string("attention chain ") + (gradient ? "grad_rollout" : "rollout"),
                  {{2, 3, 17, 17}, {4, 3, 17, 17}, {2, 3, 17, 17}, {4, 3, 17, 17}}, {4, 12, 12},
                  [gradient](Backend& b, const std::vector<ConstView>& in, View y) {
                    const int64_t N = 2, K = 2, T = 17, X = 3 * T * T, M = gradient ? N * K : N;
                    auto scratch = [&](const Shape& s) { return Tensor::empty(s, DType::f32, b.device()); };
                    Tensor product = scratch({M, 3, T, T}), fused = scratch({M, T, T}), R = scratch({M, T, T}),
                           next = scratch({M, T, T}), small = scratch({M, 4, 4}), maps = scratch({N * K, 4, 4});
                    for (int block = 0; block < 2; ++block) {
                      const ConstView A = in[2 * block], G = in[2 * block + 1];
                      if (gradient) {
                        b.binary(BinaryOp::mul, {Activation::relu}, {A.data, {N, 1, X}, A.device},
                                 {G.data, {N, K, X}, G.device}, {product.data<float>(), {N, K, X}, y.device});
                        b.fuse_heads(HeadFusion::mean, view_of(product), view_of(fused));
                        b.rollout_step(false, view_of(fused));
                      } else {
                        b.fuse_heads(HeadFusion::max, A, view_of(fused));
                        b.discard_smallest(0.5f, view_of(fused));
                        b.rollout_step(true, view_of(fused));
                      }
                      if (block == 0) b.copy(view_of(fused), view_of(R));
                      else b.matmul(view_of(fused), view_of(R), view_of(next)), b.copy(view_of(next), view_of(R));
                    }
                    b.strided_copy(1, {T * T, 4, 1}, view_of(R), view_of(small));
                    if (gradient) b.copy(view_of(small), view_of(maps));
                    else b.repeat_rows(view_of(small), view_of(maps));
                    b.resize_bilinear(view_of(maps), y);
                    b.normalize_minmax(y);
                  },
                  {0, 2}});
  expect_all(cs, participants_for("explain"));
}

// Host values (indices, classes, logits with NaN or large values) on a backend's device.
Tensor on_device(Backend& b, const Shape& shape, const std::vector<float>& values) {
  return Tensor::from_vector<float>(shape, values).to(b.device());
}

TEST(Backends, Perturbation) {
  std::vector<Case> cs;
  cs.push_back({"row_ranges", {{5, 3, 7, 9}}, {5, 2},
                [](Backend& b, const std::vector<ConstView>& in, View r) { b.row_ranges(in[0], r); }});
  cs.push_back({"row_ranges long rows", {{3, 1000}}, {3, 2},
                [](Backend& b, const std::vector<ConstView>& in, View r) { b.row_ranges(in[0], r); }});
  // NaN first in row 0, last in row 1; +inf in row 2; row 3 all -inf; row 4 plain.
  cs.push_back({"row_ranges NaN and inf", {}, {5, 2}, [](Backend& b, const std::vector<ConstView>&, View r) {
                  const int64_t R = 5, L = 300;
                  std::vector<float> v(R * L);
                  for (int64_t i = 0; i < R * L; ++i) v[i] = float((i * 37) % 101) * 0.1f - 5.f;
                  v[0] = NAN, v[2 * L - 1] = NAN, v[2 * L + 17] = INFINITY;
                  for (int64_t i = 3 * L; i < 4 * L; ++i) v[i] = -INFINITY;
                  const Tensor x = on_device(b, {R, L}, v);
                  b.row_ranges(view_of(x), r);
                }});
  // Indices in range, repeated, negative, = R, far out, NaN and 1e30 (zero rows).
  cs.push_back({"gather_rows", {{6, 3, 4, 5}}, {10, 3, 4, 5},
                [](Backend& b, const std::vector<ConstView>& in, View y) {
                  const Tensor index = on_device(b, {10}, {5, 0, -1, 6, 2, 2, 100, 3, NAN, 1e30f});
                  b.gather_rows(in[0], view_of(index), y);
                }});
  for (float noise_std : {0.f, 0.3f})
    cs.push_back({std::string("score_inputs") + (noise_std ? " noise" : ""), {{3, 13, 17}, {5, 13, 17}},
                  {5, 3, 13, 17}, [noise_std](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.score_inputs(noise_std ? 0.7f : 1.f, noise_std, 9, noise_std ? 12345 : 0, in[0], in[1], y);
                  }});
  // Scores [K, T] pre-filled (input 1), written at column 2, then accumulated at overlapping column 4 and at the
  // last columns (14 + M = T). Classes in range, = C, negative, repeated, far out, NaN.
  for (bool probability : {false, true}) {
    cs.push_back({std::string("target_scores accumulate") + (probability ? " probability" : " logit"),
                  {{6, 50}, {9, 20}}, {9, 20}, [probability](Backend& b, const std::vector<ConstView>& in, View s) {
                    const Tensor classes = on_device(b, {9}, {3, 0, 49, 50, -1, 7, 7, 1e9f, NAN});
                    b.copy(in[1], s);
                    b.target_scores(probability, 1.f, false, in[0], view_of(classes), 2, s);
                    b.target_scores(probability, 0.5f, true, in[0], view_of(classes), 4, s);
                    b.target_scores(probability, -2.f, true, in[0], view_of(classes), 14, s);
                  }});
    // Logits up to 120 (exp overflows float without the row maximum subtracted), C > the block size.
    cs.push_back({std::string("target_scores large logits") + (probability ? " probability" : " logit"), {},
                  {4, 7}, [probability](Backend& b, const std::vector<ConstView>&, View s) {
                    const int64_t M = 7, C = 1000;
                    std::vector<float> v(M * C);
                    for (int64_t i = 0; i < M * C; ++i) v[i] = float((i * 37) % 101) * 1.5f - 30.f;
                    const Tensor logits = on_device(b, {M, C}, v);
                    const Tensor classes = on_device(b, {4}, {0, 999, 500, 123});
                    b.target_scores(probability, 1.f, false, view_of(logits), view_of(classes), 0, s);
                  }});
  }
  // Channels in range, = C, negative, repeated, NaN.
  cs.push_back({"ablate_channels", {{6, 5, 7}}, {8, 6, 5, 7},
                [](Backend& b, const std::vector<ConstView>& in, View y) {
                  const Tensor channels = on_device(b, {8}, {0, 5, -1, 6, 3, 3, 2, NAN});
                  b.ablate_channels(in[0], view_of(channels), y);
                }});
  // Every position of a 5 x 6 map (corners and borders), the positions from 7 to the last corner, and maps one
  // row or one column wide.
  for (bool gaussian : {false, true}) {
    const std::string kind = gaussian ? " gaussian" : " one-hot";
    cs.push_back({"spatial_masked_copies all" + kind, {{4, 5, 6}}, {30, 4, 5, 6},
                  [gaussian](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.spatial_masked_copies(gaussian, 0, in[0], y);
                  }});
    cs.push_back({"spatial_masked_copies first 7" + kind, {{4, 5, 6}}, {23, 4, 5, 6},
                  [gaussian](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.spatial_masked_copies(gaussian, 7, in[0], y);
                  }});
    cs.push_back({"spatial_masked_copies one row" + kind, {{3, 1, 4}}, {3, 3, 1, 4},
                  [gaussian](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.spatial_masked_copies(gaussian, 1, in[0], y);
                  }});
    cs.push_back({"spatial_masked_copies one column" + kind, {{2, 4, 1}}, {4, 2, 4, 1},
                  [gaussian](Backend& b, const std::vector<ConstView>& in, View y) {
                    b.spatial_masked_copies(gaussian, 0, in[0], y);
                  }});
  }
  // H, W not multiples of the grid; multiples; a 64-bit first mask; a 1 x 1 grid; an image smaller than the grid.
  struct Rise {
    Shape shape;
    int64_t cells;
    uint64_t first;
    float probability;
  };
  for (const Rise& r : {Rise{{6, 13, 17}, 4, 3, 0.5f}, Rise{{3, 16, 16}, 4, 0, 0.3f},
                        Rise{{4, 9, 30}, 7, uint64_t(1) << 40, 0.6f}, Rise{{2, 5, 5}, 1, 5, 0.5f},
                        Rise{{3, 3, 3}, 5, 2, 0.5f}})
    cs.push_back({"rise_masks " + shape_str(r.shape) + " cells " + std::to_string(r.cells), {}, r.shape,
                  [r](Backend& b, const std::vector<ConstView>&, View y) {
                    b.rise_masks(11, r.first, r.cells, r.probability, y);
                  }});
  expect_all(cs, participants_for("explain"));
}

// Explanation quality metrics: pixel ranks of random maps, of maps with many ties (values from 5 levels), NaN and
// infinities; deletion / insertion copies from step 0 (nothing moved), across the end (everything moved) and with
// ranks from rank_pixels of random maps.
TEST(Backends, Metrics) {
  std::vector<Case> cs;
  cs.push_back({"rank_pixels random", {{3, 9, 11}}, {3, 9, 11},
                [](Backend& b, const std::vector<ConstView>& in, View r) { b.rank_pixels(in[0], r); }});
  cs.push_back({"rank_pixels ties NaN inf", {}, {4, 300}, [](Backend& b, const std::vector<ConstView>&, View r) {
                  const int64_t R = 4, L = 300;
                  std::vector<float> v(R * L);
                  for (int64_t i = 0; i < R * L; ++i) v[i] = float((i * 37) % 5) - 2.f;
                  v[3] = NAN, v[L + 5] = NAN, v[L + 9] = NAN, v[2 * L + 7] = INFINITY, v[2 * L + 8] = -INFINITY;
                  for (int64_t i = 3 * L; i < 4 * L; ++i) v[i] = 0.5f;  // one constant map: ranks = indices
                  const Tensor x = on_device(b, {R, L}, v);
                  b.rank_pixels(view_of(x), r);
                }});
  struct Copies {
    int64_t first, per_step, M;
  };
  for (const Copies& c : {Copies{0, 7, 5}, Copies{3, 11, 4}, Copies{0, 1, 9}, Copies{20, 13, 3}})
    cs.push_back({"ranked_copies first " + std::to_string(c.first) + " per step " + std::to_string(c.per_step),
                  {{3, 6, 7}, {3, 6, 7}, {6, 7}}, {c.M, 3, 6, 7},
                  [c](Backend& b, const std::vector<ConstView>& in, View y) {
                    Tensor ranks = Tensor::empty({6, 7}).to(b.device());
                    b.rank_pixels(in[2], view_of(ranks));
                    b.ranked_copies(c.first, c.per_step, in[0], in[1], view_of(ranks), y);
                  }});
  expect_all(cs, participants_for("explain"));
}

// Activation maximization: affine resampling (rotation, scale, shifts far outside the image: reflected taps) and
// its transpose, the total variation gradient (accumulated), Adam (two steps), scale_add, unit seeds and dot.
std::vector<float> affine_params(int64_t N) {
  std::vector<float> p;
  for (int64_t n = 0; n < N; ++n) {
    const float angle = 0.3f * float(n) - 0.2f, scale = 1.f + 0.1f * float(n), tx = 3.5f * float(n) - 2.25f;
    p.insert(p.end(), {scale * std::cos(angle), -scale * std::sin(angle), tx, scale * std::sin(angle),
                       scale * std::cos(angle), -1.75f - 9.f * float(n)});
  }
  return p;
}

TEST(Backends, Ascent) {
  std::vector<Case> cs;
  const Shape sizes[][2] = {{{3, 2, 13, 11}, {3, 2, 13, 11}}, {{2, 3, 12, 16}, {2, 3, 7, 9}}};
  for (const auto& sz : sizes) {
    const Shape in = sz[0], out = sz[1];
    cs.push_back({"affine_resample " + shape_str(in) + " -> " + shape_str(out), {in}, out,
                  [N = in[0]](Backend& b, const std::vector<ConstView>& x, View y) {
                    const Tensor params = on_device(b, {N, 6}, affine_params(N));
                    b.affine_resample(view_of(params), x[0], y);
                  }});
    cs.push_back({"affine_resample_backward " + shape_str(out) + " -> " + shape_str(in), {out}, in,
                  [N = in[0]](Backend& b, const std::vector<ConstView>& dy, View dx) {
                    const Tensor params = on_device(b, {N, 6}, affine_params(N));
                    b.affine_resample_backward(view_of(params), dy[0], dx);
                  }});
  }
  for (const Shape& s : {Shape{2, 3, 9, 10}, Shape{1, 1, 1, 5}})
    cs.push_back({"tv_gradient " + shape_str(s), {s, s}, s, [](Backend& b, const std::vector<ConstView>& in, View dx) {
                    b.copy(in[1], dx);
                    b.tv_gradient(-0.7f, in[0], dx);
                  }});
  const int64_t n = 1000;
  cs.push_back({"adam_step", {{n}, {n}, {n}, {n}}, {3 * n}, [n](Backend& b, const std::vector<ConstView>& in, View out) {
                  View m{out.data, {n}, out.device}, v{out.data + n, {n}, out.device}, p{out.data + 2 * n, {n}, out.device};
                  b.copy(in[1], m), b.copy(in[2], v), b.copy(in[3], p);
                  b.adam_step(0.05f, 0.9f, 0.999f, 1e-8f, 1, in[0], m, v, p);
                  b.adam_step(0.05f, 0.9f, 0.999f, 1e-8f, 7, in[0], m, v, p);
                },
                {2}});
  cs.push_back({"scale_add", {{7, 33}, {7, 33}}, {7, 33}, [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.copy(in[1], y);
                  b.scale_add(-0.3f, in[0], 0.8f, 0.25f, y);
                  b.scale_add(2.f, in[0], 1.f, 0.f, y);
                }});
  cs.push_back({"scale_add overwrite", {{5, 9}}, {5, 9}, [](Backend& b, const std::vector<ConstView>& in, View y) {
                  b.scale_add(0.f, {}, 0.f, 1.5f, y);  // y's guard-filled NaN contents are not read
                  b.scale_add(3.f, in[0], 0.f, 0.f, y);
                }});
  cs.push_back({"unit_seed", {{3, 4, 5, 6}}, {3, 4, 5, 6}, [](Backend& b, const std::vector<ConstView>& in, View s) {
                  b.copy(in[0], s);
                  b.unit_seed(1, 2, -1, 3.f, s);
                  b.unit_seed(2, 3, 17, -2.f, s);
                  b.unit_seed(0, 0, 0, 0.5f, s);
                }});
  cs.push_back({"dot", {{1000}, {1000}, {1}}, {1}, [](Backend& b, const std::vector<ConstView>& in, View out) {
                  b.copy(in[2], out);
                  b.dot(0.5f, true, in[0], in[1], out);
                  b.dot(-2.f, true, in[1], in[1], out);
                }});
  expect_all(cs, participants_for("ascent"));
}

// The backward of affine_resample is its transpose: <A x, y> = <x, A^T y>, sums in float64; the identity map copies.
TEST(Backends, AffineResampleAdjoint) {
  auto b = make_cpu_backend(2);
  std::mt19937 rng(5);
  for (const auto& sz : {std::pair<Shape, Shape>{{3, 2, 13, 11}, {3, 2, 13, 11}}, {{2, 3, 12, 16}, {2, 3, 7, 9}}}) {
    const Tensor x = random_tensor(sz.first, false, rng), y = random_tensor(sz.second, false, rng);
    const Tensor params = Tensor::from_vector<float>({sz.first[0], 6}, affine_params(sz.first[0]));
    Tensor ax = Tensor::empty(sz.second), aty = Tensor::empty(sz.first);
    b->affine_resample(view_of(params), view_of(x), view_of(ax));
    b->affine_resample_backward(view_of(params), view_of(y), view_of(aty));
    double lhs = 0, rhs = 0, scale = 0;
    for (int64_t i = 0; i < y.numel(); ++i) lhs += double(ax.data<float>()[i]) * double(y.data<float>()[i]);
    for (int64_t i = 0; i < x.numel(); ++i) {
      rhs += double(x.data<float>()[i]) * double(aty.data<float>()[i]);
      scale += std::fabs(double(x.data<float>()[i]) * double(aty.data<float>()[i]));
    }
    EXPECT_LE(std::fabs(lhs - rhs), 1e-6 * scale) << lhs << " vs " << rhs;
  }
  const Shape s = {2, 3, 6, 7};
  const Tensor x = random_tensor(s, false, rng);
  const Tensor id = Tensor::from_vector<float>({2, 6}, {1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0});
  Tensor y = Tensor::empty(s);
  b->affine_resample(view_of(id), view_of(x), view_of(y));
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(y.data<float>()[i], x.data<float>()[i]);
  // A shift by (2, -1) reads x[i + 1, j - 2] reflected (ONNX Pad reflect: ... 2 1 [0 1 2 ...]).
  const Tensor shift = Tensor::from_vector<float>({2, 6}, {1, 0, -2, 0, 1, 1, 1, 0, -2, 0, 1, 1});
  b->affine_resample(view_of(shift), view_of(x), view_of(y));
  auto reflect = [](int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); };
  for (int64_t p = 0; p < 2 * 3; ++p)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 7; ++j)
        ASSERT_EQ(y.data<float>()[(p * 6 + i) * 7 + j],
                  x.data<float>()[(p * 6 + reflect(i + 1, 6)) * 7 + reflect(j - 2, 7)]);
}

// ONNX Resize of H and W: every mode, rounding and coordinate transform, on upsampling and downsampling with integer
// and non-integer scales (out = floor(in * scale)), scales from sizes (out / in), and outputs one pixel wide (the
// special cases of pytorch_half_pixel and align_corners); forward and backward (the CUDA backward gathers, the CPU
// one scatters).
struct ResizeShape {
  Shape x;
  int64_t OH, OW;
  float scale_h, scale_w;
};
std::vector<ResizeShape> resize_shapes() {
  return {{{2, 3, 5, 7}, 10, 14, 2.f, 2.f},           // x2
          {{2, 3, 5, 7}, 11, 16, 2.2f, 2.3f},         // non-integer up
          {{1, 2, 17, 13}, 6, 5, 0.37f, 0.4f},        // non-integer down
          {{1, 2, 16, 12}, 8, 4, 0.5f, 1.f / 3.f},    // integer down
          {{1, 3, 6, 9}, 13, 4, 13.f / 6.f, 4.f / 9.f},  // sizes: scale = out / in, up in H, down in W
          {{1, 2, 4, 5}, 1, 3, 0.25f, 0.6f}};         // one output row
}
std::vector<Resize2dAttrs> resize_attr_sweep() {
  std::vector<Resize2dAttrs> v;
  for (ResizeCoordinates m : {ResizeCoordinates::half_pixel, ResizeCoordinates::pytorch_half_pixel,
                              ResizeCoordinates::align_corners, ResizeCoordinates::asymmetric,
                              ResizeCoordinates::half_pixel_symmetric}) {
    for (ResizeNearest r : {ResizeNearest::round_prefer_floor, ResizeNearest::round_prefer_ceil, ResizeNearest::floor,
                            ResizeNearest::ceil})
      v.push_back({ResizeMode::nearest, m, r});
    v.push_back({ResizeMode::linear, m});
  }
  return v;
}
std::string resize_name(const Resize2dAttrs& a, const ResizeShape& s) {
  return std::string(a.mode == ResizeMode::linear ? "linear" : "nearest " + std::to_string(int(a.nearest))) +
         " coordinates " + std::to_string(int(a.coordinates)) + " " + shape_str(s.x) + " -> " +
         std::to_string(s.OH) + "x" + std::to_string(s.OW);
}

TEST(Backends, Resize2d) {
  std::vector<Case> cs;
  for (const ResizeShape& s : resize_shapes())
    for (Resize2dAttrs a : resize_attr_sweep()) {
      a.scale_h = s.scale_h, a.scale_w = s.scale_w;
      const Shape y = {s.x[0], s.x[1], s.OH, s.OW};
      cs.push_back({"resize2d " + resize_name(a, s), {s.x}, y,
                    [a](Backend& b, const std::vector<ConstView>& in, View out) { b.resize2d(a, in[0], out); }});
      cs.push_back({"resize2d_backward " + resize_name(a, s), {y}, s.x,
                    [a](Backend& b, const std::vector<ConstView>& in, View dx) {
                      b.resize2d_backward(a, in[0], dx);
                    }});
    }
  expect_all(cs, participants_for("resize2d"));
}

// The backward of resize2d is its transpose: <R x, y> = <x, R^T y> (sums in float64), on every case above; nearest
// x2 (asymmetric, floor: PyTorch's export) repeats each pixel in a 2 x 2 block.
TEST(Backends, Resize2dAdjoint) {
  auto b = make_cpu_backend(2);
  std::mt19937 rng(11);
  for (const ResizeShape& s : resize_shapes())
    for (Resize2dAttrs a : resize_attr_sweep()) {
      SCOPED_TRACE(resize_name(a, s));
      a.scale_h = s.scale_h, a.scale_w = s.scale_w;
      const Shape ys = {s.x[0], s.x[1], s.OH, s.OW};
      const Tensor x = random_tensor(s.x, false, rng), y = random_tensor(ys, false, rng);
      Tensor rx = Tensor::empty(ys), rty = Tensor::empty(s.x);
      b->resize2d(a, view_of(x), view_of(rx));
      b->resize2d_backward(a, view_of(y), view_of(rty));
      double lhs = 0, rhs = 0, scale = 0;
      for (int64_t i = 0; i < y.numel(); ++i) lhs += double(rx.data<float>()[i]) * double(y.data<float>()[i]);
      for (int64_t i = 0; i < x.numel(); ++i) {
        rhs += double(x.data<float>()[i]) * double(rty.data<float>()[i]);
        scale += std::fabs(double(x.data<float>()[i]) * double(rty.data<float>()[i]));
      }
      EXPECT_LE(std::fabs(lhs - rhs), 1e-5 * scale) << lhs << " vs " << rhs;
    }
  Resize2dAttrs nearest{ResizeMode::nearest, ResizeCoordinates::asymmetric, ResizeNearest::floor, 2.f, 2.f};
  const Tensor x = random_tensor({1, 2, 3, 4}, false, rng);
  Tensor y = Tensor::empty({1, 2, 6, 8});
  b->resize2d(nearest, view_of(x), view_of(y));
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 8; ++j)
        ASSERT_EQ(y.data<float>()[(p * 6 + i) * 8 + j], x.data<float>()[(p * 3 + i / 2) * 4 + j / 2]);
}

// Host memory into a guarded device view through Backend::upload.
TEST(Backends, Upload) {
  Case c{"upload", {{3, 1000}}, {3, 1000}, [](Backend& b, const std::vector<ConstView>& in, View y) {
           const Tensor host = Tensor::wrap(const_cast<float*>(in[0].data), in[0].shape, DType::f32, in[0].device)
                                   .to(Device::cpu());
           b.upload(host.data<float>(), y);
         }};
  expect_all({c}, participants_for("upload"));
}

// The harness must be able to fail: a backend that writes past its output, and one that returns a NaN.
class FaultyBackend final : public NullBackend {
 public:
  explicit FaultyBackend(bool overrun) : inner_(make_cpu_backend(1)), overrun_(overrun) {}
  void activation(const ActivationAttrs& a, ConstView x, View y) override {
    inner_->activation(a, x, y);
    if (overrun_) y.data[y.numel()] = 0.f;  // one element past the end: lands in the guard
    else y.data[0] = NAN;
  }

 private:
  std::unique_ptr<Backend> inner_;
  bool overrun_;
};

TEST(Harness, CatchesWritesOutsideTheOutputAndNaNs) {
  ActivationAttrs relu;
  relu.kind = Activation::relu;
  const Case c{"relu", {{4, 4}}, {4, 4},
               [relu](Backend& b, const std::vector<ConstView>& in, View y) { b.activation(relu, in[0], y); }};
  auto ref = make_cpu_backend(1);
  FaultyBackend overrun(true), nan(false);
  const Outcome o1 = run_case(c, *ref, overrun, 1);
  EXPECT_FALSE(o1.guards_intact);
  EXPECT_FALSE(o1.nonfinite_mismatch);
  const Outcome o2 = run_case(c, *ref, nan, 1);
  EXPECT_TRUE(o2.guards_intact);
  EXPECT_TRUE(o2.nonfinite_mismatch);
  auto good = make_cpu_backend(1);
  const Outcome o3 = run_case(c, *ref, *good, 1);
  EXPECT_TRUE(o3.guards_intact);
  EXPECT_FALSE(o3.nonfinite_mismatch);
  EXPECT_EQ(o3.error, 0.0);
}

}  // namespace
}  // namespace glassbox::kernels
