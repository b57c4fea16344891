// Isolation of models and sessions in one process (the library keeps no global mutable state): two different
// models run at the same time on two threads, each with its own sessions, give bit for bit what each gives alone;
// so do two threads sharing one Model, each with its own sessions. Forward (logits), Grad-CAM (the gradient
// family: a backward pass) and ReciproCAM (the perturbation family: forward passes from the layer), top-2 targets.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "explain/named.h"
#include "tests/support/testdata.h"

namespace glassbox {
namespace {

const std::string kModels = test::source_dir() + "/tests/data/models/";

struct Results {
  std::vector<float> logits, gradcam, reciprocam;
  std::vector<int64_t> classes;
};

std::vector<float> host(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<float>(h.data<float>(), h.data<float>() + h.numel());
}

explain::Target top(int k) {
  explain::Target t;
  t.top = k;
  return t;
}

Tensor images(uint32_t seed) {
  Tensor x = Tensor::empty({2, 3, 64, 64});
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  return x;
}

// Everything one thread computes with a model, through its own Session and explainers (2 CPU threads each, so
// that the sessions' thread pools run at the same time too). Runs twice, to also go through the cached plans.
Results compute(const std::shared_ptr<const Model>& model, const Tensor& x) {
  SessionOptions options;
  options.threads = 2;
  Session session(model, options);
  explain::NamedExplainer gradcam(model, "gradcam", options), reciprocam(model, "reciprocam", options);
  Results r;
  for (int pass = 0; pass < 2; ++pass) {
    r.logits = host(session.run(x).output());
    const auto g = gradcam.explain(x, top(2));
    r.gradcam = host(g.maps);
    r.classes = g.targets.class_list();
    r.reciprocam = host(reciprocam.explain(x, top(2)).maps);
  }
  return r;
}

void expect_identical(const Results& got, const Results& want, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_FALSE(want.logits.empty());
  EXPECT_EQ(got.logits, want.logits);  // float ==: bit for bit (no NaN here)
  EXPECT_EQ(got.classes, want.classes);
  EXPECT_EQ(got.gradcam, want.gradcam);
  EXPECT_EQ(got.reciprocam, want.reciprocam);
}

// f(0) and f(1) on two threads at the same time.
template <class F>
void on_two_threads(F f) {
  std::thread other(f, 1);
  f(0);
  other.join();
}

const std::string kPaths[2] = {kModels + "resnet_basic/model.onnx", kModels + "mobilenet_v2/model.onnx"};

TEST(TwoModels, ConcurrentlyAsEachAlone) {
  const Tensor x[2] = {images(1), images(2)};
  Results alone[2];
  for (int i = 0; i < 2; ++i) alone[i] = compute(Model::load(kPaths[i]), x[i]);  // only this model loaded
  ASSERT_NE(alone[0].logits, alone[1].logits);

  const std::shared_ptr<const Model> models[2] = {Model::load(kPaths[0]), Model::load(kPaths[1])};
  for (int round = 0; round < 4; ++round) {
    Results together[2];
    on_two_threads([&](int i) { together[i] = compute(models[i], x[i]); });
    for (int i = 0; i < 2; ++i) expect_identical(together[i], alone[i], kPaths[i]);
  }
}

TEST(TwoModels, SharedModelOneSessionPerThread) {
  const auto model = Model::load(kPaths[0]);
  const Tensor x[2] = {images(3), images(4)};
  const Results alone[2] = {compute(model, x[0]), compute(model, x[1])};
  Results together[2];
  on_two_threads([&](int i) { together[i] = compute(model, x[i]); });
  for (int i = 0; i < 2; ++i) expect_identical(together[i], alone[i], "thread " + std::to_string(i));
}

TEST(NamedExplainer, UnknownMethodListsBothFamilies) {
  try {
    explain::NamedExplainer(Model::load(kPaths[0]), "gradkam");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'gradkam'"), std::string::npos) << m;
    for (const auto& name : explain::method_names()) EXPECT_NE(m.find(name), std::string::npos) << name;
  }
}

TEST(NamedExplainer, SameMapsAsTheFamilysExplainer) {
  const auto model = Model::load(kPaths[1]);
  const Tensor x = images(5);
  explain::Explainer gradient(model);
  explain::PerturbationExplainer perturbation(model);
  EXPECT_EQ(host(explain::NamedExplainer(model, "layercam").explain(x, top(1)).maps),
            host(gradient.explain(x, top(1), {explain::CamMethod::layercam}).maps.at(explain::CamMethod::layercam)));
  EXPECT_EQ(host(explain::NamedExplainer(model, "ablationcam").explain(x, top(1)).maps),
            host(perturbation.explain(x, top(1), {explain::PerturbationMethod::ablationcam})
                     .maps.at(explain::PerturbationMethod::ablationcam)));
  // A vision transformer's attention methods, by their names here.
  const auto vit = Model::load(test::source_dir() + "/tests/data/attention/timm_vit/model.onnx");
  const Tensor xv = test::read_tensor_pb(test::source_dir() + "/tests/data/attention/timm_vit/input.pb").tensor;
  explain::AttentionOptions o;
  o.method = explain::AttentionMethod::grad_rollout;
  EXPECT_EQ(host(explain::NamedExplainer(vit, "grad_rollout").explain(xv, top(2)).maps),
            host(explain::AttentionExplainer(vit, {}, o).explain(xv, top(2)).maps));
  EXPECT_THROW(explain::NamedExplainer(vit, "rollout", {}, "/blocks/blocks.0/norm1/LayerNormalization_output_0"),
               Error);
}

}  // namespace
}  // namespace glassbox
