// Whole models on the CUDA backend against the CPU backend (label gpu; skipped without a device): every model of
// the foundation issue (the small torchvision variants, EfficientNet-Lite0, and the full-size models where
// exported), every convolution variant, batch 1 and 3. Also: the session's steady state allocates no device
// memory, captures match, and two sessions on two threads share one model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>
#include <tuple>

#if GLASSBOX_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

#include "explain/explain.h"
#include "explain/ascent.h"
#include "explain/perturbation.h"
#include "explain/pixel.h"
#include "explain/attention.h"
#include "explain/metrics.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

bool has_cuda() { return cuda_device_count() > 0; }

SessionOptions on_cuda() {
  SessionOptions o;
  o.device = Device::cuda(0);
  return o;
}

std::vector<std::string> model_paths() {
  std::vector<std::string> paths;
  for (const auto& d : case_dirs(source_dir() + "/tests/data/models")) paths.push_back(d + "/model.onnx");
  paths.push_back(assets_dir() + "/models/efficientnet_lite0.onnx");
  for (const char* full : {"resnet50", "mobilenet_v2", "resnet18", "densenet121", "mobilenet_v3_small", "vgg16",
                           "vit_b_16", "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"})
    paths.push_back(assets_dir() + "/models/full/" + full + "/model.onnx");
  // Vision transformers (timm ViT, DeiT distilled, torchvision ViT; tests/data/attention).
  for (const auto& d : case_dirs(source_dir() + "/tests/data/attention")) paths.push_back(d + "/model.onnx");
  return paths;
}

// "small_mobilenet_v2", "full_mobilenet_v2", "efficientnet_lite0".
std::string model_name(const std::string& path) {
  const std::filesystem::path p(path);
  if (p.filename() != "model.onnx") return p.stem().string();
  const bool full = p.parent_path().parent_path().filename() == "full";
  return (full ? "full_" : "small_") + p.parent_path().filename().string();
}

Tensor random_input(const Model& m, int64_t batch, uint32_t seed) {
  Shape s = m.input_shape(0);
  s[0] = batch;
  for (auto& d : s)
    if (d < 0) d = 224;
  Tensor t = Tensor::empty(s);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
  return t;
}

// max |got - want| / max(1, max |want|).
double normalized_error(const Tensor& got_any, const Tensor& want) {
  const Tensor got = got_any.to(Device::cpu());
  double diff = 0, scale = 1;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double a = got.data<float>()[i], b = want.data<float>()[i];
    if (std::isnan(a) || std::isnan(b)) return INFINITY;
    diff = std::max(diff, std::fabs(a - b));
    scale = std::max(scale, std::fabs(b));
  }
  return diff / scale;
}

class CudaModel : public ::testing::TestWithParam<std::string> {};

