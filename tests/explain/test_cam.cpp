// The gradient CAM family against independent float64 computations of each paper's formula (written again here,
// loop by loop) from the layer's activations A and gradients G, which the engine's backward gives (itself tested
// against PyTorch autograd in test_backward). Also: a Grad-CAM++ case with tiny gradients where an absolute
// epsilon would change the map, the softmax-probability target, batch invariance, several methods from one pass
// equal separate calls, top-k maps equal single-class runs, and Smooth Grad-CAM++'s averaging.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "explain/explain.h"
#include "kernels/kernels.h"
#include "tests/support/cam_reference.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

using Maps = std::vector<double>;  // [N, P]
using test::resize_reference;

// The formulas of kernels.h, in float64, for samples = 1 (A, G: [N, C, P]).
Maps reference(CamMethod m, const std::vector<double>& A, const std::vector<double>& G, int64_t N, int64_t C,
               int64_t P) {
  Maps out(N * P, 0.0);
  for (int64_t n = 0; n < N; ++n) {
    auto a = [&](int64_t c, int64_t p) { return A[(n * C + c) * P + p]; };
    auto g = [&](int64_t c, int64_t p) { return G[(n * C + c) * P + p]; };
    std::vector<double> w(C, 0.0);
    for (int64_t c = 0; c < C; ++c) {
      double sa = 0, sg = 0;
      for (int64_t p = 0; p < P; ++p) sa += a(c, p), sg += g(c, p);
      if (m == CamMethod::cam) w[c] = sg;
      if (m == CamMethod::gradcam) w[c] = sg / P;
      if (m == CamMethod::xgradcam && sa != 0)
        for (int64_t p = 0; p < P; ++p) w[c] += a(c, p) / sa * g(c, p);
      if (m == CamMethod::gradcampp || m == CamMethod::smoothgradcampp)
        for (int64_t p = 0; p < P; ++p) {
          const double gv = g(c, p);
          if (gv == 0) continue;  // alpha = 0 where the gradient is 0; no epsilon anywhere
          const double alpha = gv * gv / (2 * gv * gv + sa * gv * gv * gv);
          w[c] += alpha * std::max(gv, 0.0);
        }
    }
    for (int64_t p = 0; p < P; ++p) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) {
        if (m == CamMethod::layercam) s += std::max(g(c, p), 0.0) * a(c, p);
        else if (m == CamMethod::hirescam) s += g(c, p) * a(c, p);
        else if (m == CamMethod::gradcam_elementwise) s += std::max(g(c, p) * a(c, p), 0.0);
        else s += w[c] * a(c, p);
      }
      out[n * P + p] = (m == CamMethod::cam || m == CamMethod::hirescam) ? s : std::max(s, 0.0);
    }
  }
  return out;
}

std::vector<double> to_double(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<double>(h.data<float>(), h.data<float>() + h.numel());
}

double normalized_error(const Tensor& got, const Maps& want) {
  const auto g = to_double(got);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) diff = std::max(diff, std::fabs(g[i] - want[i])), scale = std::max(scale, std::fabs(want[i]));
  return scale > 0 ? diff / scale : diff;
}

const std::string kModelDir = test::source_dir() + "/tests/data/models/resnet_bottleneck";

struct Golden {
  std::vector<double> A, G;
  int64_t N, C, P;
};

// A and dY/dA at the default layer for the given seed, from a plain session.
Golden golden(const std::shared_ptr<const Model>& model, const Tensor& x, const std::vector<int64_t>& cls,
              bool probability) {
  const std::string layer = default_layer(*model);
  Session s(model);
  s.capture({layer});
  s.track_gradients({layer});
  const Result r = s.run(x);
  const Tensor& z = r.output();
  const int64_t N = z.dim(0), K = z.dim(1);
  Tensor seed = Tensor::zeros(z.shape());
  for (int64_t n = 0; n < N; ++n) {
    if (!probability) {
      seed.data<float>()[n * K + cls[n]] = 1.f;
      continue;
    }
    std::vector<double> p(K);
    double sum = 0;
    for (int64_t j = 0; j < K; ++j) sum += (p[j] = std::exp(double(z.data<float>()[n * K + j])));
    for (int64_t j = 0; j < K; ++j) {  // d p_c / d z_j = p_c (delta_cj - p_j)
      const double pc = p[cls[n]] / sum, pj = p[j] / sum;
      seed.data<float>()[n * K + j] = float(pc * ((j == cls[n]) - pj));
    }
  }
  const Tensor G = s.backward({seed}).at(layer);
  const Tensor& A = r.capture(layer);
  return {to_double(A), to_double(G), A.dim(0), A.dim(1), A.dim(2) * A.dim(3)};
}

