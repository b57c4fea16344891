// The backward pass against PyTorch autograd: the small test models' gradients at the input and at the last 4-D
// activation, for L = sum_n logits[n, c_n], c_n = (3n + 1) mod classes, from float64 autograd on the same ONNX
// graph (tests/data/gradients, made by tools/python/make_gradient_goldens.py). And the truncation: a gradient
// at a late layer runs only the steps after it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

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

std::vector<std::string> gradient_cases() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/tests/data/gradients"))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Gradients : public ::testing::TestWithParam<std::string> {};

TEST_P(Gradients, MatchPyTorchAutograd) {
  expect_gradients_match_golden(source_dir() + "/tests/data/models/" + GetParam(),
                                source_dir() + "/tests/data/gradients/" + GetParam(), 2);
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

// K seeds per image in one backward: row n*K + k of every gradient equals a separate backward from seed k of
// image n. resnet_basic's gradient at the input reads the forward values of every step (ReLU outputs, max-pool
// inputs), all repeated K times; the layer gradient comes too.
namespace glassbox::test {
namespace {
TEST(Backward, KSeedsPerImageInOneBatchedPass) {
  const std::string dir = source_dir() + "/tests/data/models/resnet_basic";
  auto model = Model::load(dir + "/model.onnx");
  const Tensor input = read_test_data(dir).at(0).inputs.at(0).tensor;
  const std::string layer = layer_of(source_dir() + "/tests/data/gradients/resnet_basic");
  Session s(model);
  s.track_gradients({model->input_names()[0], layer});
  const Shape out = s.run(input).output().shape();
  const int64_t N = out[0], C = out[1], K = 3;
  Tensor batched = Tensor::empty({N * K, C});
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < batched.numel(); ++i) batched.data<float>()[i] = normal(rng);
  const auto together = s.backward({batched});
  for (const auto& [name, g] : together) {
    ASSERT_EQ(g.dim(0), N * K) << name;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        Tensor one = Tensor::zeros(out);
        std::copy_n(batched.data<float>() + (n * K + k) * C, C, one.data<float>() + n * C);
        const Tensor alone = s.backward({one}).at(name).slice(n, n + 1);
        const Tensor row = g.slice(n * K + k, n * K + k + 1);
        double diff = 0, scale = 0;
        for (int64_t i = 0; i < alone.numel(); ++i) {
          diff = std::max(diff, std::fabs(double(row.data<float>()[i]) - alone.data<float>()[i]));
          scale = std::max(scale, std::fabs(double(alone.data<float>()[i])));
        }
        EXPECT_GT(scale, 0) << name;
        EXPECT_LE(diff, 1e-6 * scale) << name << " image " << n << " seed " << k;
      }
  }
  EXPECT_THROW(s.backward({Tensor::zeros({N * K + 1, C})}), Error);  // not a multiple of the batch
}
}  // namespace
}  // namespace glassbox::test

