// Slow: the attention explanations of the full-size vit_b_16 (torchvision), vit_tiny_patch16_224 and
// deit_tiny_distilled_patch16_224 (timm), random weights, 224 x 224, against make_attention_goldens.py --full's
// float64 PyTorch files in build/models/full/<name>/attention (made by `make full-models`; needs PyTorch).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/attention_goldens.h"

namespace glassbox::test {
namespace {

class FullAttention : public ::testing::TestWithParam<std::string> {};

TEST_P(FullAttention, MatchesPython) {
  const std::string dir = assets_dir() + "/models/full/" + GetParam();
  if (!std::filesystem::exists(dir + "/attention/layout.txt"))
    GTEST_SKIP() << dir << "/attention not made (run `make full-models`; needs PyTorch)";
  // Discarding half of each block's fused attention: 1e-2 (attention_goldens.h says why; 3.0e-3 seen).
  expect_attention_goldens(dir + "/attention", dir + "/model.onnx", 1e-4, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Vits, FullAttention,
                         ::testing::Values("vit_b_16", "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"));

}  // namespace
}  // namespace glassbox::test
