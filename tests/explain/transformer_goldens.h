// The Python goldens of a vision transformer (tools/python/make_attention_goldens.py; tests/data/attention/README.md:
// float64 PyTorch re-implementations of timm's and torchvision's ViTs): the engine's logits, every block's captured
// attention, raw attention, rollout and gradient rollout for each head fusion, and Grad-CAM on the token grid at the
// input of the last attention, each within 1e-4 of the largest reference value (maps neither normalized nor
// upsampled). Shared by test_attention (the small committed models) and test_full_transformers (the full-size
// exports of `make full-models`).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "explain/attention.h"
#include "explain/explain.h"
#include "explain/tokens.h"
#include "tests/support/testdata.h"

namespace glassbox::test {

// max |got - want| / max |want| within 1e-4 (shapes equal); the worst so far in `worst`.
inline void expect_golden_close(const Tensor& got_any, const Tensor& want, const std::string& what, double& worst,
                                double tolerance = 1e-4) {
  const Tensor got = got_any.to(Device::cpu());
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double err = 0, scale = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    err = std::max(err, std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]));
    scale = std::max(scale, std::fabs(double(want.data<float>()[i])));
  }
  ASSERT_GT(scale, 0.0) << what << ": the reference is all zero";
  EXPECT_LT(err / scale, tolerance) << what;
  if (tolerance <= 1e-4) worst = std::max(worst, err / scale);
  else std::printf("%s: %.2g (tolerance %.0e)\n", what.c_str(), err / scale, tolerance);
}

// discard_tolerance: for rollout with a discard ratio. Which entries are discarded depends on their order; where
// attention is nearly uniform (the full-size timm models at their default initialization: largest probability
// 0.017 against 1/197) neighbours at the threshold lie closer (3.7e-9) than float32 attentions from two engines
// agree (2e-8), so a few entries swap sides. The reference recomputed from its own float32 attentions agrees to
// 4e-8; test_attention checks the discard against a float64 reference on the engine's own attentions.
inline void expect_transformer_goldens(const std::string& model_path, const std::string& dir,
                                       double discard_tolerance = 1e-4) {
  using namespace explain;
  SCOPED_TRACE(dir);
  auto golden = [&](const std::string& name) { return read_tensor_pb(dir + "/" + name).tensor; };
  std::ifstream layout(dir + "/layout.txt");
  std::string word;
  int64_t P = 0, h = 0, w = 0, T = 0, H = 0, B = 0;
  while (layout >> word) {
    if (word == "prefix") layout >> P;
    else if (word == "grid") layout >> h >> w;
    else if (word == "tokens") layout >> T;
    else if (word == "heads") layout >> H;
    else if (word == "blocks") layout >> B;
  }
  ASSERT_GT(B, 0);
  auto model = Model::load(model_path);
  const Tensor x = golden("input.pb");
  const int64_t N = x.dim(0);
  // The attention layers and the grid the engine finds.
  const auto layers = attention_layers(*model);
  ASSERT_EQ(int64_t(layers.size()), B);
  Session session(model);
  const TokenGrid grid = token_grid(*model, session.plan_for({x.shape()}), T);
  EXPECT_EQ(grid.prefix, P);
  EXPECT_EQ(grid.height, h);
  EXPECT_EQ(grid.width, w);
  session.capture(layers);
  const Result r = session.run(x);
  EXPECT_EQ(r.capture(layers[0]).dim(1), H);
  double worst = 0;
  expect_golden_close(r.output(), golden("logits.pb"), "logits", worst);
  for (int64_t b = 0; b < B; ++b)
    expect_golden_close(r.capture(layers[b]), golden("attention_" + std::to_string(b) + ".pb"),
                        "attention " + std::to_string(b), worst);
  // The maps; gradient rollout and Grad-CAM for the classes (3n + 1) mod 10.
  Target classes;
  for (int64_t n = 0; n < N; ++n) classes.classes.push_back((3 * n + 1) % 10);
  auto plain = [](AttentionMethod m, HeadFusion f, float ratio = 0.f) {
    AttentionOptions o;
    o.method = m, o.fusion = f, o.discard_ratio = ratio, o.upsample = false, o.normalize = false;
    return o;
  };
  for (HeadFusion f : {HeadFusion::mean, HeadFusion::max, HeadFusion::min}) {
    const std::string fn = head_fusion_name(f);
    expect_golden_close(AttentionExplainer(model, {}, plain(AttentionMethod::raw, f)).explain(x).maps,
                        golden("raw_" + fn + ".pb"), "raw " + fn, worst);
    for (float ratio : {0.f, 0.5f})
      expect_golden_close(AttentionExplainer(model, {}, plain(AttentionMethod::rollout, f, ratio)).explain(x).maps,
                          golden("rollout_" + fn + (ratio > 0 ? "_d050.pb" : "_d000.pb")),
                          "rollout " + fn + " " + std::to_string(ratio), worst,
                          ratio > 0 ? discard_tolerance : 1e-4);
    expect_golden_close(
        AttentionExplainer(model, {}, plain(AttentionMethod::grad_rollout, f)).explain(x, classes).maps,
        golden(f == HeadFusion::mean ? std::string("grad_rollout.pb") : "grad_rollout_" + fn + ".pb"),
        "grad_rollout " + fn, worst);
  }
  // Grad-CAM on the token grid, at the input of the last attention (the default layer of a transformer).
  std::ifstream layer_file(dir + "/gradcam_layer.txt");
  std::string layer;
  std::getline(layer_file, layer);
  EXPECT_EQ(default_layer(*model), layer);
  ExplainOptions o;
  o.layer = layer, o.upsample = false, o.normalize = false;
  const auto e = Explainer(model, {}, o).explain(x, classes, {CamMethod::gradcam});
  expect_golden_close(e.maps.at(CamMethod::gradcam), golden("gradcam.pb"), "gradcam", worst);
  std::printf("%s: largest error %.2g (relative to the largest value)\n", dir.c_str(), worst);
}

}  // namespace glassbox::test
