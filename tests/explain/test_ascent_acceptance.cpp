// Activation maximization's acceptance check on the bundled EfficientNet-Lite0 (skipped without it): 256 Adam steps
// in pixel mode for class 1 (goldfish) reach a softmax probability above 0.9, and the image written as PNG, read back
// and classified again keeps it above 0.9. Preprocessing: x = (255 * image - 127) / 128 (the model's).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "explain/ascent.h"
#include "tests/support/testdata.h"
#include "tools/glassbox/image.h"

namespace glassbox::explain {
namespace {

double probability_of(Session& s, const Tensor& x, int64_t cls) {
  const Tensor z = s.run(x).output().to(Device::cpu());
  const float* l = z.data<float>();
  double m = -INFINITY, sum = 0;
  for (int64_t j = 0; j < z.dim(1); ++j) m = std::max(m, double(l[j]));
  for (int64_t j = 0; j < z.dim(1); ++j) sum += std::exp(double(l[j]) - m);
  return std::exp(double(l[cls]) - m) / sum;
}

TEST(AscentAcceptance, EfficientNetLite0Goldfish) {
  const std::string path = test::assets_dir() + "/models/efficientnet_lite0.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (make assets)";
  auto model = Model::load(path);
  AscentOptions o;
  o.steps = 256;
  for (int c = 0; c < 3; ++c) o.mean[c] = 127.f, o.std[c] = 128.f;
  const auto start = std::chrono::steady_clock::now();
  Dreamer d(model, {}, o);
  const AscentResult r = d.run({Objective::of(Term::logit(1))});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Tensor img = r.images.to(Device::cpu());
  std::printf("256 steps at 224x224: %.1f s; logit of class 1: %.3g -> %.3g\n", seconds, r.objective.front()[0],
              r.objective.back()[0]);

  Session s(model);
  Tensor x = Tensor::empty(img.shape());
  for (int64_t i = 0; i < img.numel(); ++i) x.data<float>()[i] = (255.f * img.data<float>()[i] - 127.f) / 128.f;
  const double p = probability_of(s, x, 1);

  tools::Image png;
  png.width = int(img.dim(3)), png.height = int(img.dim(2));
  png.rgb.resize(size_t(png.width * png.height * 3));
  const int64_t P = img.dim(2) * img.dim(3);
  for (int64_t q = 0; q < P; ++q)
    for (int64_t c = 0; c < 3; ++c)
      png.rgb[size_t(q * 3 + c)] = uint8_t(std::lround(std::clamp(img.data<float>()[c * P + q], 0.f, 1.f) * 255.f));
  const std::string file = (std::filesystem::temp_directory_path() / "glassbox_dream_goldfish.png").string();
  tools::save_png(file, png);
  tools::Preprocess pre;
  pre.resize = 0, pre.crop = int(img.dim(2));  // the image as it is (square)
  for (int c = 0; c < 3; ++c) pre.mean[c] = 127.f, pre.std[c] = 128.f;
  const double p_png = probability_of(s, tools::make_batch({tools::load_image(file)}, pre), 1);
  std::printf("p(goldfish) = %.4f; from the PNG: %.4f\n", p, p_png);
  EXPECT_GT(p, 0.9);
  EXPECT_GT(p_png, 0.9);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace glassbox::explain