TEST(Cam, EveryMethodEqualsItsFormula) {
  auto model = Model::load(kModelDir + "/model.onnx");
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;
  ExplainOptions raw;
  raw.upsample = false, raw.normalize = false;
  Explainer ex(model, {}, raw);
  const std::vector<int64_t> cls = {3, 7};
  for (bool probability : {false, true}) {
    Target t;
    t.classes = cls;
    t.probability = probability;
    std::vector<CamMethod> methods = all_methods();
    methods.pop_back();  // Smooth Grad-CAM++ has its own test
    const Explanation e = ex.explain(x, t, methods);
    const Golden gd = golden(model, x, cls, probability);
    for (CamMethod m : methods) {
      const double err = normalized_error(e.maps.at(m), reference(m, gd.A, gd.G, gd.N, gd.C, gd.P));
      std::printf("%s (%s target): error to the float64 formula %.2g\n", method_name(m), probability ? "probability" : "logit", err);
      EXPECT_LE(err, 1e-5) << method_name(m);
    }
  }
}

// Gradients of order 1e-9 (a saturated softmax): alpha = G^2 / (2G^2 + sum(A) G^3) is about 1/2, which an
// absolute epsilon of 1e-6 in the denominator would drive to about 0.
TEST(Cam, GradCamPlusPlusHasNoEpsilon) {
  const int64_t N = 1, C = 3, P = 16;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> pos(0.f, 2.f), grad(-1e-9f, 2e-9f);
  Tensor A = Tensor::empty({N, C, 4, 4}), G = Tensor::empty({N, C, 4, 4}), map = Tensor::empty({N, 4, 4});
  for (int64_t i = 0; i < A.numel(); ++i) A.data<float>()[i] = pos(rng), G.data<float>()[i] = grad(rng);
  auto cpu = kernels::make_cpu_backend(1);
  cpu->cam(CamMethod::gradcampp, 1, kernels::view_of(A), kernels::view_of(G), kernels::view_of(map));
  const Maps want = reference(CamMethod::gradcampp, to_double(A), to_double(G), N, C, P);
  EXPECT_LE(normalized_error(map, want), 1e-6);
  double max_want = 0;
  for (double v : want) max_want = std::max(max_want, v);
  EXPECT_GT(max_want, 1e-10);  // a real map, of the gradients' scale
  // What an epsilon of 1e-6 would have given: about 1e-3 of that.
  double eps_max = 0;
  for (int64_t p = 0; p < P; ++p) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) {
      double sa = 0, w = 0;
      for (int64_t q = 0; q < P; ++q) sa += A.data<float>()[c * P + q];
      for (int64_t q = 0; q < P; ++q) {
        const double g = G.data<float>()[c * P + q];
        w += g * g / (2 * g * g + sa * g * g * g + 1e-6) * std::max(g, 0.0);
      }
      s += w * A.data<float>()[c * P + p];
    }
    eps_max = std::max(eps_max, s);
  }
  EXPECT_LT(eps_max, 1e-3 * max_want);
}