// Forward from a value: the steps after a layer run on modified copies of its activation; the reference is the
// same network exported with a mask input multiplying that layer (tests/data/perturbation, made by
// tools/python/make_perturbation_model.py), run in full. The layer has a skip connection around it, whose value
// run_from takes from the last run.
namespace glassbox::test {
namespace {
TEST(RunFrom, RunsTheStepsAfterALayerOnModifiedCopies) {
  const std::string dir = source_dir() + "/tests/data/perturbation";
  auto model = Model::load(dir + "/model.onnx");
  auto masked = Model::load(dir + "/masked.onnx");
  const std::string layer = "/net/Relu_1_output_0";
  const int64_t N = 2, C = 8, P = 36, K = 3;
  Tensor x = Tensor::empty({N, 3, 24, 24});
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  Session s(model);
  EXPECT_THROW(s.run_from(x), Error);  // not enabled
  s.enable_run_from(layer);
  s.capture({layer});
  const Result r = s.run(x);
  const Tensor A = r.capture(layer).to(Device::cpu());
  // Unchanged: the run's own logits.
  const Tensor same = s.run_from(A).output().to(Device::cpu());
  const Tensor& z = r.output();
  for (int64_t i = 0; i < z.numel(); ++i) EXPECT_NEAR(same.data<float>()[i], z.data<float>()[i], 1e-5);
  // K copies per image: copy k of image n has channel k zeroed and position 5k scaled by 3.
  Tensor copies = Tensor::empty({N * K, C, 6, 6});
  std::vector<Tensor> masks;
  for (int64_t k = 0; k < K; ++k) masks.push_back(Tensor::empty({N, C, 6, 6}));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < P; ++p) {
          const float m = c == k ? 0.f : (p == 5 * k ? 3.f : 1.f);
          copies.data<float>()[((n * K + k) * C + c) * P + p] = A.data<float>()[(n * C + c) * P + p] * m;
          masks[k].data<float>()[(n * C + c) * P + p] = m;
        }
  const Tensor got = s.run_from(copies).output().to(Device::cpu());
  ASSERT_EQ(got.shape(), (Shape{N * K, 5}));
  Session ref(masked);
  for (int64_t k = 0; k < K; ++k) {
    const Tensor want = ref.run({x, masks[k]}).output();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < 5; ++j)
        EXPECT_NEAR(got.data<float>()[(n * K + k) * 5 + j], want.data<float>()[n * 5 + j], 1e-5)
            << "image " << n << " copy " << k << " logit " << j;
  }
  EXPECT_THROW(s.run_from(Tensor::zeros({3, C, 6, 6})), Error);  // not a multiple of the batch
}
}  // namespace
}  // namespace glassbox::test

// The backward steps of the ViT operators' plans (Transpose, LayerNormalization and its decomposed form, Erf, Gelu,
// Sqrt, Pow, Gather, Slice, Expand, and a tiny ViT block of them with batched MatMul and Softmax) against central
// differences of the forward, through the engine: for each single-input op golden (tests/data/ops) and L = <y, r>
// with random r, dL/dx from Session::backward must match (L(x + h e_j) - L(x - h e_j)) / 2h, accumulated in
// float64, at every element j of x.
namespace glassbox::test {
namespace {
TEST(Backward, VitOperatorPlansMatchFiniteDifferences) {
  const char* prefixes[] = {"transpose_", "layernorm_", "erf_", "gelu_", "sqrt_", "pow_", "gather_", "slice_",
                            "expand_", "split_", "class_token_", "vit_block_"};
  int checked = 0;
  for (const auto& dir : case_dirs(source_dir() + "/tests/data/ops")) {
    const std::string name = std::filesystem::path(dir).filename().string();
    bool wanted = false;
    for (const char* p : prefixes) wanted = wanted || name.rfind(p, 0) == 0;
    if (!wanted) continue;
    SCOPED_TRACE(name);
    auto model = Model::load(dir + "/model.onnx");
    if (model->input_names().size() != 1) continue;
    Tensor x = read_test_data(dir).at(0).inputs.at(0).tensor.clone();
    Session s(model);
    s.track_gradients({model->input_names()[0]});
    const Tensor y = s.run(x).output().clone();
    Tensor r = Tensor::empty(y.shape());
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int64_t i = 0; i < r.numel(); ++i) r.data<float>()[i] = normal(rng);
    const Tensor g = s.backward({r}).begin()->second.clone();
    ASSERT_EQ(g.shape(), x.shape());
    const double h = 2e-3;
    auto loss = [&](float v, int64_t j) {
      const float keep = x.data<float>()[j];
      x.data<float>()[j] = v;
      const Tensor out = s.run(x).output();
      x.data<float>()[j] = keep;
      double l = 0;
      for (int64_t i = 0; i < out.numel(); ++i) l += double(out.data<float>()[i]) * r.data<float>()[i];
      return l;
    };
    double worst = 0, scale = 1;
    for (int64_t j = 0; j < x.numel(); ++j) {
      const float x0 = x.data<float>()[j], hi = float(x0 + h), lo = float(x0 - h);
      const double fd = (loss(hi, j) - loss(lo, j)) / (double(hi) - double(lo));
      worst = std::max(worst, std::fabs(fd - g.data<float>()[j]));
      scale = std::max(scale, std::fabs(double(g.data<float>()[j])));
    }
    EXPECT_LE(worst / scale, 2e-3);
    ++checked;
  }
  EXPECT_GE(checked, 20);
}
}  // namespace
}  // namespace glassbox::test