// Logits within 1e-4 of the CPU backend's (relative to the largest logit) for fp32 variants, 2e-2 for TF32.
TEST_P(CudaModel, MatchesCpuBackend) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  const std::string path = GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present (make assets / make full-models)";
  auto model = Model::load(path);
  Session cpu(model);
  for (int64_t batch : {1, 3}) {
    const Tensor input = random_input(*model, batch, 7);
    const Tensor want = cpu.run(input).output();
    Session probe(model, on_cuda());
    for (const std::string& variant : probe.backend().variants("conv2d")) {
      SessionOptions opt = on_cuda();
      opt.kernel_variants = {{"conv2d", variant}};
      double err = 0;
      try {
        Session gpu(model, opt);
        err = normalized_error(gpu.run(input).output(), want);
      } catch (const Error& e) {
        if (std::string(e.what()).find("need cuDNN") != std::string::npos) {
          std::printf("[ skipped  ] %s: %s\n", variant.c_str(), e.what());
          continue;
        }
        throw;
      }
      const double tol = variant.find("tf32") != std::string::npos ? 2e-2 : 1e-4;
      std::printf("%s batch %ld conv2d=%s: normalized error to the CPU backend %.3g (tolerance %.0e)\n",
                  model_name(path).c_str(), long(batch), variant.c_str(), err, tol);
      EXPECT_LE(err, tol) << variant << " batch " << batch;
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Models, CudaModel, ::testing::ValuesIn(model_paths()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return model_name(i.param); });

// Gradients at the input and at the last 4-D activation, and every CAM method, on CUDA equal the CPU's.
TEST_P(CudaModel, GradientsAndMapsMatchCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  const std::string path = GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  auto model = Model::load(path);
  const Tensor input = random_input(*model, 2, 11);
  const std::string layer = explain::default_layer(*model), in = model->input_names()[0];
  Session cpu(model), gpu(model, on_cuda());
  for (Session* s : {&cpu, &gpu}) s->track_gradients({layer, in});
  const Tensor logits = cpu.run(input).output();
  gpu.run(input);
  Tensor seed = Tensor::zeros(logits.shape());
  for (int64_t n = 0; n < logits.dim(0); ++n) seed.data<float>()[n * logits.dim(1) + (7 * n + 3) % logits.dim(1)] = 1.f;
  const auto want = cpu.backward({seed}), got = gpu.backward({seed});
  for (const std::string& v : {layer, in}) {
    const double err = normalized_error(got.at(v), want.at(v));
    std::printf("%s: gradient at %s on CUDA vs CPU %.3g\n", model_name(path).c_str(), v.c_str(), err);
    EXPECT_LE(err, 1e-4) << v;
  }
  explain::Explainer ce(model), ge(model, on_cuda());
  explain::Target top2;
  top2.top = 2;
  auto methods = explain::all_methods();  // on a transformer's tokens: all but CAM (no global pooling there)
  if (!explain::attention_layers(*model).empty()) methods.erase(methods.begin());
  const auto a = ce.explain(input, top2, methods), b = ge.explain(input, top2, methods);
  EXPECT_EQ(a.class_list(), b.class_list());
  for (const auto& [m, map] : a.maps) {
    const double err = normalized_error(b.maps.at(m), map);
    EXPECT_LE(err, 1e-3) << explain::method_name(m);
  }
}

// The perturbation family on CUDA equals the CPU's (a few channels' worth of copies: RISE with 64 masks, the
// others at the model's default layer).
TEST(CudaExplain, PerturbationMapsMatchCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  const std::string path = source_dir() + "/tests/data/perturbation/model.onnx";
  auto model = Model::load(path);
  const Tensor input = random_input(*model, 2, 5);
  explain::PerturbationOptions o;
  o.layer = "/net/Relu_1_output_0";
  o.rise_masks = 64, o.samples = 3, o.batch = 16;
  explain::PerturbationExplainer cpu(model, {}, o), gpu(model, on_cuda(), o);
  const auto methods = explain::all_perturbation_methods();
  const auto a = cpu.explain(input, {}, methods), b = gpu.explain(input, {}, methods);
  for (const auto& [m, map] : a.maps) {
    const double err = normalized_error(b.maps.at(m), map);
    std::printf("%s on CUDA vs CPU %.3g\n", explain::perturbation_method_name(m), err);
    EXPECT_LE(err, 1e-3) << explain::perturbation_method_name(m);
  }
  EXPECT_EQ(a.stats.skipped_channels, b.stats.skipped_channels);
}

// Attention explanations on CUDA equal the CPU's: raw attention, rollout (discard 0 and 0.5) and gradient rollout
// with each head fusion, for the small transformers and, where exported, the full-size ones.
TEST(CudaExplain, AttentionMatchesCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  std::vector<std::string> paths;
  for (const auto& d : case_dirs(source_dir() + "/tests/data/attention")) paths.push_back(d + "/model.onnx");
  for (const char* full : {"vit_b_16", "deit_tiny_distilled_patch16_224"})
    if (std::filesystem::exists(assets_dir() + "/models/full/" + full + "/model.onnx"))
      paths.push_back(assets_dir() + "/models/full/" + full + "/model.onnx");
  for (const auto& path : paths) {
    auto model = Model::load(path);
    const Tensor input = random_input(*model, 2, 9);
    explain::Target top2;
    top2.top = 2;
    for (auto method : {explain::AttentionMethod::raw, explain::AttentionMethod::rollout,
                        explain::AttentionMethod::grad_rollout})
      for (auto fusion : {explain::HeadFusion::mean, explain::HeadFusion::max, explain::HeadFusion::min})
        for (float ratio : {0.f, 0.5f}) {
          if (ratio > 0 && method != explain::AttentionMethod::rollout) continue;
          explain::AttentionOptions o;
          o.method = method, o.fusion = fusion, o.discard_ratio = ratio, o.normalize = false;
          const auto a = explain::AttentionExplainer(model, {}, o).explain(input, top2);
          const auto b = explain::AttentionExplainer(model, on_cuda(), o).explain(input, top2);
          const double err = normalized_error(b.maps, a.maps.to(Device::cpu()));
          std::printf("%s %s %s discard %.1f on CUDA vs CPU %.3g\n", model_name(path).c_str(),
                      explain::attention_method_name(method), explain::head_fusion_name(fusion), ratio, err);
          EXPECT_LE(err, 1e-3) << path;
        }
  }
}

// Pixel-space methods (the backward rules on CUDA) and a few gradient-ascent steps equal the CPU's.
// The quality metrics (explain/metrics.h) on CUDA equal the CPU's for the same maps: deletion and insertion curves
// and AUCs, Average Drop / Increase in Confidence, the pointing games; chunks of 5 copies (curves across maps).
TEST(CudaExplain, MetricsMatchCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  auto model = Model::load(source_dir() + "/tests/data/vit_pointing/model.onnx");
  const Tensor input = random_input(*model, 3, 11);
  const int64_t H = input.dim(2), W = input.dim(3), R = 6;  // two targets per image
  Tensor maps = Tensor::empty({R, H, W});
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t i = 0; i < maps.numel(); ++i) maps.data<float>()[i] = u(rng);
  const Tensor classes = Tensor::from_vector<float>({R}, {0, 1, 2, 3, 0, 1});
  explain::MetricOptions mo;
  mo.pixels_per_step = 256;
  mo.batch = 5;
  Session cpu(model), gpu(model, on_cuda());
  const auto a = explain::deletion_insertion(cpu, input, maps, classes, mo);
  const auto b = explain::deletion_insertion(gpu, input, maps, classes, mo);
  ASSERT_EQ(a.steps, b.steps);
  for (const auto& [name, x, y] : {std::tuple{"deletion", &a.deletion, &b.deletion},
                                   std::tuple{"insertion", &a.insertion, &b.insertion},
                                   std::tuple{"deletion AUC", &a.deletion_auc, &b.deletion_auc},
                                   std::tuple{"insertion AUC", &a.insertion_auc, &b.insertion_auc}}) {
    const double err = normalized_error(*y, x->to(Device::cpu()));
    std::printf("metrics: %s on CUDA vs CPU %.3g\n", name, err);
    EXPECT_LE(err, 1e-4) << name;
  }
  const auto c = explain::confidence_change(cpu, input, maps, classes, mo);
  const auto d = explain::confidence_change(gpu, input, maps, classes, mo);
  for (int64_t r = 0; r < R; ++r) EXPECT_NEAR(c.drop[size_t(r)], d.drop[size_t(r)], 1e-2) << r;
  EXPECT_EQ(c.increase, d.increase);
  std::vector<std::vector<explain::Box>> boxes(R);
  for (int64_t r = 0; r < R; ++r) boxes[size_t(r)] = {{4 * r, 2 * r, 4 * r + 20, 2 * r + 30}};
  boxes[3].clear();
  const auto p = explain::pointing_game(cpu, maps, boxes), q = explain::pointing_game(gpu, maps, boxes);
  EXPECT_EQ(p.hit, q.hit);
  EXPECT_EQ(p.peak, q.peak);
  for (int64_t r = 0; r < R; ++r) {
    if (r == 3) continue;  // no box: NaN on both
    EXPECT_NEAR(p.energy[size_t(r)], q.energy[size_t(r)], 1e-5) << r;
  }
}