// Smooth Grad-CAM++ averages G, G^2, G^3 and A over the copies before Grad-CAM++'s formula.
TEST(Cam, SmoothGradCamPlusPlusAveragesTheCopies) {
  const int64_t S = 3, C = 2, P = 9;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  Tensor A = Tensor::empty({S, C, 3, 3}), G = Tensor::empty({S, C, 3, 3}), map = Tensor::empty({1, 3, 3});
  for (int64_t i = 0; i < A.numel(); ++i) A.data<float>()[i] = std::fabs(normal(rng)), G.data<float>()[i] = normal(rng);
  auto cpu = kernels::make_cpu_backend(1);
  cpu->cam(CamMethod::smoothgradcampp, int(S), kernels::view_of(A), kernels::view_of(G), kernels::view_of(map));
  std::vector<double> a(C * P, 0), g1(C * P, 0), g2(C * P, 0), g3(C * P, 0);
  for (int64_t k = 0; k < S; ++k)
    for (int64_t i = 0; i < C * P; ++i) {
      const double g = G.data<float>()[k * C * P + i];
      a[i] += A.data<float>()[k * C * P + i] / S, g1[i] += g / S, g2[i] += g * g / S, g3[i] += g * g * g / S;
    }
  Maps want(P, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double sa = 0, w = 0;
    for (int64_t p = 0; p < P; ++p) sa += a[c * P + p];
    for (int64_t p = 0; p < P; ++p)
      if (g2[c * P + p] != 0) w += g2[c * P + p] / (2 * g2[c * P + p] + sa * g3[c * P + p]) * std::max(g1[c * P + p], 0.0);
    for (int64_t p = 0; p < P; ++p) want[p] += w * a[c * P + p];
  }
  for (double& v : want) v = std::max(v, 0.0);
  EXPECT_LE(normalized_error(map, want), 1e-6);
}

TEST(Cam, BatchesComparesAndTopK) {
  auto model = Model::load(kModelDir + "/model.onnx");
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;  // 2 images
  Explainer ex(model);
  Target top2;
  top2.top = 2;
  const Explanation both = ex.explain(x, top2, {CamMethod::gradcam, CamMethod::layercam});
  const std::vector<int64_t> classes = both.class_list();
  ASSERT_EQ(both.maps.at(CamMethod::gradcam).dim(0), 4);  // N * K maps at the input's size
  EXPECT_EQ(both.maps.at(CamMethod::gradcam).dim(2), x.dim(2));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 2; ++k) {
      // The same map from a single image, a single method and a single class.
      Target one;
      one.classes = {classes[n * 2 + k]};
      for (CamMethod m : {CamMethod::gradcam, CamMethod::layercam}) {
        const Explanation single = ex.explain(x.slice(n, n + 1), one, {m});
        const auto want = to_double(single.maps.at(m));
        EXPECT_LE(normalized_error(both.maps.at(m).slice(n * 2 + k, n * 2 + k + 1), want), 1e-5)
            << method_name(m) << " image " << n << " rank " << k;
      }
    }
  // Maps are normalized to [0, 1].
  const auto v = to_double(both.maps.at(CamMethod::gradcam));
  EXPECT_EQ(*std::min_element(v.begin(), v.end()), 0.0);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 1.0);
}

TEST(Cam, SmoothGradCamPlusPlusWithoutNoiseIsGradCamPlusPlus) {
  auto model = Model::load(kModelDir + "/model.onnx");
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;
  ExplainOptions o;
  o.noise_samples = 3;
  o.noise_std = 0.f;
  Explainer ex(model, {}, o);
  const Explanation e = ex.explain(x, {}, {CamMethod::gradcampp, CamMethod::smoothgradcampp});
  EXPECT_LE(normalized_error(e.maps.at(CamMethod::smoothgradcampp), to_double(e.maps.at(CamMethod::gradcampp))), 1e-5);
}

