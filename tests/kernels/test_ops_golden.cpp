// Every operator's CPU forward against ONNX Runtime goldens (tests/data/ops, made by
// tools/python/make_op_goldens.py): one case per folder, attribute sweeps and opsets 11..22; convolutions under
// every registered CPU variant.
#include <gtest/gtest.h>

#include <onnx/onnx.pb.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "kernels/kernels.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

struct OpCase {
  std::string dir;
  std::string conv_variant;
};

// Every case with the CPU backend's default convolution; convolution cases with every registered variant.
std::vector<OpCase> all_cases() {
  const auto backend = kernels::make_cpu_backend(1);
  const std::string default_variant = backend->selected_variant("conv2d");
  std::vector<OpCase> cases;
  for (const auto& d : case_dirs(source_dir() + "/tests/data/ops")) {
    if (std::filesystem::path(d).filename().string().rfind("conv", 0) != 0) {
      cases.push_back({d, default_variant});
      continue;
    }
    for (const std::string& v : backend->variants("conv2d")) cases.push_back({d, v});
  }
  return cases;
}

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.dir << " [" << c.conv_variant << "]"; }

class OpGolden : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGolden, MatchesOnnxRuntime) {
  const OpCase& c = GetParam();
  auto model = Model::load(c.dir + "/model.onnx");
  SessionOptions opt;
  opt.threads = 2;
  opt.kernel_variants["conv2d"] = c.conv_variant;
  Session session(model, opt);
  const auto sets = read_test_data(c.dir);
  ASSERT_FALSE(sets.empty()) << c.dir;
  for (const auto& set : sets) {
    std::vector<Tensor> inputs;
    for (const auto& in : set.inputs) inputs.push_back(in.tensor);
    const Result r = session.run(inputs);
    ASSERT_EQ(r.outputs.size(), set.outputs.size());
    for (size_t k = 0; k < set.outputs.size(); ++k) {
      const double ratio = tolerance_ratio(r.outputs[k], set.outputs[k].tensor, 1e-5, 1e-4);
      EXPECT_LE(ratio, 1.0) << c.dir << " output " << k << " (" << set.outputs[k].name << ")";
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string n = std::filesystem::path(info.param.dir).filename().string() + "_" + info.param.conv_variant;
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpGolden, ::testing::ValuesIn(all_cases()), case_name);

// ---- Einsum and the reductions through the planner: refusals of hostile or unsupported equations (one line,
// naming the node and what was expected), and the backward of a plan against central differences.

onnx::AttributeProto* string_attribute(onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
  return a;
}

std::string einsum_error(const std::string& equation, const std::vector<Shape>& inputs) {
  OnnxBuilder b("einsum", 17);
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    names.push_back("x" + std::to_string(i));
    b.input(names.back(), inputs[i]);
  }
  string_attribute(b.node("Einsum", "einsum", names, {"y"}), "equation", equation);
  b.output("y");
  const std::string bytes = b.bytes();
  return error_of([&] { Model::from_bytes(bytes.data(), bytes.size()); });
}

TEST(EinsumPlan, RefusesClearly) {
  const struct {
    std::string equation;
    std::vector<Shape> inputs;
    std::string expected;
  } cases[] = {
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}, "3 operands is not supported"},
      {"ii->i", {{3, 3}}, "diagonals"},
      {"ij,jk->ik;", {{2, 3}, {3, 4}}, "only letters, spaces"},
      {std::string(2000, 'a'), {{2}}, "1 to 1024 characters"},
      {"", {{2}}, "1 to 1024 characters"},
      {"ij,jk->ik->i", {{2, 3}, {3, 4}}, "more than one '->'"},
      {"i-j,jk->ik", {{2, 3}, {3, 4}}, "not part of '->' or '...'"},
      {"....ij,jk->ik", {{2, 3}, {3, 4}}, "not part of '->' or '...'"},
      {"ij,jk->ik", {{2, 3}, {4, 5}}, "label 'j' has size 3"},
      {"ijk,jk->ik", {{2, 3}, {3, 4}}, "has 3 labels but input 0"},
      {"...ij,jk->ik", {{5, 2, 3}, {3, 4}}, "no '...'"},
      {"ij,jk->iz", {{2, 3}, {3, 4}}, "output label 'z' is in no input"},
      {"ij,jk->iki", {{2, 3}, {3, 4}}, "output label 'i' repeats"},
      {"ij,jk", {{2, 3}}, "2 operand terms for 1 inputs"},
      {"ijk->ki", {{2, 3, 4}}, "both sums labels and reorders"},
  };
  for (const auto& c : cases) {
    const std::string e = einsum_error(c.equation, c.inputs);
    EXPECT_NE(e.find("(Einsum)"), std::string::npos) << e;
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.equation.substr(0, 40) << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

// L = <ReduceL2(Einsum(a, b)), r> through a session: the gradients of both inputs (plan_einsum's two backward
// einsums, ReduceL2's backward reading its input and output) against central differences of the forward.
TEST(EinsumPlan, BackwardMatchesFiniteDifferences) {
  OnnxBuilder b("einsum_l2", 17);
  b.input("a", {2, 3, 5, 4});
  b.input("b", {2, 3, 6, 4});
  string_attribute(b.node("Einsum", "scores", {"a", "b"}, {"s"}), "equation", "B H I D, B H J D -> B H I J");
  auto* l2 = b.node("ReduceL2", "norm", {"s"}, {"y"});
  auto* axes = l2->add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(-1);
  b.output("y");
  const std::string bytes = b.bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  SessionOptions opt;
  opt.threads = 2;
  Session session(model, opt);
  session.track_gradients({"a", "b"});
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  auto random = [&](const Shape& s) {
    Tensor t = Tensor::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
    return t;
  };
  std::vector<Tensor> x = {random({2, 3, 5, 4}), random({2, 3, 6, 4})};
  const Tensor r = random({2, 3, 5, 1});
  session.run(x);
  const auto grads = session.backward({r});
  auto loss = [&] {
    const Tensor y = session.run(x).output().to(Device::cpu());
    double l = 0;
    for (int64_t i = 0; i < y.numel(); ++i) l += double(y.data<float>()[i]) * r.data<float>()[i];
    return l;
  };
  const char* names[] = {"a", "b"};
  for (int k = 0; k < 2; ++k) {
    const Tensor g = grads.at(names[k]).to(Device::cpu());
    ASSERT_EQ(g.shape(), x[k].shape());
    double worst = 0, scale = 1;
    for (int64_t j = 0; j < g.numel(); ++j) {
      float* v = x[k].data<float>() + j;
      const float keep = *v, h = 1e-2f;
      *v = keep + h;
      const double plus = loss();
      *v = keep - h;
      const double minus = loss();
      *v = keep;
      worst = std::max(worst, std::fabs((plus - minus) / (2 * double(h)) - g.data<float>()[j]));
      scale = std::max(scale, std::fabs(double(g.data<float>()[j])));
    }
    EXPECT_LE(worst / scale, 2e-3) << "input " << names[k];
  }
}

TEST(OpGoldenData, IsPresent) { EXPECT_GE(all_cases().size(), 100u) << "tests/data/ops is missing cases"; }

// ---- Resize's planning rule: what it refuses (at load, naming the node and what is supported), negative axes, and
// the input-gradient through a plan.

void attr_string(onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

// x [1, 2, 4, 6] -> Resize 'resize' (x, roi omitted, scales or sizes as initializers) -> y.
struct ResizeModel {
  test::OnnxBuilder b;
  onnx::NodeProto* node;
};
ResizeModel resize_model(int opset, const std::vector<float>& scales, const std::vector<int64_t>& sizes = {},
                         const std::vector<int64_t>& x = {1, 2, 4, 6}) {
  test::OnnxBuilder b("resize", opset);
  b.input("x", x);
  std::vector<std::string> ins = {"x", ""};
  ins.push_back(scales.empty() ? "" : b.floats("scales", {int64_t(scales.size())}, scales));
  if (!sizes.empty()) ins.push_back(b.ints("sizes", sizes));
  b.node("Resize", "resize", ins, {"y"});
  b.output("y");
  ResizeModel m{std::move(b), nullptr};
  m.node = m.b.find_node("resize");
  return m;
}

std::string load_error(const ResizeModel& m) {
  const std::string bytes = m.b.bytes();
  return test::error_of([&] { Model::from_bytes(bytes.data(), bytes.size()); });
}

TEST(ResizePlan, RefusesWhatItDoesNotRun) {
  struct Bad {
    const char* what;
    std::function<ResizeModel()> make;
  };
  const float nan = std::nanf(""), inf = INFINITY;
  auto with = [](ResizeModel m, const char* name, const char* value) {
    attr_string(m.node, name, value);
    return m;
  };
  auto with_int = [](ResizeModel m, const char* name, int64_t value) {
    test::attr_int(m.node, name, value);
    return m;
  };
  const Bad bad[] = {
      {"mode 'cubic' is not supported (nearest and linear are)",
       [&] { return with(resize_model(13, {1, 1, 2, 2}), "mode", "cubic"); }},
      {"coordinate_transformation_mode 'tf_crop_and_resize' is not supported (half_pixel, pytorch_half_pixel, "
       "align_corners, asymmetric, half_pixel_symmetric are)",
       [&] { return with(resize_model(13, {1, 1, 2, 2}), "coordinate_transformation_mode", "tf_crop_and_resize"); }},
      {"half_pixel_symmetric needs opset 19",
       [&] { return with(resize_model(18, {1, 1, 2, 2}), "coordinate_transformation_mode", "half_pixel_symmetric"); }},
      {"nearest_mode 'nearest' is not supported",
       [&] { return with(resize_model(13, {1, 1, 2, 2}), "nearest_mode", "nearest"); }},
      {"keep_aspect_ratio_policy 'fit' is not supported",
       [&] { return with(resize_model(18, {}, {1, 2, 8, 8}), "keep_aspect_ratio_policy", "fit"); }},
      {"antialias=1 when downscaling is not supported", [&] {
         return with_int(with(resize_model(18, {1, 1, 0.5f, 1}), "mode", "linear"), "antialias", 1);
       }},
      {"exclude_outside must be 0 or 1", [&] { return with_int(resize_model(13, {1, 1, 2, 2}), "exclude_outside", 2); }},
      {"dimension 0 (N)", [&] { return resize_model(13, {2, 1, 1, 1}); }},
      {"dimension 1 (C)", [&] { return resize_model(13, {1, 1.5f, 1, 1}); }},
      {"dimension 1 (C)", [&] { return resize_model(13, {}, {1, 3, 4, 6}); }},
      {"must be finite and positive", [&] { return resize_model(13, {1, 1, nan, 2}); }},
      {"must be finite and positive", [&] { return resize_model(13, {1, 1, 2, inf}); }},
      {"must be finite and positive", [&] { return resize_model(13, {1, 1, -2, 2}); }},
      {"must be finite and positive", [&] { return resize_model(13, {1, 1, 0, 2}); }},
      {"is too large", [&] { return resize_model(13, {1, 1, 1e30f, 1}); }},
      {"is too large", [&] { return resize_model(13, {1, 1, 1e9f, 1e9f}); }},  // each axis fits, the product not
      {"must be in [1, ", [&] { return resize_model(13, {}, {1, 2, -3, 6}); }},
      {"must be in [1, ", [&] { return resize_model(13, {}, {1, 2, int64_t(1) << 40, 6}); }},
      {"cannot resize dimension 2", [&] { return resize_model(13, {}, {1, 2, 0, 6}); }},
      {"sizes has 3 values, expected 4", [&] { return resize_model(13, {}, {1, 2, 8}); }},
      {"scales has 2 values, expected 4", [&] { return resize_model(13, {2, 2}); }},
      {"only one of scales (input 2) and sizes (input 3) may be given",
       [&] { return resize_model(13, {1, 1, 2, 2}, {1, 2, 8, 12}); }},
      {"one of scales (input 2) and sizes (input 3) is required", [&] { return resize_model(13, {}); }},
      {"must have rank 4", [&] { return resize_model(13, {1, 2, 2}, {}, {2, 4, 6}); }},
      {"axes repeats axis -2", [&] {
         ResizeModel m = resize_model(18, {2, 2});
         test::attr_ints(m.node, "axes", {2, -2});
         return m;
       }},
      {"the axes attribute needs opset 18", [&] {
         ResizeModel m = resize_model(13, {2, 2});
         test::attr_ints(m.node, "axes", {2, 3});
         return m;
       }},
  };
  for (const Bad& c : bad) {
    const std::string msg = load_error(c.make());
    EXPECT_NE(msg.find("node 'resize' (Resize)"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << "expected \"" << c.what << "\" in: " << msg;
  }
  // An empty input plane cannot be resized to a size (planned when the run gives the shape).
  const ResizeModel m = resize_model(13, {}, {1, 2, 3, 5}, {1, 2, 4, -1});
  const std::string bytes = m.b.bytes();
  Session session(Model::from_bytes(bytes.data(), bytes.size()));
  const std::string msg = test::error_of([&] { session.run(Tensor::empty({1, 2, 4, 0})); });
  EXPECT_NE(msg.find("cannot resize dimension 3 of [1, 2, 4, 0] to 5"), std::string::npos) << msg;
}

// Opset 18 axes count from the back like any ONNX axis ([-1, -2] with sizes [5, 7] is [2, 3] with [7, 5];
// onnxruntime 1.20 fails on negative axes, so no golden has them), and the gradient at the input through a
// bilinear Resize plan is the backend's resize2d_backward of the seed.
TEST(ResizePlan, NegativeAxesAndInputGradient) {
  auto make = [](const std::vector<int64_t>& axes, const std::vector<int64_t>& sizes) {
    ResizeModel m = resize_model(18, {}, sizes);
    test::attr_ints(m.node, "axes", axes);
    attr_string(m.node, "mode", "linear");
    const std::string bytes = m.b.bytes();
    return Model::from_bytes(bytes.data(), bytes.size());
  };
  Tensor x = Tensor::empty({1, 2, 4, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.37f * float(i));
  SessionOptions opt;
  opt.threads = 1;
  Session negative(make({-1, -2}, {5, 7}), opt), positive(make({2, 3}, {7, 5}), opt);
  negative.track_gradients({"x"});
  const Tensor y = negative.run(x).output(), want = positive.run(x).output();
  ASSERT_EQ(y.shape(), (Shape{1, 2, 7, 5}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], want.data<float>()[i]) << i;

  Tensor seed = Tensor::empty(y.shape());
  for (int64_t i = 0; i < seed.numel(); ++i) seed.data<float>()[i] = std::cos(0.71f * float(i));
  const Tensor dx = negative.backward({seed}).at("x");
  const kernels::Resize2dAttrs a{kernels::ResizeMode::linear, kernels::ResizeCoordinates::half_pixel,
                                 kernels::ResizeNearest::round_prefer_floor, 7.f / 4.f, 5.f / 6.f};
  Tensor expected = Tensor::empty(x.shape());
  kernels::make_cpu_backend(1)->resize2d_backward(a, kernels::view_of(seed), kernels::view_of(expected));
  ASSERT_EQ(dx.shape(), x.shape());
  for (int64_t i = 0; i < dx.numel(); ++i) EXPECT_FLOAT_EQ(dx.data<float>()[i], expected.data<float>()[i]) << i;
}

}  // namespace
}  // namespace glassbox::test