TEST(CudaExplain, PixelMethodsAndAscentMatchCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  auto model = Model::load(source_dir() + "/tests/data/models/resnet_basic/model.onnx");
  const Tensor input = random_input(*model, 2, 9);
  explain::PixelExplainer cpu(model), gpu(model, on_cuda());
  explain::Target top2;
  top2.top = 2;
  const auto a = cpu.explain(input, top2, explain::all_pixel_methods());
  const auto b = gpu.explain(input, top2, explain::all_pixel_methods());
  for (const auto& [m, g] : a.gradients) {
    const double err = normalized_error(b.gradients.at(m), g);
    std::printf("%s on CUDA vs CPU %.3g\n", explain::pixel_method_name(m), err);
    EXPECT_LE(err, 1e-3) << explain::pixel_method_name(m);
  }
  EXPECT_LE(normalized_error(gpu.project(input, gpu.layer(), 3, true), cpu.project(input, cpu.layer(), 3, true)), 1e-3);
  explain::AscentOptions o;
  o.height = o.width = 64, o.steps = 4;
  explain::Dreamer dc(model, {}, o), dg(model, on_cuda(), o);
  const std::vector<explain::Objective> objectives = {explain::Objective::of(explain::Term::logit(1)),
                                                      explain::Objective::of(explain::Term::probability(3))};
  const double err = normalized_error(dg.run(objectives).images, dc.run(objectives).images);
  std::printf("4 ascent steps on CUDA vs CPU %.3g\n", err);
  EXPECT_LE(err, 1e-3);
}

