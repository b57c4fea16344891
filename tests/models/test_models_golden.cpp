// Whole models against ONNX Runtime: the small torchvision variants committed in tests/data/models
// (tools/python/make_model_goldens.py) and the converted EfficientNet-Lite0 (made during set-up by
// tools/python/make_efficientnet_golden.py). The full-size models are in test_full_models.cpp (label slow).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

class SmallModel : public ::testing::TestWithParam<std::string> {};
TEST_P(SmallModel, MatchesOnnxRuntime) { expect_model_matches_golden(GetParam(), 2); }
INSTANTIATE_TEST_SUITE_P(Torchvision, SmallModel, ::testing::ValuesIn(case_dirs(source_dir() + "/tests/data/models")),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return std::filesystem::path(i.param).filename().string();
                         });

TEST(SmallModels, ArePresent) {
  const auto dirs = case_dirs(source_dir() + "/tests/data/models");
  std::vector<std::string> names;
  for (const auto& d : dirs) names.push_back(std::filesystem::path(d).filename().string());
  for (const char* want : {"resnet_basic", "mobilenet_v2", "mobilenet_v3_small", "densenet", "squeezenet1_1"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

const std::string kEffNet = assets_dir() + "/models/efficientnet_lite0.onnx";

TEST(EfficientNetLite0, MatchesOnnxRuntime) {
  ASSERT_TRUE(std::filesystem::exists(kEffNet)) << kEffNet << " is made by `make assets` (part of make test)";
  // The golden folder holds model.onnx's data sets; the model itself sits beside it.
  const std::string dir = assets_dir() + "/models/efficientnet_lite0_test";
  auto model = Model::load(kEffNet);
  Session session(model);
  for (const auto& set : read_test_data(dir)) {
    const Result r = session.run(set.inputs[0].tensor);
    // The acceptance bound: logits within 1e-4 (absolute) of ONNX Runtime's.
    const double ratio = tolerance_ratio(r.output(), set.outputs[0].tensor, 1e-4, 0.0);
    std::printf("EfficientNet-Lite0: max |diff| to ONNX Runtime %.3g\n", ratio * 1e-4);
    EXPECT_LE(ratio, 1.0);
  }
}

// The captured head features, pushed through the classifier's weights in float64, give the logits: an
// independent check that captures hold the right values (and that keeping them changes nothing).
TEST(EfficientNetLite0, CapturedFeaturesGiveTheLogits) {
  ASSERT_TRUE(std::filesystem::exists(kEffNet));
  auto model = Model::load(kEffNet);
  const Graph& g = model->graph();
  const Node* gemm = nullptr;
  for (const Node& n : g.nodes)
    if (n.op == "Gemm") gemm = &n;
  ASSERT_NE(gemm, nullptr);
  const std::string features = g.values[gemm->inputs[0]].name;
  Session session(model);
  session.capture({features});
  Tensor x = Tensor::empty({2, 3, 224, 224});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.001f * i);
  const Result r = session.run(x);
  const Tensor& f = r.capture(features);
  const Tensor& W = g.values[gemm->inputs[1]].constant;  // [1000, 1280], transB = 1
  const Tensor& b = g.values[gemm->inputs[2]].constant;
  ASSERT_EQ(f.shape(), (Shape{2, W.dim(1)}));
  double worst = 0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < W.dim(0); ++k) {
      double z = b.data<float>()[k];
      for (int64_t c = 0; c < W.dim(1); ++c) z += double(f.data<float>()[n * W.dim(1) + c]) * W.data<float>()[k * W.dim(1) + c];
      worst = std::max(worst, std::fabs(z - r.output().data<float>()[n * W.dim(0) + k]));
    }
  EXPECT_LT(worst, 1e-4);
}

// BatchNormalization executed instead of folded gives the same logits (resnet_basic keeps explicit BN nodes).
TEST(BatchNorm, ExecutedMatchesFolded) {
  const std::string dir = source_dir() + "/tests/data/models/resnet_basic";
  ImportOptions unfolded;
  unfolded.fold_batchnorm = false;
  auto a = Model::load(dir + "/model.onnx"), b = Model::load(dir + "/model.onnx", unfolded);
  int bn_a = 0, bn_b = 0;
  for (const Node& n : a->graph().nodes) bn_a += n.op == "BatchNormalization";
  for (const Node& n : b->graph().nodes) bn_b += n.op == "BatchNormalization";
  EXPECT_EQ(bn_a, 0);
  EXPECT_GT(bn_b, 0);
  const auto set = read_test_data(dir)[0];
  const Tensor ya = Session(a).run(set.inputs[0].tensor).output(), yb = Session(b).run(set.inputs[0].tensor).output();
  EXPECT_LE(tolerance_ratio(yb, set.outputs[0].tensor, 1e-4, 0.0), 1.0);
  EXPECT_LE(tolerance_ratio(ya, yb, 1e-5, 1e-5), 1.0);
}

// One immutable Model shared by threads, each with its own Session (and thread pool), gives exactly the results of
// a lone session: nothing mutable is shared (kernels keep per-thread scratch; the model is read-only).
TEST(SharedModel, SessionsOnThreadsAgreeBitwise) {
  const std::string dir = source_dir() + "/tests/data/models/resnet_basic";
  auto model = Model::load(dir + "/model.onnx");
  const Tensor x = read_test_data(dir)[0].inputs[0].tensor;
  SessionOptions opt;
  opt.threads = 2;
  const Tensor want = Session(model, opt).run(x).output();
  std::vector<Tensor> got(3);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] {
      Session s(model, opt);
      for (int i = 0; i < 3; ++i) got[t] = s.run(x).output();
    });
  for (auto& th : threads) th.join();
  for (const Tensor& g : got) {
    ASSERT_EQ(g.shape(), want.shape());
    EXPECT_EQ(std::memcmp(g.raw(), want.raw(), want.bytes()), 0);
  }
}

// Memory reuse: the arena is much smaller than all intermediate activations together.
TEST(EfficientNetLite0, ArenaReusesMemory) {
  ASSERT_TRUE(std::filesystem::exists(kEffNet));
  auto model = Model::load(kEffNet);
  Session session(model);
  const Plan& plan = session.plan_for({{1, 3, 224, 224}});
  size_t total = 0;
  for (size_t v = 0; v < plan.storage.size(); ++v)
    if (plan.storage[v] == Storage::arena) total += numel(plan.shapes[v]) * sizeof(float);
  EXPECT_GT(total, 0u);
  EXPECT_LT(plan.arena_bytes * 4, total) << "arena " << plan.arena_bytes << " bytes for " << total << " bytes of values";
}

}  // namespace
}  // namespace glassbox::test
