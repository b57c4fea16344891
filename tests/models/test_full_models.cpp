// Slow: the full-size torchvision resnet18, resnet50, vgg16, densenet121, mobilenet_v2 and mobilenet_v3_small
// (random weights) against ONNX Runtime, when `make full-models` has exported them (needs PyTorch).
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

}  // namespace
}  // namespace glassbox::test
