// Pixel-space explanations. The backward rules (gradient, Deconvnet, guided backpropagation) against float64
// PyTorch autograd on the same ONNX graph with each rectifier's backward replaced by the rule, written from the
// papers (tests/data/pixel, made by tools/python/make_pixel_goldens.py): a small network with ReLU, ReLU6 and
// LeakyReLU, and resnet_basic (resnet18's structure). Then the methods built on them: the saliency map is the
// channel maximum of |gradient|, guided Grad-CAM the product of guided backpropagation and the normalized
// Grad-CAM map, SmoothGrad without noise the gradient, and K targets equal single-class runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "explain/pixel.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

using kernels::BackwardRule;

std::vector<double> host(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<double>(h.data<float>(), h.data<float>() + h.numel());
}

double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i)
    diff = std::max(diff, std::fabs(got[i] - want[i])), scale = std::max(scale, std::fabs(want[i]));
  return scale > 0 ? diff / scale : diff;
}

struct Case {
  std::string name, model;
};

class Rules : public ::testing::TestWithParam<Case> {};

TEST_P(Rules, MatchFloat64Autograd) {
  test::expect_rules_match_golden(test::source_dir() + GetParam().model,
                                  test::source_dir() + "/tests/data/pixel/" + GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(Pixel, Rules,
                         ::testing::Values(Case{"rectifiers", "/tests/data/pixel/rectifiers/model.onnx"},
                                           Case{"resnet_basic", "/tests/data/models/resnet_basic/model.onnx"}),
                         [](const auto& info) { return info.param.name; });

TEST(Pixel, MethodsFromTheirSignals) {
  auto model = Model::load(test::source_dir() + "/tests/data/models/resnet_basic/model.onnx");
  const Tensor x = test::read_tensor_pb(test::source_dir() + "/tests/data/pixel/resnet_basic/input.pb").tensor;
  PixelOptions o;
  o.normalize = false;
  o.noise_std = 0.f, o.noise_samples = 3;
  PixelExplainer ex(model, {}, o);
  Target top2;
  top2.top = 2;
  const PixelExplanation e = ex.explain(x, top2, all_pixel_methods());
  const int64_t NK = 4, C = x.dim(1), P = x.dim(2) * x.dim(3);
  for (const auto& [m, g] : e.gradients) {  // map = max over channels of |signal|
    const auto gv = host(g), mv = host(e.maps.at(m));
    ASSERT_EQ(int64_t(gv.size()), NK * C * P) << pixel_method_name(m);
    std::vector<double> want(NK * P, 0.0);
    for (int64_t r = 0; r < NK; ++r)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < P; ++p) want[r * P + p] = std::max(want[r * P + p], std::fabs(gv[(r * C + c) * P + p]));
    EXPECT_LE(relative_error(mv, want), 1e-6) << pixel_method_name(m);
  }
  // SmoothGrad without noise: the gradient.
  EXPECT_LE(relative_error(host(e.gradients.at(PixelMethod::smoothgrad)), host(e.gradients.at(PixelMethod::gradient))),
            1e-5);
  // Guided Grad-CAM: guided backpropagation times Grad-CAM (from the gradient explainer), normalized.
  ExplainOptions eo;
  eo.layer = ex.layer();
  Explainer cams(model, {}, eo);
  const Explanation ce = cams.explain(x, top2, {CamMethod::gradcam});
  const auto cam = host(ce.maps.at(CamMethod::gradcam)), guided = host(e.gradients.at(PixelMethod::guided));
  std::vector<double> want(NK * C * P);
  for (int64_t r = 0; r < NK; ++r)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) want[(r * C + c) * P + p] = guided[(r * C + c) * P + p] * cam[r * P + p];
  EXPECT_LE(relative_error(host(e.gradients.at(PixelMethod::guided_gradcam)), want), 1e-5);
  // Top-2 rows equal single-class runs.
  const std::vector<int64_t> classes = e.targets.class_list();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 2; ++k) {
      Target one;
      one.classes.assign(1, classes[n * 2 + k]);
      const PixelExplanation s = ex.explain(x.slice(n, n + 1), one, {PixelMethod::guided, PixelMethod::deconvnet});
      for (PixelMethod m : {PixelMethod::guided, PixelMethod::deconvnet})
        EXPECT_LE(relative_error(host(e.gradients.at(m).slice(n * 2 + k, n * 2 + k + 1)), host(s.gradients.at(m))),
                  1e-5)
            << pixel_method_name(m) << " image " << n << " rank " << k;
    }
  EXPECT_THROW(parse_pixel_method("lrp"), Error);
}

// Deconvnet's projection of one channel: the seed keeps that channel (or its first maximum per image) and zeroes
// the rest; the projection is the backward from that seed at the layer.
TEST(Pixel, ProjectsOneChannelBackToPixels) {
  auto model = Model::load(test::source_dir() + "/tests/data/models/resnet_basic/model.onnx");
  const Tensor x = test::read_tensor_pb(test::source_dir() + "/tests/data/pixel/resnet_basic/input.pb").tensor;
  PixelExplainer ex(model);
  const std::string layer = ex.layer(), input = model->input_names()[0];
  Session s(model);
  s.capture({layer});
  s.track_gradients({input}, {layer});
  const Tensor A = s.run(x).capture(layer);
  const int64_t N = A.dim(0), C = A.dim(1), P = A.dim(2) * A.dim(3), c = 5;
  for (bool peak : {false, true}) {
    Tensor seed = Tensor::zeros(A.shape());
    for (int64_t n = 0; n < N; ++n) {
      const float* a = A.data<float>() + (n * C + c) * P;
      float* out = seed.data<float>() + (n * C + c) * P;
      const int64_t at = std::max_element(a, a + P) - a;
      for (int64_t p = 0; p < P; ++p) out[p] = !peak || p == at ? a[p] : 0.f;
    }
    for (BackwardRule rule : {BackwardRule::deconvnet, BackwardRule::guided}) {
      const auto want = host(s.backward({seed}, rule).at(input));
      const double err = relative_error(host(ex.project(x, layer, c, peak, rule)), want);
      EXPECT_LE(err, 1e-6) << (peak ? "peak" : "map");
      double scale = 0;
      for (double v : want) scale = std::max(scale, std::fabs(v));
      EXPECT_GT(scale, 0);
    }
  }
  EXPECT_THROW(ex.project(x, layer, C, false), Error);
}

}  // namespace
}  // namespace glassbox::explain