// Targets on the device: the top K by logit (ties to the lower index, NaN last), given classes, and the seed
// d score / d logits against float64: one-hot, or p_c (delta_cj - p_j) for the softmax probability.
TEST(Cam, TargetsRankAndSeedTheScore) {
  auto cpu = kernels::make_cpu_backend(1);
  const float nan = std::nanf("");
  Tensor z = Tensor::empty({2, 6});
  const float values[12] = {1, 3, 3, nan, -INFINITY, 2, 0, 0, 0, 0, 0, 0};
  std::copy(values, values + 12, z.data<float>());
  Tensor seeds = Tensor::empty({8, 6}), classes = Tensor::empty({8});
  cpu->target_seeds(false, kernels::view_of(z), {}, kernels::view_of(seeds), kernels::view_of(classes));
  const std::vector<float> want = {1, 2, 5, 0, 0, 1, 2, 3};
  for (int64_t r = 0; r < 8; ++r) {
    EXPECT_EQ(classes.data<float>()[r], want[r]) << "row " << r;
    for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(seeds.data<float>()[r * 6 + j], j == want[r] ? 1.f : 0.f);
  }
  // Probabilities, for given classes.
  Tensor logits = Tensor::empty({2, 5}), given = Tensor::empty({2});
  const float l[10] = {2.5f, -1, 0.5f, 7, 3, -20, -21, 30, 29.5f, 0};
  std::copy(l, l + 10, logits.data<float>());
  given.data<float>()[0] = 4, given.data<float>()[1] = 8 - 5;
  Tensor ps = Tensor::empty({2, 5}), pc = Tensor::empty({2});
  cpu->target_seeds(true, kernels::view_of(logits), kernels::view_of(given), kernels::view_of(ps),
                    kernels::view_of(pc));
  for (int64_t n = 0; n < 2; ++n) {
    double sum = 0;
    for (int64_t j = 0; j < 5; ++j) sum += std::exp(double(l[n * 5 + j]));
    const int64_t c = int64_t(given.data<float>()[n]);
    EXPECT_EQ(pc.data<float>()[n], float(c));
    const double p_c = std::exp(double(l[n * 5 + c])) / sum;
    for (int64_t j = 0; j < 5; ++j) {
      const double wantj = p_c * ((j == c) - std::exp(double(l[n * 5 + j])) / sum);
      EXPECT_NEAR(ps.data<float>()[n * 5 + j], wantj, 1e-7 + 1e-6 * std::fabs(wantj)) << n << " " << j;
    }
  }
}

// Noisy copies: x + sigma * z with sigma = std_fraction * (max - min of the image) and z standard normal;
// deterministic under a seed, different under another, and the same for an image alone or in a batch.
TEST(Cam, NoisyCopiesAreScaledGaussianNoise) {
  auto cpu = kernels::make_cpu_backend(2);
  const int64_t N = 2, S = 4, image = 3 * 16 * 16;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-2.f, 3.f);
  Tensor x = Tensor::empty({N, 3, 16, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  auto copies = [&](const Tensor& in, uint32_t seed) {
    Tensor y = Tensor::empty({in.dim(0) * S, 3, 16, 16});
    cpu->noisy_copies(0.2f, seed, kernels::view_of(in), kernels::view_of(y));
    return y;
  };
  const Tensor y = copies(x, 5), again = copies(x, 5), other = copies(x, 6), alone = copies(x.slice(1, 2), 5);
  for (int64_t n = 0; n < N; ++n) {
    const float* xn = x.data<float>() + n * image;
    const auto [lo, hi] = std::minmax_element(xn, xn + image);
    const double sigma = 0.2 * (double(*hi) - *lo);
    double sum = 0, sq = 0;
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < image; ++i) {
        const double z = (y.data<float>()[(n * S + s) * image + i] - xn[i]) / sigma;
        sum += z, sq += z * z;
      }
    const double count = double(S * image), mean = sum / count, sd = std::sqrt(sq / count - mean * mean);
    EXPECT_LT(std::fabs(mean), 0.08) << "image " << n;  // 4.4 standard errors
    EXPECT_NEAR(sd, 1.0, 0.06) << "image " << n;
  }
  int64_t same = 0, differ = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    same += y.data<float>()[i] == again.data<float>()[i];
    differ += y.data<float>()[i] != other.data<float>()[i];
  }
  EXPECT_EQ(same, y.numel());
  EXPECT_GT(differ, y.numel() * 99 / 100);
  for (int64_t i = 0; i < alone.numel(); ++i)
    ASSERT_EQ(alone.data<float>()[i], y.data<float>()[S * image + i]) << "image 1 alone differs at " << i;
}

