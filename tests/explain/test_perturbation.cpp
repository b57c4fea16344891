// The perturbation family against naive float64 references: one forward pass per masked copy, built on the host
// (tests/data/perturbation: a small network whose layer has two dead channels and a skip connection
// around it; masked.onnx, the same weights with a mask input multiplying the layer, is the reference for the
// methods that run from the layer). Also: chunk sizes 1 and 64 give the same maps, top-k equals single-class
// runs, and constant channels are skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "explain/perturbation.h"
#include "kernels/element_formulas.h"
#include "tests/support/cam_reference.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

using test::Maps;

const std::string kDir = test::source_dir() + "/tests/data/perturbation";
const std::string kLayer = "/net/Relu_1_output_0";  // [8, 6, 6]; channels 6 and 7 are dead
const std::string kEarly = "/net/Relu_output_0";    // [8, 12, 12]

Tensor images() {
  Tensor x = Tensor::empty({2, 3, 24, 24});
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  return x;
}

std::vector<double> host(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<double>(h.data<float>(), h.data<float>() + h.numel());
}

double relative_error(const Tensor& got, const Maps& want) {
  const auto g = host(got);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i)
    diff = std::max(diff, std::fabs(g[i] - want[i])), scale = std::max(scale, std::fabs(want[i]));
  return scale > 0 ? diff / scale : diff;
}

// The network's logits for one image (float32 forward), and the softmax probability or logit of class c.
struct Net {
  std::shared_ptr<const Model> model = Model::load(kDir + "/model.onnx");
  std::shared_ptr<const Model> masked = Model::load(kDir + "/masked.onnx");
  Session plain{model}, with_mask{masked};
  double score(const Tensor& x, int64_t c, bool probability) {
    const Tensor z = plain.run(x).output();
    return probability ? test::probability_reference(z.data<float>(), z.dim(1), c) : z.data<float>()[c];
  }
  double masked_score(const Tensor& x, const Tensor& mask, int64_t c, bool probability) {
    const Tensor z = with_mask.run({x, mask}).output();
    return probability ? test::probability_reference(z.data<float>(), z.dim(1), c) : z.data<float>()[c];
  }
  Tensor activation(const Tensor& x, const std::string& layer) {
    Session s(model);
    s.capture({layer});
    return s.run(x).capture(layer).to(Device::cpu());
  }
};

// L = ReLU(sum_k w_k A_k) for one image: A [Ch, P].
Maps weighted_sum(const std::vector<double>& w, const float* A, int64_t Ch, int64_t P) {
  Maps L(P, 0.0);
  for (int64_t k = 0; k < Ch; ++k)
    for (int64_t p = 0; p < P; ++p) L[p] += w[k] * A[k * P + p];
  for (double& v : L) v = std::max(v, 0.0);
  return L;
}

// Score-CAM, SS-CAM, IS-CAM by their definitions, image by image, channel by channel.
Maps score_reference(Net& net, PerturbationMethod m, const Tensor& x, const std::string& layer,
                     const std::vector<int64_t>& cls, int samples, float noise_std, uint32_t seed) {
  const Tensor A = net.activation(x, layer);
  const int64_t N = x.dim(0), Ch = A.dim(1), h = A.dim(2), w = A.dim(3), H = x.dim(2), W = x.dim(3);
  const int S = m == PerturbationMethod::scorecam ? 1 : samples;
  Maps out;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> weight(Ch, 0.0);
    int64_t j = 0;  // index among the varying channels (the noise counter runs over them)
    std::vector<int64_t> varying;
    for (int64_t k = 0; k < Ch; ++k) {
      const float* a = A.data<float>() + (n * Ch + k) * h * w;
      if (*std::min_element(a, a + h * w) != *std::max_element(a, a + h * w)) varying.push_back(k);
    }
    for (int64_t k : varying) {
      const float* a = A.data<float>() + (n * Ch + k) * h * w;
      Maps mask = test::resize_reference(Maps(a, a + h * w), 1, h, w, H, W);
      test::normalize_reference(mask, 1);
      double coefficient = 0, sum = 0;
      for (int s = 0; s < S; ++s) {
        coefficient += double(s + 1) / S;
        Tensor masked = Tensor::empty({1, 3, H, W});
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t p = 0; p < H * W; ++p) {
            double mv = mask[p];
            if (m == PerturbationMethod::iscam) mv *= coefficient;
            if (m == PerturbationMethod::sscam) {
              const uint64_t index = (uint64_t(s) * varying.size() + j) * uint64_t(H * W) + p;
              mv += noise_std * kernels::gaussian_noise(seed, index);
            }
            masked.data<float>()[c * H * W + p] = float(x.data<float>()[(n * 3 + c) * H * W + p] * mv);
          }
        sum += net.score(masked, cls[n], true);
      }
      weight[k] = sum / S;
      ++j;
    }
    const Maps L = weighted_sum(weight, A.data<float>() + n * Ch * h * w, Ch, h * w);
    out.insert(out.end(), L.begin(), L.end());
  }
  return out;
}

