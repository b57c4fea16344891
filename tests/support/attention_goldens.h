// The attention explanations against make_attention_goldens.py's files (tests/data/attention/README.md): a folder
// with layout.txt, input.pb, logits.pb, attention_<b>.pb and the raw, rollout and grad_rollout maps of every head
// fusion, neither normalized nor upsampled. gtest EXPECTs; within `tolerance` of the largest golden value.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "explain/attention.h"
#include "tests/support/testdata.h"

namespace glassbox::test {

// max |got - want| / max |want| below tolerance; the largest so far in `worst`.
inline void expect_attention_close(const Tensor& got, const Tensor& want, const std::string& what, double tolerance,
                                   double& worst) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const Tensor g = got.to(Device::cpu()), w = want.to(Device::cpu());
  double err = 0, scale = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = g.data<float>()[i], b = w.data<float>()[i];
    err = std::max(err, std::abs(a - b)), scale = std::max(scale, std::abs(b));
  }
  const double e = scale > 0 ? err / scale : err;
  EXPECT_LT(e, tolerance) << what;
  worst = std::max(worst, e);
}

// The grid and attention layers the engine finds, the logits, every block's attention, and for each head fusion
// raw, rollout (discard ratio 0 and 0.5) and grad_rollout (classes (3n + 1) mod 10) of the model at model_path on
// the folder's input. Returns the largest error relative to the largest value. The rollouts with discarding get
// discard_tolerance: which entries fall below the threshold is a discontinuous function of the attention, and at
// full size (38809 entries per block) two entries at the threshold can differ by less than float32's resolution
// (vit_tiny_patch16_224, block 0: 0.00630000979 and 0.00630001025), so float32 and float64 zero different ones.
inline double expect_attention_goldens(const std::string& dir, const std::string& model_path,
                                       double tolerance = 1e-4, double discard_tolerance = 1e-4) {
  using namespace glassbox::explain;
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
  EXPECT_GT(B, 0) << dir << "/layout.txt";
  auto model = Model::load(model_path);
  const Tensor x = golden("input.pb");
  const int64_t N = x.dim(0);
  const auto layers = attention_layers(*model);
  EXPECT_EQ(int64_t(layers.size()), B);
  Session session(model);
  const TokenGrid grid = token_grid(*model, session.plan_for({x.shape()}), T);
  EXPECT_EQ(grid.prefix, P);
  EXPECT_EQ(grid.height, h);
  EXPECT_EQ(grid.width, w);
  session.capture(layers);
  const Result r = session.run(x);
  double worst = 0, worst_discard = 0;
  expect_attention_close(r.output(), golden("logits.pb"), "logits", tolerance, worst);
  for (size_t b = 0; b < layers.size(); ++b) {
    const Tensor& A = r.capture(layers[b]);
    EXPECT_EQ(A.dim(1), H);
    expect_attention_close(A, golden("attention_" + std::to_string(b) + ".pb"), "attention " + std::to_string(b),
                           tolerance, worst);
  }
  Target classes;
  for (int64_t n = 0; n < N; ++n) classes.classes.push_back((3 * n + 1) % 10);
  auto options = [](AttentionMethod m, HeadFusion f, float ratio) {
    AttentionOptions o;
    o.method = m, o.fusion = f, o.discard_ratio = ratio, o.upsample = false, o.normalize = false;
    return o;
  };
  for (HeadFusion f : {HeadFusion::mean, HeadFusion::max, HeadFusion::min}) {
    const std::string fn = head_fusion_name(f);
    expect_attention_close(AttentionExplainer(model, {}, options(AttentionMethod::raw, f, 0.f)).explain(x).maps,
                           golden("raw_" + fn + ".pb"), "raw " + fn, tolerance, worst);
    for (float ratio : {0.f, 0.5f})
      expect_attention_close(
          AttentionExplainer(model, {}, options(AttentionMethod::rollout, f, ratio)).explain(x).maps,
          golden("rollout_" + fn + (ratio > 0 ? "_d050.pb" : "_d000.pb")),
          "rollout " + fn + " discard " + std::to_string(ratio), ratio > 0 ? discard_tolerance : tolerance,
          ratio > 0 ? worst_discard : worst);
    expect_attention_close(
        AttentionExplainer(model, {}, options(AttentionMethod::grad_rollout, f, 0.f)).explain(x, classes).maps,
        golden(f == HeadFusion::mean ? std::string("grad_rollout.pb") : "grad_rollout_" + fn + ".pb"),
        "grad_rollout " + fn, tolerance, worst);
  }
  std::printf("%s: largest error %.2g (relative to the largest value), %.2g with discarding\n", dir.c_str(), worst,
              worst_discard);
  return std::max(worst, worst_discard);
}

}  // namespace glassbox::test
