// Slow: the full-size torchvision resnet18, resnet50, vgg16, densenet121, mobilenet_v2 and mobilenet_v3_small, and
// the vision transformers vit_b_16, vit_tiny_patch16_224 and deit_tiny_distilled_patch16_224 (random weights) against ONNX Runtime, when `make full-models` has exported them (needs PyTorch).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

// Slow: full-size torchvision models with random weights, when `make full-models` has exported them.
class FullModel : public ::testing::TestWithParam<std::string> {};
TEST_P(FullModel, MatchesOnnxRuntime) {
  const std::string dir = assets_dir() + "/models/full/" + GetParam();
  if (!std::filesystem::exists(dir + "/model.onnx"))
    GTEST_SKIP() << dir << " not exported (run `make full-models`; needs PyTorch)";
  expect_model_matches_golden(dir, 0);
}
INSTANTIATE_TEST_SUITE_P(Torchvision, FullModel,
                         ::testing::Values("resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v2",
                                           "mobilenet_v3_small"));
// Vision transformers: torchvision vit_b_16, timm vit_tiny and deit_tiny_distilled (issue 8).
INSTANTIATE_TEST_SUITE_P(Transformers, FullModel,
                         ::testing::Values("vit_b_16", "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"));

// Gradients at the input and at the last 4-D activation against float64 PyTorch autograd
// (tools/python/make_gradient_goldens.py --models build/models/full --out build/models/full-gradients, run by
// `make full-models`; vgg16 has no global pooling and no golden).
class FullModelGradients : public ::testing::TestWithParam<std::string> {};
TEST_P(FullModelGradients, MatchPyTorchAutograd) {
  const std::string dir = assets_dir() + "/models/full/" + GetParam();
  const std::string golden = assets_dir() + "/models/full-gradients/" + GetParam();
  if (!std::filesystem::exists(golden + "/layer.txt"))
    GTEST_SKIP() << golden << " not made (run `make full-models`; needs PyTorch)";
  expect_gradients_match_golden(dir, golden, 0, /*allow_float32_error=*/true);
}
INSTANTIATE_TEST_SUITE_P(Torchvision, FullModelGradients,
                         ::testing::Values("resnet18", "resnet50", "densenet121", "mobilenet_v2", "mobilenet_v3_small"));

// The rectifiers' backward rules on the full-size torchvision resnet18 (random weights, 224x224) against float64
// PyTorch autograd with the rules as autograd functions (tools/python/make_pixel_goldens.py --full, run by
// `make full-models`).
TEST(FullModelRules, Resnet18MatchesPyTorch) {
  const std::string golden = assets_dir() + "/models/full-pixel/resnet18";
  if (!std::filesystem::exists(golden + "/grad_guided.pb"))
    GTEST_SKIP() << golden << " not made (run `make full-models`; needs PyTorch)";
  expect_rules_match_golden(assets_dir() + "/models/full/resnet18/model.onnx", golden, /*local_flips=*/true);
}

}  // namespace
}  // namespace glassbox::test
