// The backward pass against PyTorch autograd: the small test models' gradients at the input and at the last 4-D
// activation, for L = sum_n logits[n, c_n], c_n = (3n + 1) mod classes, from float64 autograd on the same ONNX
// graph (tests/data/gradients, made by tools/python/make_gradient_goldens.py). And the truncation: a gradient
// at a late layer runs only the steps after it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/backward.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

std::string layer_of(const std::string& dir) {
  std::ifstream f(dir + "/layer.txt");
  std::string s;
  std::getline(f, s);
  return s;
}

Tensor class_seed(const Shape& logits) {
  Tensor seed = Tensor::zeros(logits);
  for (int64_t n = 0; n < logits[0]; ++n) seed.data<float>()[n * logits[1] + (3 * n + 1) % logits[1]] = 1.f;
  return seed;
}

// max |got - want| / max |want|
double normalized_error(const Tensor& got, const Tensor& want) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    diff = std::max(diff, std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]));
    scale = std::max(scale, std::fabs(double(want.data<float>()[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

std::vector<std::string> gradient_cases() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/tests/data/gradients"))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Gradients : public ::testing::TestWithParam<std::string> {};

TEST_P(Gradients, MatchPyTorchAutograd) {
  const std::string name = GetParam(), golden = source_dir() + "/tests/data/gradients/" + name;
  const std::string model_dir = source_dir() + "/tests/data/models/" + name;
  auto model = Model::load(model_dir + "/model.onnx");
  const Tensor input = read_test_data(model_dir).at(0).inputs.at(0).tensor;
  const std::string layer = layer_of(golden), input_name = model->input_names().at(0);
  for (bool fuse : {true, false}) {
    SessionOptions o;
    o.threads = 2;
    o.fuse_activations = fuse;
    Session s(model, o);
    s.track_gradients({layer, input_name});
    const Result r = s.run(input);
    const auto grads = s.backward({class_seed(r.output().shape())});
    const double e_layer = normalized_error(grads.at(layer), read_tensor_pb(golden + "/grad_layer.pb").tensor);
    const double e_input = normalized_error(grads.at(input_name), read_tensor_pb(golden + "/grad_input.pb").tensor);
    std::printf("%s (fusion %s): gradient error at %s %.2g, at the input %.2g\n", name.c_str(), fuse ? "on" : "off",
                layer.c_str(), e_layer, e_input);
    EXPECT_LE(e_layer, 1e-4) << layer;
    EXPECT_LE(e_input, 1e-4) << "input";
  }
}
INSTANTIATE_TEST_SUITE_P(SmallModels, Gradients, ::testing::ValuesIn(gradient_cases()));

// Grad-CAM's backward: from the logits to the last 4-D activation, no step before that activation runs.
TEST(Backward, RunsOnlyTheStepsAfterTheLayer) {
  const std::string dir = source_dir() + "/tests/data/models/mobilenet_v2";
  auto model = Model::load(dir + "/model.onnx");
  const Graph& g = model->graph();
  const std::string layer = layer_of(source_dir() + "/tests/data/gradients/mobilenet_v2");
  const int v = g.find_value(layer);
  const Plan plan = make_plan(g, {{2, 3, 64, 64}}, {v}, PlanOptions{true, true});
  const BackwardPlan bp = make_backward_plan(g, plan, {g.outputs[0]}, {v});
  size_t producer = 0;
  for (size_t i = 0; i < plan.steps.size(); ++i)
    if (plan.steps[i].outputs[0] == v) producer = i;
  ASSERT_FALSE(bp.steps.empty());
  for (int si : bp.steps) EXPECT_GT(size_t(si), producer) << plan.steps[si].label;
  std::printf("mobilenet_v2: %zu of %zu steps run backward for the gradient at %s\n", bp.steps.size(),
              plan.steps.size(), layer.c_str());
  EXPECT_LE(bp.steps.size(), 4u);  // GlobalAveragePool, Flatten, (Dropout,) Gemm
}

// Two seeds' gradients add up; misuse is a clear error.
TEST(Backward, SeedsAreLinearAndMisuseIsAnError) {
  const std::string dir = source_dir() + "/tests/data/models/squeezenet1_1";
  auto model = Model::load(dir + "/model.onnx");
  const Tensor input = read_test_data(dir).at(0).inputs.at(0).tensor;
  Session s(model);
  EXPECT_THROW(s.backward({}), Error);  // nothing tracked
  s.track_gradients({model->input_names()[0]});
  EXPECT_THROW(s.backward({}), Error);  // no run yet
  const Result r = s.run(input);
  const Shape shape = r.output().shape();
  Tensor a = Tensor::zeros(shape), b = Tensor::zeros(shape), ab = Tensor::zeros(shape);
  a.data<float>()[1] = 1.f, b.data<float>()[shape[1] + 4] = 2.f;
  ab.data<float>()[1] = 1.f, ab.data<float>()[shape[1] + 4] = 2.f;
  const Tensor ga = s.backward({a}).begin()->second.clone(), gb = s.backward({b}).begin()->second.clone();
  const Tensor gab = s.backward({ab}).begin()->second;
  double worst = 0;
  for (int64_t i = 0; i < gab.numel(); ++i)
    worst = std::max(worst, std::fabs(double(ga.data<float>()[i]) + gb.data<float>()[i] - gab.data<float>()[i]));
  EXPECT_LT(worst, 1e-6);
  EXPECT_THROW(s.backward({Tensor::zeros({1, 10})}), Error);  // wrong seed shape
}

}  // namespace
}  // namespace glassbox::test
