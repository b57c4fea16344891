// Explanation quality metrics (explain/metrics.h): every metric against values computed by hand on tiny cases, a
// 2 x 2 "image" through a linear model built here (logits = (sum of the pixels, 0), so p_0 = sigmoid(sum) and p_1 =
// sigmoid(-sum)); the pointing game at exactly 15 and 16 pixels; the energy game at 0.75; chunking (batch 1, 2 and
// the memory budget give the same numbers); and, where the bundled EfficientNet-Lite0 and photos exist, Grad-CAM
// maps against random maps (ranges, and deletion with the map beats deletion with a random map).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "explain/explain.h"
#include "explain/metrics.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/testdata.h"
#include "tools/glassbox/image.h"

namespace glassbox::explain {
namespace {

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// input [N, 1, 2, 2] -> Flatten -> Gemm with B = [[1, 0]] x 4, C = 0: logits [N, 2] = (sum of the pixels, 0).
std::shared_ptr<const Model> sum_model() {
  test::OnnxBuilder b("sum");
  b.input("input", {-1, 1, 2, 2});
  b.floats("B", {4, 2}, {1, 0, 1, 0, 1, 0, 1, 0});
  b.floats("C", {2}, {0, 0});
  b.node("Flatten", "flat", {"input"}, {"f"});
  b.node("Gemm", "gemm", {"f", "B", "C"}, {"logits"});
  b.output("logits", {-1, 2});
  const std::string bytes = b.bytes();
  return Model::from_bytes(bytes.data(), bytes.size(), {}, "sum");
}

std::vector<float> host(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<float>(h.data<float>(), h.data<float>() + h.numel());
}

double trapezoid(const std::vector<double>& c) {
  double s = 0;
  for (size_t i = 0; i + 1 < c.size(); ++i) s += (c[i] + c[i + 1]) / 2;
  return s / double(c.size() - 1);
}

// Image 0 = [2, 1, 0.5, -1] (sum 2.5); image 1 = [1, 1, 1, 1] (sum 4). Map [0.1, 0.9, 0.5, 0.9]: pixel 1 first,
// then 3 (the tie goes to the lower index), 2, 0. Image 1's map [0, 0, 0, 0]: order 0, 1, 2, 3.
const std::vector<float> kImages = {2, 1, 0.5f, -1, 1, 1, 1, 1};
const std::vector<float> kMaps = {0.1f, 0.9f, 0.5f, 0.9f, 0.1f, 0.9f, 0.5f, 0.9f, 0, 0, 0, 0, 0, 0, 0, 0};
const std::vector<float> kClasses = {0, 1, 0, 1};  // K = 2 per image: class 0 and class 1

TEST(Metrics, DeletionInsertionByHand) {
  Session s(sum_model());
  const Tensor x = Tensor::from_vector<float>({2, 1, 2, 2}, kImages);
  const Tensor maps = Tensor::from_vector<float>({4, 2, 2}, kMaps);
  const Tensor classes = Tensor::from_vector<float>({4}, kClasses);
  // One pixel per step (S = 4): remaining sums. Deletion to 0: image 0 2.5, 1.5 (pixel 1 gone), 2.5 (pixel 3),
  // 2 (pixel 2), 0; image 1 4, 3, 2, 1, 0. Insertion from 0: image 0 0, 1, 0, 0.5, 2.5; image 1 0, 1, 2, 3, 4.
  const std::vector<std::vector<double>> del_sums = {{2.5, 1.5, 2.5, 2, 0}, {4, 3, 2, 1, 0}};
  const std::vector<std::vector<double>> ins_sums = {{0, 1, 0, 0.5, 2.5}, {0, 1, 2, 3, 4}};
  for (int64_t batch : {1, 2, 3, 7, 0}) {  // chunks within a map's 5 copies, across maps and images, all at once
    MetricOptions o;
    o.pixels_per_step = 1, o.insertion = Substrate::zero, o.batch = batch;
    const Curves c = deletion_insertion(s, x, maps, classes, o);
    ASSERT_EQ(c.steps, 4);
    const auto del = host(c.deletion), ins = host(c.insertion);
    const auto del_auc = host(c.deletion_auc), ins_auc = host(c.insertion_auc);
    for (int r = 0; r < 4; ++r) {
      const int n = r / 2;
      const double sign = kClasses[size_t(r)] == 0 ? 1 : -1;  // p_1 = sigmoid(-sum)
      std::vector<double> want_del, want_ins;
      for (int i = 0; i <= 4; ++i) {
        want_del.push_back(sigmoid(sign * del_sums[size_t(n)][size_t(i)]));
        want_ins.push_back(sigmoid(sign * ins_sums[size_t(n)][size_t(i)]));
        EXPECT_NEAR(del[size_t(r * 5 + i)], want_del.back(), 1e-6)
            << "batch " << batch << " map " << r << " step " << i;
        EXPECT_NEAR(ins[size_t(r * 5 + i)], want_ins.back(), 1e-6)
            << "batch " << batch << " map " << r << " step " << i;
      }
      EXPECT_NEAR(del_auc[size_t(r)], trapezoid(want_del), 1e-6);
      EXPECT_NEAR(ins_auc[size_t(r)], trapezoid(want_ins), 1e-6);
    }
  }
  // Three pixels per step: S = ceil(4 / 3) = 2; image 0, class 0: sums 2.5, 2 (pixels 1, 3, 2 gone), 0:
  // AUC = (sigmoid(2.5) / 2 + sigmoid(2) + sigmoid(0) / 2) / 2.
  MetricOptions o;
  o.pixels_per_step = 3, o.run_insertion = false;
  const Curves c = deletion_insertion(s, x, maps, classes, o);
  ASSERT_EQ(c.steps, 2);
  EXPECT_FALSE(c.insertion.defined());
  const auto del = host(c.deletion);
  EXPECT_NEAR(del[0], sigmoid(2.5), 1e-6);
  EXPECT_NEAR(del[1], sigmoid(2.0), 1e-6);
  EXPECT_NEAR(del[2], 0.5, 1e-6);
  EXPECT_NEAR(host(c.deletion_auc)[0], (sigmoid(2.5) / 2 + sigmoid(2.0) + 0.25) / 2, 1e-6);
}

// The blur by hand: 3 taps, sigma 1: g = (e^-1/2, 1, e^-1/2) / (1 + 2 e^-1/2) per axis, zero padding.
TEST(Metrics, GaussianBlurByHand) {
  Session s(sum_model());
  std::vector<float> delta(9, 0.f), ones(9, 1.f);
  delta[4] = 1.f;
  std::vector<float> both = delta;
  both.insert(both.end(), ones.begin(), ones.end());
  const Tensor y = gaussian_blur(s, Tensor::from_vector<float>({1, 2, 3, 3}, both), 3, 1.f);
  const double e = std::exp(-0.5), z = 1 + 2 * e, g[3] = {e / z, 1 / z, e / z};
  const auto v = host(y);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(v[size_t(i * 3 + j)], g[i] * g[j], 1e-6);
  // The constant image: the corner keeps taps 1..2 of each axis, the edge middle 1..2 x 0..2, the centre all.
  EXPECT_NEAR(v[9 + 0], (1 + e) / z * (1 + e) / z, 1e-6);
  EXPECT_NEAR(v[9 + 1], (1 + e) / z, 1e-6);
  EXPECT_NEAR(v[9 + 4], 1.0, 1e-6);
  EXPECT_THROW(gaussian_blur(s, Tensor::from_vector<float>({1, 2, 3, 3}, both), 4, 1.f), Error);
}

// Insertion from the blurred image (the default substrate): 3 taps, sigma 1 on the 2 x 2 image 0: every output
// pixel keeps the 2 x 2 taps g1, g0 of each axis on the image (the rest is padding): blurred(p) = sum_q x_q
// g(|dy|) g(|dx|), g(0) = 1 / z, g(1) = e / z.
TEST(Metrics, InsertionFromBlurByHand) {
  Session s(sum_model());
  const Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {2, 1, 0.5f, -1});
  const Tensor maps = Tensor::from_vector<float>({1, 2, 2}, {0.1f, 0.9f, 0.5f, 0.9f});
  const Tensor classes = Tensor::from_vector<float>({1}, {0});
  MetricOptions o;
  o.pixels_per_step = 1, o.blur_size = 3, o.blur_sigma = 1.f, o.run_deletion = false;
  const Curves c = deletion_insertion(s, x, maps, classes, o);
  const double e = std::exp(-0.5), z = 1 + 2 * e, g0 = 1 / z, g1 = e / z;
  const double px[4] = {2, 1, 0.5, -1};
  double blurred[4];
  for (int p = 0; p < 4; ++p) {
    blurred[p] = 0;
    for (int q = 0; q < 4; ++q)
      blurred[p] += px[q] * ((p / 2 == q / 2) ? g0 : g1) * ((p % 2 == q % 2) ? g0 : g1);
  }
  // Insertion order 1, 3, 2, 0.
  const int order[4] = {1, 3, 2, 0};
  double current[4] = {blurred[0], blurred[1], blurred[2], blurred[3]};
  const auto ins = host(c.insertion);
  for (int step = 0; step <= 4; ++step) {
    if (step > 0) current[order[step - 1]] = px[order[step - 1]];
    EXPECT_NEAR(ins[size_t(step)], sigmoid(current[0] + current[1] + current[2] + current[3]), 1e-6) << step;
  }
  EXPECT_FALSE(c.deletion.defined());
}

// Average Drop / Increase in Confidence: image 0 times the map [1, 0, 0.5, 1] sums to 2 + 0.25 - 1 = 1.25.
// Class 0: Y = sigmoid(2.5), O = sigmoid(1.25): drop 100 (Y - O) / Y, no increase. Class 1: Y = sigmoid(-2.5),
// O = sigmoid(-1.25) > Y: drop 0, increase. Image 1 ([1, 1, 1, 1]) times [0.5] x 4 sums to 2: class 0 drops
// 100 (sigmoid(4) - sigmoid(2)) / sigmoid(4); with class 0 again for its second map (the map of ones: O = Y, neither).
TEST(Metrics, ConfidenceChangeByHand) {
  Session s(sum_model());
  const Tensor x = Tensor::from_vector<float>({2, 1, 2, 2}, kImages);
  const Tensor maps = Tensor::from_vector<float>({4, 2, 2}, {1, 0, 0.5f, 1, 1, 0, 0.5f, 1, 0.5f, 0.5f, 0.5f, 0.5f,
                                                             1, 1, 1, 1});
  const Tensor classes = Tensor::from_vector<float>({4}, {0, 1, 0, 0});
  const double drops[4] = {100 * (sigmoid(2.5) - sigmoid(1.25)) / sigmoid(2.5), 0,
                           100 * (sigmoid(4) - sigmoid(2)) / sigmoid(4), 0};
  for (int64_t batch : {1, 2, 3, 0}) {  // chunks within an image, across images, all at once
    MetricOptions o;
    o.batch = batch;
    const ConfidenceChange r = confidence_change(s, x, maps, classes, o);
    ASSERT_EQ(r.drop.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(r.drop[size_t(i)], drops[i], 1e-4) << "batch " << batch << " map " << i;
    EXPECT_EQ(r.increase, (std::vector<int>{0, 1, 0, 0}));
    EXPECT_NEAR(r.average_drop, (drops[0] + drops[2]) / 4, 1e-4);
    EXPECT_NEAR(r.increase_in_confidence, 25.0, 1e-9);
    const auto Y = host(r.full), O = host(r.masked);
    EXPECT_NEAR(Y[1], sigmoid(-2.5), 1e-6);
    EXPECT_NEAR(O[1], sigmoid(-1.25), 1e-6);
    EXPECT_NEAR(O[3], sigmoid(4), 1e-6);
  }
}

// The pointing game at 15 and 16 pixels (straight and diagonal: 9^2 + 12^2 = 15^2, 9^2 + 13^2 > 15^2), inside a
// box, several boxes, a map without boxes, ties (the first maximum in row-major order); the energy game.
TEST(Metrics, PointingGameByHand) {
  Session s(sum_model());
  const int64_t H = 40, W = 40, R = 7;
  std::vector<float> m(size_t(R * H * W), 0.f);
  for (int64_t r = 0; r < R; ++r) m[size_t(r * H * W + 20 * W + 30)] = 1.f;  // peak at x = 30, y = 20
  m[size_t(6 * H * W + 20 * W + 30)] = 0.f;
  m[size_t(6 * H * W + 2 * W + 3)] = 2.f, m[size_t(6 * H * W + 35 * W + 35)] = 2.f;  // tie: (3, 2) comes first
  const std::vector<std::vector<Box>> boxes = {
      {{0, 20, 15, 20}},                     // 15 px to the left: hit
      {{0, 20, 14, 20}},                     // 16 px: miss
      {{0, 0, 21, 8}},                       // dx 9, dy 12: 15 px: hit
      {{0, 0, 21, 7}},                       // dx 9, dy 13: miss
      {{0, 0, 1, 1}, {28, 18, 33, 25}},      // inside the second box: hit
      {},                                    // no box: not counted
      {{0, 0, 5, 5}}};                       // the first maximum (3, 2) is inside
  const Pointing p = pointing_game(s, Tensor::from_vector<float>({R, H, W}, m), boxes, 15.0);
  EXPECT_EQ(p.hit, (std::vector<int>{1, 0, 1, 0, 1, -1, 1}));
  EXPECT_EQ(p.peak[0], 20 * W + 30);
  EXPECT_EQ(p.peak[6], 2 * W + 3);
  EXPECT_NEAR(p.accuracy, 4.0 / 6.0, 1e-12);
  EXPECT_TRUE(std::isnan(p.energy[5]));
  EXPECT_NEAR(p.energy[4], 1.0, 1e-6);  // all the energy at the peak, inside
  EXPECT_NEAR(p.energy[0], 0.0, 1e-6);  // the peak is outside the box

  // Energy: the map [0, 1; 1, 2] normalizes to [0, .5; .5, 1]; the right column holds 1.5 of 2: 0.75. A constant
  // map normalizes to 0: energy 0.
  const Pointing e = pointing_game(s, Tensor::from_vector<float>({2, 2, 2}, {0, 1, 1, 2, 3, 3, 3, 3}),
                                   {{{1, 0, 1, 1}}, {{0, 0, 0, 0}}});
  EXPECT_NEAR(e.energy[0], 0.75, 1e-6);
  EXPECT_NEAR(e.energy[1], 0.0, 1e-12);
  EXPECT_NEAR(e.mean_energy, 0.375, 1e-6);
  EXPECT_EQ(e.hit, (std::vector<int>{1, 1}));  // the maximum (1, 1) is in the box; the constant map's is (0, 0)
}

TEST(Metrics, Errors) {
  Session s(sum_model());
  const Tensor x = Tensor::from_vector<float>({2, 1, 2, 2}, kImages);
  const Tensor maps = Tensor::from_vector<float>({3, 2, 2}, std::vector<float>(12, 0.f));
  const Tensor classes = Tensor::from_vector<float>({3}, {0, 0, 0});
  EXPECT_THROW(deletion_insertion(s, x, maps, classes), Error);  // 3 maps for 2 images
  EXPECT_THROW(confidence_change(s, x, maps, classes), Error);
  EXPECT_THROW(pointing_game(s, maps, {{}}), Error);              // one box list for 3 maps
}

// EfficientNet-Lite0 on the bundled photos: Grad-CAM maps of the top class against uniform random maps.
TEST(Metrics, EfficientNetLite0GradCamAgainstRandom) {
  const std::string path = test::assets_dir() + "/models/efficientnet_lite0.onnx";
  const std::string photos = test::assets_dir() + "/photos";
  if (!std::filesystem::exists(path) || !std::filesystem::exists(photos + "/chelsea.png"))
    GTEST_SKIP() << path << " or the photos are absent (make assets)";
  auto model = Model::load(path);
  tools::Preprocess pre;
  for (int c = 0; c < 3; ++c) pre.mean[c] = 127.f, pre.std[c] = 128.f;
  std::vector<tools::Image> images;
  for (const char* name : {"chelsea.png", "coffee.png", "astronaut.png", "motorcycle.png"})
    images.push_back(tools::load_image(photos + "/" + name));
  const Tensor x = tools::make_batch(images, pre);
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3);

  Explainer ex(model);
  const Explanation e = ex.explain(x, {}, {CamMethod::gradcam});
  const Tensor cam = e.maps.at(CamMethod::gradcam).to(Device::cpu());
  const Tensor classes = e.classes.to(Device::cpu());
  // Random maps with the Grad-CAM maps' structure: uniform 7 x 7 grids (the layer's resolution) upsampled
  // bilinearly. Random per-pixel maps are a much harder baseline to beat in deletion: removing scattered pixels
  // (salt-and-pepper holes) destroys the prediction faster than removing the object (printed, not asserted).
  Session s(model);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Tensor grid = Tensor::empty({N, 7, 7}), pixels = Tensor::empty({N, H, W});
  for (int64_t i = 0; i < grid.numel(); ++i) grid.data<float>()[i] = u(rng);
  for (int64_t i = 0; i < pixels.numel(); ++i) pixels.data<float>()[i] = u(rng);
  Tensor random = Tensor::empty({N, H, W});
  s.backend().resize_bilinear(kernels::view_of(grid), kernels::view_of(random));

  MetricOptions o;
  o.pixels_per_step = 224 * 28;  // 8 steps: a quick CPU run, also under the sanitizers (Petsiuk et al. use 224)
  o.batch = 18;
  const Curves c_cam = deletion_insertion(s, x, cam, classes, o);
  const Curves c_rnd = deletion_insertion(s, x, random, classes, o);
  o.run_insertion = false;
  const Curves c_pix = deletion_insertion(s, x, pixels, classes, o);
  const auto dp = host(c_pix.deletion_auc);
  const auto dc = host(c_cam.deletion_auc), dr = host(c_rnd.deletion_auc);
  const auto ic = host(c_cam.insertion_auc), ir = host(c_rnd.insertion_auc);
  double mean_dc = 0, mean_dr = 0, mean_ic = 0, mean_ir = 0, mean_dp = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::printf("image %lld class %d: deletion AUC grad-cam %.4f random %.4f (per pixel %.4f); insertion AUC "
                "grad-cam %.4f random %.4f\n",
                (long long)n, int(classes.data<float>()[n]), dc[size_t(n)], dr[size_t(n)], dp[size_t(n)],
                ic[size_t(n)], ir[size_t(n)]);
    for (float v : {dc[size_t(n)], dr[size_t(n)], ic[size_t(n)], ir[size_t(n)]}) {
      EXPECT_GE(v, 0.f);
      EXPECT_LE(v, 1.f);
    }
    mean_dc += dc[size_t(n)] / N, mean_dr += dr[size_t(n)] / N, mean_ic += ic[size_t(n)] / N,
        mean_ir += ir[size_t(n)] / N, mean_dp += dp[size_t(n)] / N;
  }
  std::printf("mean deletion AUC: grad-cam %.4f, random %.4f (per pixel %.4f); mean insertion AUC: grad-cam %.4f, "
              "random %.4f\n",
              mean_dc, mean_dr, mean_dp, mean_ic, mean_ir);
  EXPECT_LT(mean_dc, mean_dr);

  const ConfidenceChange cc = confidence_change(s, x, cam, classes);
  const ConfidenceChange cr = confidence_change(s, x, random, classes);
  std::printf("Average Drop: grad-cam %.2f%%, random %.2f%%; Increase in Confidence: grad-cam %.1f%%, random %.1f%%\n",
              cc.average_drop, cr.average_drop, cc.increase_in_confidence, cr.increase_in_confidence);
  for (const ConfidenceChange* r : {&cc, &cr}) {
    EXPECT_GE(r->average_drop, 0.0);
    EXPECT_LE(r->average_drop, 100.0);
    EXPECT_GE(r->increase_in_confidence, 0.0);
    EXPECT_LE(r->increase_in_confidence, 100.0);
  }
}

}  // namespace
}  // namespace glassbox::explain