// LayerCAM's fusion (Jiang et al. 2021): per layer, M = ReLU(sum_c ReLU(G) A) upsampled to the input, scaled by
// tanh(2 M / max M); the element-wise maximum over layers, then min-max normalized.
TEST(Cam, LayerCamFusesLayersByTheirScaledMaximum) {
  auto model = Model::load(kModelDir + "/model.onnx");
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;
  const std::vector<std::string> layers = {default_layer(*model), model->resolve("layer1")};
  ExplainOptions o;
  o.fuse_layers = {"layer1"};
  Explainer ex(model, {}, o);
  Target t;
  t.classes = {3, 7};
  const Explanation e = ex.explain(x, t, {CamMethod::layercam, CamMethod::gradcam});
  // A and G at both layers from a plain session.
  Session s(model);
  s.capture(layers);
  s.track_gradients(layers);
  const Result r = s.run(x);
  Tensor seed = Tensor::zeros(r.output().shape());
  seed.data<float>()[3] = 1.f, seed.data<float>()[r.output().dim(1) + 7] = 1.f;
  const auto grads = s.backward({seed});
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3);
  Maps fused(N * H * W, 0.0);
  for (const auto& l : layers) {
    const Tensor& A = r.capture(l);
    const int64_t h = A.dim(2), w = A.dim(3);
    const Maps m = reference(CamMethod::layercam, to_double(A), to_double(grads.at(l)), N, A.dim(1), h * w);
    Maps up = resize_reference(m, N, h, w, H, W);
    for (int64_t n = 0; n < N; ++n) {
      const double top = *std::max_element(up.begin() + n * H * W, up.begin() + (n + 1) * H * W);
      for (int64_t p = 0; p < H * W; ++p) up[n * H * W + p] = top > 0 ? std::tanh(2 * up[n * H * W + p] / top) : 0;
    }
    for (size_t i = 0; i < fused.size(); ++i) fused[i] = std::max(fused[i], up[i]);
  }
  test::normalize_reference(fused, N);
  const double err = normalized_error(e.maps.at(CamMethod::layercam), fused);
  std::printf("LayerCAM fused over %s and %s: error to float64 %.2g\n", layers[0].c_str(), layers[1].c_str(), err);
  EXPECT_LE(err, 1e-5);
  // The fusion is LayerCAM's: Grad-CAM still reads the main layer alone.
  ExplainOptions single;
  Explainer plain(model, {}, single);
  const Explanation g = plain.explain(x, t, {CamMethod::gradcam, CamMethod::layercam});
  EXPECT_LE(normalized_error(e.maps.at(CamMethod::gradcam), to_double(g.maps.at(CamMethod::gradcam))), 1e-6);
  EXPECT_GT(normalized_error(e.maps.at(CamMethod::layercam), to_double(g.maps.at(CamMethod::layercam))), 1e-2);
}

// Smooth Grad-CAM++ for the top 2 classes of two images (one noisy batch, one backward) equals single-image,
// single-class runs: the noise of an image does not depend on its place in the batch.
TEST(Cam, SmoothGradCamPlusPlusTopKEqualsSingleRuns) {
  auto model = Model::load(kModelDir + "/model.onnx");
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;
  ExplainOptions o;
  o.noise_samples = 4;
  Explainer ex(model, {}, o);
  Target top2;
  top2.top = 2;
  const Explanation both = ex.explain(x, top2, {CamMethod::smoothgradcampp});
  const std::vector<int64_t> classes = both.class_list();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 2; ++k) {
      Target one;
      one.classes = {classes[n * 2 + k]};
      const Explanation single = ex.explain(x.slice(n, n + 1), one, {CamMethod::smoothgradcampp});
      EXPECT_LE(normalized_error(both.maps.at(CamMethod::smoothgradcampp).slice(n * 2 + k, n * 2 + k + 1),
                                 to_double(single.maps.at(CamMethod::smoothgradcampp))),
                1e-5)
          << "image " << n << " rank " << k;
    }
}

TEST(Cam, ErrorsNameWhatIsWrong) {
  auto model = Model::load(kModelDir + "/model.onnx");
  EXPECT_THROW(parse_method("gradcam+"), Error);
  ExplainOptions o;
  o.layer = "layer2.0.conv1";  // no such layer: the nearest names are listed
  try {
    Explainer bad(model, {}, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nearest names"), std::string::npos) << e.what();
  }
  o.layer = "layer1";  // a block whose output does not feed the global pool: CAM refuses
  Explainer ex(model, {}, o);
  const Tensor x = test::read_test_data(kModelDir).at(0).inputs.at(0).tensor;
  EXPECT_THROW(ex.explain(x, {}, {CamMethod::cam}), Error);
  Target t;
  t.classes = {99};
  EXPECT_THROW(ex.explain(x, t, {CamMethod::gradcam}), Error);
}

}  // namespace
}  // namespace glassbox::explain