const std::string kEffNet = assets_dir() + "/models/efficientnet_lite0.onnx";

// Captures on the device hold the CPU backend's values.
TEST(CudaSession, CapturesMatchCpu) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  if (!std::filesystem::exists(kEffNet)) GTEST_SKIP() << kEffNet << " not present";
  auto model = Model::load(kEffNet);
  const std::string layer = model->layers().at(model->layers().size() / 2).name;
  Session cpu(model), gpu(model, on_cuda());
  cpu.capture({layer});
  gpu.capture({layer});
  const Tensor input = random_input(*model, 2, 3);
  const Result a = cpu.run(input), b = gpu.run(input);
  EXPECT_EQ(b.capture(layer).device(), Device::cuda(0));
  EXPECT_LE(normalized_error(b.capture(layer), a.capture(layer)), 1e-4) << layer;
}

// After the first run of a shape, runs allocate no device memory: the session's accounting stays put and the
// device's free memory does not move.
TEST(CudaSession, SteadyStateAllocatesNothing) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  if (!std::filesystem::exists(kEffNet)) GTEST_SKIP() << kEffNet << " not present";
  auto model = Model::load(kEffNet);
  Session gpu(model, on_cuda());
  const Tensor input = random_input(*model, 4, 5);
  gpu.run(input).output().to(Device::cpu());  // first run: arena, constants, pool, staging
  const MemoryStats first = gpu.memory();
  size_t free_before = 0, free_after = 0;
#if GLASSBOX_HAS_CUDA
  size_t total = 0;
  cudaMemGetInfo(&free_before, &total);
#endif
  for (int i = 0; i < 3; ++i) gpu.run(input).output().to(Device::cpu());
#if GLASSBOX_HAS_CUDA
  cudaMemGetInfo(&free_after, &total);
#endif
  const MemoryStats later = gpu.memory();
  EXPECT_EQ(later.total(), first.total());
  EXPECT_EQ(free_after, free_before);
  std::printf("EfficientNet-Lite0 batch 4 on cuda:0: arena %.1f MB, constants %.1f MB, workspace %.1f MB, "
              "results %.1f MB\n",
              first.arena / 1e6, first.constants / 1e6, first.workspace / 1e6, first.results / 1e6);
}

// One model, two sessions on two threads (each its own stream and memory), same logits as one session alone.
TEST(CudaSession, TwoThreadsShareOneModel) {
  if (!has_cuda()) GTEST_SKIP() << "no CUDA device";
  if (!std::filesystem::exists(kEffNet)) GTEST_SKIP() << kEffNet << " not present";
  auto model = Model::load(kEffNet);
  const Tensor input = random_input(*model, 2, 9);
  const Tensor want = Session(model, on_cuda()).run(input).output().to(Device::cpu());
  Tensor got[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t)
    threads[t] = std::thread([&, t] {
      Session s(model, on_cuda());
      for (int i = 0; i < 3; ++i) got[t] = s.run(input).output().to(Device::cpu());
    });
  for (auto& th : threads) th.join();
  for (const Tensor& g : got) EXPECT_EQ(normalized_error(g, want), 0.0);
}

}  // namespace
}  // namespace glassbox::test
