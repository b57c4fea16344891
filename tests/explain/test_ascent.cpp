// Activation maximization (explain/ascent.h): the Fourier basis against numpy's irfft2 written out in float64 and
// its backward against the adjoint identity; the objective's gradient through the whole chain (parameterization
// -> normalization -> network -> objective terms) against central finite differences of the objective values, in
// pixel and Fourier modes, row by row; determinism under the seed.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>

#include "explain/ascent.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

using kernels::view_of;

std::vector<double> host(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<double>(h.data<float>(), h.data<float>() + h.numel());
}

// numpy.fft.irfft2 of S [H, Wf] complex, by its definition: the inverse DFT along axis 0, then the real inverse along
// axis 1 (numpy's c2r: imaginary parts of bins 0 and W/2 ignored, the others doubled by Hermitian symmetry).
std::vector<double> irfft2(const std::vector<std::complex<double>>& S, int64_t H, int64_t W) {
  const int64_t Wf = W / 2 + 1;
  std::vector<std::complex<double>> G(size_t(H * Wf));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t v = 0; v < Wf; ++v) {
      std::complex<double> s = 0;
      for (int64_t u = 0; u < H; ++u) s += S[size_t(u * Wf + v)] * std::polar(1.0, 2 * M_PI * double(u * y) / double(H));
      G[size_t(y * Wf + v)] = s / double(H);
    }
  std::vector<double> out(size_t(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double s = G[size_t(y * Wf)].real();
      for (int64_t v = 1; v < Wf; ++v) {
        const std::complex<double> e = std::polar(1.0, 2 * M_PI * double(v * x) / double(W));
        const bool nyquist = W % 2 == 0 && v == W / 2;
        s += (nyquist ? 1.0 : 2.0) * (nyquist ? G[size_t(y * Wf + v)].real() * e.real() : (G[size_t(y * Wf + v)] * e).real());
      }
      out[size_t(y * W + x)] = s / double(W);
    }
  return out;
}

TEST(Ascent, FourierBasisIsIrfft2AndItsBackwardItsTranspose) {
  auto cpu = kernels::make_cpu_backend(1);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (const auto& [H, W] : {std::pair<int64_t, int64_t>{6, 8}, {5, 7}, {1, 4}}) {
    SCOPED_TRACE(std::to_string(H) + "x" + std::to_string(W));
    const auto f = Dreamer::Fourier::make(H, W);
    const int64_t Wf = f.Wf, R = 2;  // two planes
    Tensor P = Tensor::empty({R, H, 2 * Wf}), Q = Tensor::empty({R, H, 2 * W}), I = Tensor::empty({R, H, W});
    for (int64_t i = 0; i < P.numel(); ++i) P.data<float>()[i] = normal(rng);
    cpu->matmul(view_of(P), view_of(f.A), view_of(Q));
    cpu->matmul(view_of(f.B), {Q.data<float>(), {R, 2 * H, W}, Device::cpu()}, view_of(I));
    for (int64_t r = 0; r < R; ++r) {
      std::vector<std::complex<double>> S(size_t(H * Wf));
      for (int64_t u = 0; u < H; ++u)
        for (int64_t v = 0; v < Wf; ++v) {
          const float* row = P.data<float>() + (r * H + u) * 2 * Wf;
          S[size_t(u * Wf + v)] = {row[v], row[Wf + v]};
        }
      const std::vector<double> want = irfft2(S, H, W);
      double err = 0, scale = 0;
      for (int64_t i = 0; i < H * W; ++i) {
        err = std::max(err, std::fabs(double(I.data<float>()[r * H * W + i]) - want[size_t(i)]));
        scale = std::max(scale, std::fabs(want[size_t(i)]));
      }
      EXPECT_LE(err, 1e-6 * scale + 1e-7) << "plane " << r;
    }
    // Backward: gP = (Bt x gI) x At; <I(P), Y> = <P, gP(Y)> in float64.
    Tensor Y = Tensor::empty({R, H, W}), gQ = Tensor::empty({R, 2 * H, W}), gP = Tensor::empty({R, H, 2 * Wf});
    for (int64_t i = 0; i < Y.numel(); ++i) Y.data<float>()[i] = normal(rng);
    cpu->matmul(view_of(f.Bt), view_of(Y), view_of(gQ));
    cpu->matmul({gQ.data<float>(), {R, H, 2 * W}, Device::cpu()}, view_of(f.At), view_of(gP));
    double lhs = 0, rhs = 0, scale = 0;
    for (int64_t i = 0; i < Y.numel(); ++i) lhs += double(I.data<float>()[i]) * double(Y.data<float>()[i]);
    for (int64_t i = 0; i < P.numel(); ++i) {
      rhs += double(P.data<float>()[i]) * double(gP.data<float>()[i]);
      scale += std::fabs(double(P.data<float>()[i]) * double(gP.data<float>()[i]));
    }
    EXPECT_LE(std::fabs(lhs - rhs), 1e-6 * scale) << lhs << " vs " << rhs;
  }
  // The colour matrix: lucid's, normalized by its largest column norm (0.46195).
  const auto f = Dreamer::Fourier::make(4, 4);
  EXPECT_NEAR(f.color.data<float>()[0], 0.26 / std::sqrt(0.26 * 0.26 + 0.27 * 0.27 + 0.27 * 0.27), 1e-6);
  EXPECT_NEAR(f.color_t.data<float>()[1], f.color.data<float>()[3], 0);
}

