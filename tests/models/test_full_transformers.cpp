// Slow: the full-size vision transformers of `make full-models` (torchvision vit_b_16, timm vit_tiny_patch16_224 and
// deit_tiny_distilled_patch16_224, random weights, 224x224) against float64 PyTorch (make_attention_goldens.py
// --full): logits, every block's attention, raw attention, rollout, gradient rollout and Grad-CAM on the token grid.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/explain/transformer_goldens.h"

namespace glassbox::test {
namespace {

class FullTransformer : public ::testing::TestWithParam<std::string> {};
TEST_P(FullTransformer, MatchesPyTorch) {
  const std::string dir = assets_dir() + "/models/full/" + GetParam();
  if (!std::filesystem::exists(dir + "/attention/layout.txt"))
    GTEST_SKIP() << dir << "/attention not made (run `make full-models`; needs PyTorch and timm)";
  expect_transformer_goldens(dir + "/model.onnx", dir + "/attention", /*discard_tolerance=*/1e-2);
}
INSTANTIATE_TEST_SUITE_P(Transformers, FullTransformer,
                         ::testing::Values("vit_b_16", "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"));

}  // namespace
}  // namespace glassbox::test