// Ablation-CAM: every channel (zero channels included, which change nothing) zeroed through the mask input.
Maps ablation_reference(Net& net, const Tensor& x, const std::vector<int64_t>& cls) {
  const Tensor A = net.activation(x, kLayer);
  const int64_t N = x.dim(0), Ch = 8, P = 36;
  Maps out;
  for (int64_t n = 0; n < N; ++n) {
    const Tensor xn = x.slice(n, n + 1);
    Tensor ones = Tensor::empty({1, Ch, 6, 6});
    std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.f);
    const double y = net.masked_score(xn, ones, cls[n], false);
    std::vector<double> weight(Ch);
    for (int64_t k = 0; k < Ch; ++k) {
      Tensor mask = ones.clone();
      std::fill(mask.data<float>() + k * P, mask.data<float>() + (k + 1) * P, 0.f);
      weight[k] = (y - net.masked_score(xn, mask, cls[n], false)) / y;
    }
    const Maps L = weighted_sum(weight, A.data<float>() + n * Ch * P, Ch, P);
    out.insert(out.end(), L.begin(), L.end());
  }
  return out;
}

// ReciproCAM: the layer masked by the 3x3 Gaussian [1 2 1; 2 4 2; 1 2 1] / 16 around each position (or its
// one-hot), through the mask input; the map is the target's probability.
Maps reciprocam_reference(Net& net, const Tensor& x, const std::vector<int64_t>& cls, bool gaussian) {
  const int64_t N = x.dim(0), Ch = 8, h = 6, w = 6;
  Maps out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t qy = 0; qy < h; ++qy)
      for (int64_t qx = 0; qx < w; ++qx) {
        Tensor mask = Tensor::zeros({1, Ch, h, w});
        for (int64_t dy = -1; dy <= 1; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t y = qy + dy, xx = qx + dx;
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
            const double g = gaussian ? (2 - std::abs(dy)) * (2 - std::abs(dx)) / 16.0 : (dy == 0 && dx == 0);
            for (int64_t c = 0; c < Ch; ++c) mask.data<float>()[(c * h + y) * w + xx] = float(g);
          }
        out.push_back(net.masked_score(x.slice(n, n + 1), mask, cls[n], true));
      }
  return out;
}

// RISE with the backend's masks (their formula has its own test): sum_i p_c(x * M_i) M_i / (masks * p).
Maps rise_reference(Net& net, const Tensor& x, const std::vector<int64_t>& cls, int64_t masks, int64_t cells,
                    float p, uint32_t seed) {
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3);
  auto cpu = kernels::make_cpu_backend(1);
  Tensor M = Tensor::empty({masks, H, W});
  cpu->rise_masks(seed, 0, cells, p, kernels::view_of(M));
  Maps out(N * H * W, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < masks; ++i) {
      Tensor masked = Tensor::empty({1, 3, H, W});
      const float* mi = M.data<float>() + i * H * W;
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t q = 0; q < H * W; ++q)
          masked.data<float>()[c * H * W + q] = x.data<float>()[(n * 3 + c) * H * W + q] * mi[q];
      const double score = net.score(masked, cls[n], true);
      for (int64_t q = 0; q < H * W; ++q) out[n * H * W + q] += score * mi[q] / (double(masks) * p);
    }
  return out;
}

PerturbationOptions raw(const std::string& layer = kLayer) {
  PerturbationOptions o;
  o.layer = layer;
  o.upsample = false, o.normalize = false;
  o.samples = 3, o.noise_std = 0.3f, o.seed = 5;
  o.rise_masks = 40, o.rise_cells = 3;
  return o;
}

TEST(Perturbation, EveryMethodEqualsItsNaiveReference) {
  Net net;
  const Tensor x = images();
  const std::vector<int64_t> cls = {1, 3};
  Target t;
  t.classes = cls;
  for (const std::string& layer : {kLayer, kEarly}) {  // with and without constant channels
    PerturbationExplainer ex(net.model, {}, raw(layer));
    const auto r = ex.explain(x, t, all_perturbation_methods());
    for (PerturbationMethod m : {PerturbationMethod::scorecam, PerturbationMethod::sscam, PerturbationMethod::iscam}) {
      const double err = relative_error(r.maps.at(m), score_reference(net, m, x, layer, cls, 3, 0.3f, 5));
      std::printf("%s at %s: error to the naive reference %.2g\n", perturbation_method_name(m), layer.c_str(), err);
      EXPECT_LE(err, 1e-4) << perturbation_method_name(m) << " at " << layer;
    }
    if (layer != kLayer) continue;
    EXPECT_EQ(r.stats.skipped_channels, 2 * 2 * 4) << "2 dead channels, 2 images, 3 score methods and Ablation-CAM";
    const double ablation = relative_error(r.maps.at(PerturbationMethod::ablationcam), ablation_reference(net, x, cls));
    const double recipro =
        relative_error(r.maps.at(PerturbationMethod::reciprocam), reciprocam_reference(net, x, cls, true));
    const double rise = relative_error(r.maps.at(PerturbationMethod::rise), rise_reference(net, x, cls, 40, 3, 0.5f, 5));
    std::printf("ablationcam %.2g, reciprocam %.2g, rise %.2g\n", ablation, recipro, rise);
    EXPECT_LE(ablation, 1e-4);
    EXPECT_LE(recipro, 1e-5);
    EXPECT_LE(rise, 1e-5);
  }
  PerturbationOptions one_hot = raw();
  one_hot.gaussian = false;
  PerturbationExplainer ex(net.model, {}, one_hot);
  EXPECT_LE(relative_error(ex.explain(x, t, {PerturbationMethod::reciprocam}).maps.at(PerturbationMethod::reciprocam),
                           reciprocam_reference(net, x, cls, false)),
            1e-5);
}

