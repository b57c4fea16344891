// The CAM family on a vision transformer's tokens (issue 8): the patch grid comes from the patch embedding, the
// class and distillation tokens are dropped; the methods that perturb the layer itself say why they cannot run.
// Grad-CAM on tokens against the hand-reshaped float64 PyTorch reference: tests/explain/transformer_goldens.h.
#include <gtest/gtest.h>

#include <filesystem>

#include "explain/explain.h"
#include "explain/perturbation.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

using explain::CamMethod;

TEST(TokenCam, UpsampledMapsAndScoreCamOnTokens) {
  const std::string dir = source_dir() + "/tests/data/attention/timm_deit_distilled";  // class + distillation
  auto model = Model::load(dir + "/model.onnx");
  const Tensor x = read_tensor_pb(dir + "/input.pb").tensor;
  explain::Explainer ex(model);
  const auto e = ex.explain(x, {}, {CamMethod::gradcam});
  EXPECT_EQ(e.maps.at(CamMethod::gradcam).shape(), (Shape{x.dim(0), x.dim(2), x.dim(3)}));
  explain::PerturbationExplainer px(model);
  const auto r = px.explain(x, {}, {explain::PerturbationMethod::scorecam});
  const Tensor m = r.maps.at(explain::PerturbationMethod::scorecam).to(Device::cpu());
  ASSERT_EQ(m.shape(), (Shape{x.dim(0), x.dim(2), x.dim(3)}));
  for (int64_t i = 0; i < m.numel(); ++i) ASSERT_TRUE(std::isfinite(m.data<float>()[i]));
}

TEST(TokenCam, LayerPerturbationsOnTokensSayWhy) {
  const std::string dir = source_dir() + "/tests/data/attention/timm_vit";
  auto model = Model::load(dir + "/model.onnx");
  const Tensor x = read_tensor_pb(dir + "/input.pb").tensor;
  explain::PerturbationExplainer px(model);
  try {
    px.explain(x, {}, {explain::PerturbationMethod::ablationcam});
    FAIL() << "expected an error";
  } catch (const std::exception& err) {
    const std::string msg = err.what();
    EXPECT_NE(msg.find("ablationcam perturbs the layer itself"), std::string::npos) << msg;
    EXPECT_NE(msg.find("scorecam"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace glassbox::test