const char* kLayer = "/net/Relu_1_output_0";  // [N, 8, 6, 6]

std::vector<Objective> test_objectives() {
  return {Objective::of(Term::channel(kLayer, 2)).add(0.5f, Term::probability(3)),
          Objective::of(Term::neuron(kLayer, 1)).add(0.3f, Term::logit(0)),
          Objective::of(Term::energy("/net/Relu_output_0")),
          Objective::of(Term::probability(4), 2.f)};
}

AscentOptions small_options(Parameterization p) {
  AscentOptions o;
  o.height = o.width = 24;
  o.parameterization = p;
  o.init_std = p == Parameterization::pixel ? 0.7f : 0.05f;
  for (int c = 0; c < 3; ++c) o.mean[c] = 127.f, o.std[c] = 128.f;
  o.seed = 9;
  return o;
}

class Gradient : public ::testing::TestWithParam<Parameterization> {};

// d objective_b / d param against (f_b(p + e d) - f_b(p - e d)) / 2e along a random direction d confined to row b.
TEST_P(Gradient, MatchesFiniteDifferences) {
  auto model = Model::load(test::source_dir() + "/tests/data/perturbation/model.onnx");
  Dreamer d(model, {}, small_options(GetParam()));
  const auto objectives = test_objectives();
  const int64_t B = int64_t(objectives.size());
  const Tensor p0 = d.initial_parameters(B).to(Device::cpu());
  const AscentEvaluation e = d.evaluate(objectives, p0);
  ASSERT_EQ(e.values.size(), size_t(B));
  const std::vector<double> g = host(e.gradient);
  const int64_t per_row = p0.numel() / B;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  const float eps = 1e-3f;
  for (int64_t b = 0; b < B; ++b) {
    Tensor dir = Tensor::zeros(p0.shape());
    double analytic = 0;
    for (int64_t i = b * per_row; i < (b + 1) * per_row; ++i) {
      dir.data<float>()[i] = normal(rng);
      analytic += g[size_t(i)] * double(dir.data<float>()[i]);
    }
    auto at = [&](float sign) {
      Tensor p = Tensor::empty(p0.shape());
      for (int64_t i = 0; i < p.numel(); ++i) p.data<float>()[i] = p0.data<float>()[i] + sign * eps * dir.data<float>()[i];
      return d.evaluate(objectives, p).values;
    };
    const auto plus = at(1.f), minus = at(-1.f);
    const double numeric = (double(plus[size_t(b)]) - double(minus[size_t(b)])) / (2.0 * double(eps));
    std::printf("%s row %ld: objective %.6g, analytic %.6g, finite differences %.6g\n",
                GetParam() == Parameterization::pixel ? "pixel" : "fourier", long(b), e.values[size_t(b)], analytic,
                numeric);
    EXPECT_NEAR(analytic, numeric, 2e-2 * std::fabs(numeric) + 1e-5) << "row " << b;
    for (int64_t r = 0; r < B; ++r) {  // the other rows do not move
      if (r == b) continue;
      EXPECT_NEAR(plus[size_t(r)], e.values[size_t(r)], 1e-6 * std::fabs(e.values[size_t(r)]) + 1e-7)
          << "row " << r << " moved with row " << b;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ascent, Gradient, ::testing::Values(Parameterization::pixel, Parameterization::fourier),
                         [](const auto& info) { return info.param == Parameterization::pixel ? "pixel" : "fourier"; });

// The objective values the run logs are those of evaluate() (transforms off), and they rise.
TEST(Ascent, SameSeedSameImagesOtherSeedOthers) {
  auto model = Model::load(test::source_dir() + "/tests/data/perturbation/model.onnx");
  for (Parameterization p : {Parameterization::pixel, Parameterization::fourier}) {
    AscentOptions o = small_options(p);
    o.steps = 12, o.log_every = 4, o.jitter = 2, o.l2 = 0.01f, o.tv = 0.01f, o.blur_every = 5;
    auto images = [&](uint32_t seed) {
      o.seed = seed;
      Dreamer d(model, {}, o);
      const AscentResult r = d.run(test_objectives());
      EXPECT_EQ(r.steps, (std::vector<int>{0, 4, 8, 11}));
      EXPECT_EQ(r.objective.size(), 4u);
      return host(r.images);
    };
    const auto a = images(1), b = images(1), c = images(2);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    for (double v : a) ASSERT_TRUE(v > 0 && v < 1);
  }
}

TEST(Ascent, ObjectiveRisesWithoutTransforms) {
  auto model = Model::load(test::source_dir() + "/tests/data/perturbation/model.onnx");
  for (Parameterization p : {Parameterization::pixel, Parameterization::fourier}) {
    AscentOptions o = small_options(p);
    o.steps = 40, o.log_every = 39, o.transforms = false;
    Dreamer d(model, {}, o);
    const auto objectives = test_objectives();
    const AscentResult r = d.run(objectives);
    ASSERT_EQ(r.objective.size(), 2u);
    for (size_t b = 0; b < objectives.size(); ++b) {
      std::printf("%s %s: %.4g -> %.4g\n", p == Parameterization::pixel ? "pixel" : "fourier",
                  objectives[b].name().c_str(), r.objective[0][b], r.objective[1][b]);
      EXPECT_GT(r.objective[1][b], r.objective[0][b]) << objectives[b].name();
    }
  }
}

}  // namespace
}  // namespace glassbox::explain