// Score-CAM's variant of torchcam and pytorch-grad-cam: softmax over the (varying) channels of the scores.
TEST(Perturbation, ChannelSoftmaxVariant) {
  Net net;
  const Tensor x = images();
  PerturbationOptions o = raw();
  o.channel_softmax = true;
  PerturbationExplainer ex(net.model, {}, o);
  Target t;
  t.classes.assign(1, 2);
  const Tensor got = ex.explain(x, t, {PerturbationMethod::scorecam}).maps.at(PerturbationMethod::scorecam);
  const Tensor A = net.activation(x, kLayer);
  Maps want;
  for (int64_t n = 0; n < 2; ++n) {
    std::vector<double> w(8, 0.0);
    double sum = 0;
    for (int64_t k = 0; k < 6; ++k) {  // channels 6 and 7 are constant: no weight
      const float* a = A.data<float>() + (n * 8 + k) * 36;
      Maps mask = test::resize_reference(Maps(a, a + 36), 1, 6, 6, 24, 24);
      test::normalize_reference(mask, 1);
      Tensor masked = Tensor::empty({1, 3, 24, 24});
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t p = 0; p < 576; ++p)
          masked.data<float>()[c * 576 + p] = float(x.data<float>()[(n * 3 + c) * 576 + p] * mask[p]);
      sum += (w[k] = std::exp(net.score(masked, 2, true)));
    }
    for (double& v : w) v /= sum;
    const Maps L = weighted_sum(w, A.data<float>() + n * 8 * 36, 8, 36);
    want.insert(want.end(), L.begin(), L.end());
  }
  EXPECT_LE(relative_error(got, want), 1e-4);
}

// Chunks of 1 and 64 copies per forward pass give the same maps; the top 2 classes equal single-class runs.
TEST(Perturbation, ChunksAndTargets) {
  Net net;
  const Tensor x = images();
  PerturbationOptions one = raw(), many = raw();
  one.batch = 1, many.batch = 64;
  int64_t last_done = 0, last_total = 0;
  one.progress = [&](int64_t done, int64_t total) { last_done = done, last_total = total; };
  PerturbationExplainer a(net.model, {}, one), b(net.model, {}, many);
  Target top2;
  top2.top = 2;
  const auto ra = a.explain(x, top2, all_perturbation_methods());
  const auto rb = b.explain(x, top2, all_perturbation_methods());
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(last_total, ra.stats.forward_images);
  const std::vector<int64_t> classes = rb.targets.class_list();
  for (PerturbationMethod m : all_perturbation_methods()) {
    const double err = relative_error(ra.maps.at(m), host(rb.maps.at(m)));
    std::printf("%s: chunks of 1 vs 64 differ by %.2g\n", perturbation_method_name(m), err);
    // A forward pass of 1 copy and one of 64 sum their GEMMs in different orders (a batch of 1 takes sgemm's
    // unpacked skinny path); Ablation-CAM's weights (y - y_k) / y are differences of nearly equal scores, which
    // amplify that rounding, so it gets a looser bound than the others.
    EXPECT_LE(err, m == PerturbationMethod::ablationcam ? 1e-5 : 1e-6) << perturbation_method_name(m);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t k = 0; k < 2; ++k) {
        Target single;
        single.classes.assign(1, classes[n * 2 + k]);
        const auto s = b.explain(x.slice(n, n + 1), single, {m});
        EXPECT_LE(relative_error(rb.maps.at(m).slice(n * 2 + k, n * 2 + k + 1), host(s.maps.at(m))), 1e-5)
            << perturbation_method_name(m) << " image " << n << " rank " << k;
      }
  }
}

TEST(Perturbation, NamesAndErrors) {
  PerturbationMethod m;
  EXPECT_TRUE(parse_perturbation_method("scorecam", m));
  EXPECT_EQ(m, PerturbationMethod::scorecam);
  EXPECT_FALSE(parse_perturbation_method("gradcam", m));
  Net net;
  PerturbationOptions o = raw();
  o.samples = 0;
  EXPECT_THROW(PerturbationExplainer(net.model, {}, o), Error);
  PerturbationExplainer ex(net.model, {}, raw());
  Target t;
  t.classes.assign(1, 7);  // 5 classes
  EXPECT_THROW(ex.explain(images(), t, {PerturbationMethod::rise}), Error);
}

}  // namespace
}  // namespace glassbox::explain
