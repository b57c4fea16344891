// The CPU backend's perturbation kernels (Backend::row_ranges .. rise_masks in kernels.h) against float64 loops
// written from the contracts: RISE's masks (range, all-on and all-off grids, the upsampling and shift recomputed,
// the batch offset), ReciproCAM's spatial masks (one-hot and the 3x3 Gaussian cut at the borders), target scores
// (logits and softmax probabilities, accumulation at a column, classes out of range), and Score-CAM's masked
// inputs, gathered rows, ablated channels and row ranges. The random numbers themselves are the contract's
// (uniform_noise, gaussian_noise); everything computed from them is recomputed here in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/error.h"
#include "kernels/element_formulas.h"
#include "kernels/kernels.h"

namespace glassbox::kernels {
namespace {

Tensor random_tensor(const Shape& s, std::mt19937& rng) {
  Tensor t = Tensor::empty(s);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
  return t;
}

// ---- RISE -------------------------------------------------------------------------------------------------------

// Mask i at (Y, X) from the contract: the grid cell (u, v) is on when uniform_noise(seed, i*cells^2 + u*cells + v)
// < probability; the grid is upsampled bilinearly (half-pixel centres, clamped) to (cells+1)*ch x (cells+1)*cw and
// read at (Y + dy, X + dx), dy = floor(uniform_noise(seed, 2^62 + 2i) * ch) (the float product, as written),
// dx likewise.
double rise_reference(uint32_t seed, uint64_t i, int64_t cells, float probability, int64_t H, int64_t W, int64_t Y,
                      int64_t X) {
  const int64_t ch = (H + cells - 1) / cells, cw = (W + cells - 1) / cells;
  const uint64_t base = uint64_t(1) << 62;
  const int64_t dy = int64_t(std::floor(uniform_noise(seed, base + 2 * i) * float(ch)));
  const int64_t dx = int64_t(std::floor(uniform_noise(seed, base + 2 * i + 1) * float(cw)));
  EXPECT_TRUE(dy >= 0 && dy < ch && dx >= 0 && dx < cw);
  auto cell = [&](int64_t u, int64_t v) {
    return uniform_noise(seed, i * uint64_t(cells * cells) + uint64_t(u * cells + v)) < probability ? 1.0 : 0.0;
  };
  // One axis: output coordinate o of an axis of length out, read from a grid axis of length cells.
  auto axis = [&](int64_t o, int64_t out, int64_t& lo, int64_t& hi, double& t) {
    double s = (double(o) + 0.5) * double(cells) / double(out) - 0.5;
    if (s < 0) s = 0;
    lo = std::min<int64_t>(int64_t(std::floor(s)), cells - 1);
    hi = std::min<int64_t>(lo + 1, cells - 1);
    t = s - double(lo);
  };
  int64_t y0, y1, x0, x1;
  double ty, tx;
  axis(Y + dy, (cells + 1) * ch, y0, y1, ty);
  axis(X + dx, (cells + 1) * cw, x0, x1, tx);
  return (1 - ty) * ((1 - tx) * cell(y0, x0) + tx * cell(y0, x1)) + ty * ((1 - tx) * cell(y1, x0) + tx * cell(y1, x1));
}

TEST(PerturbationKernels, RiseMasksMatchTheContract) {
  auto cpu = make_cpu_backend(3);
  struct Setup {
    int64_t M, H, W, cells;
    uint64_t first;
    float probability;
  };
  for (const Setup& s : {Setup{6, 13, 17, 4, 3, 0.5f}, Setup{4, 16, 16, 4, 0, 0.3f}, Setup{3, 9, 30, 7, 1000, 0.6f},
                         Setup{2, 3, 3, 5, 2, 0.5f}, Setup{2, 224, 224, 7, uint64_t(1) << 40, 0.5f}}) {
    SCOPED_TRACE(std::to_string(s.H) + "x" + std::to_string(s.W) + " cells " + std::to_string(s.cells));
    Tensor y = Tensor::empty({s.M, s.H, s.W});
    cpu->rise_masks(17, s.first, s.cells, s.probability, view_of(y));
    double worst = 0;
    int64_t strictly_between = 0;
    for (int64_t j = 0; j < s.M; ++j)
      for (int64_t Y = 0; Y < s.H; ++Y)
        for (int64_t X = 0; X < s.W; ++X) {
          const float got = y.data<float>()[(j * s.H + Y) * s.W + X];
          ASSERT_TRUE(got >= 0.f && got <= 1.f) << got;
          strictly_between += got > 0.f && got < 1.f;
          worst = std::max(worst, std::fabs(got - rise_reference(17, s.first + j, s.cells, s.probability, s.H, s.W,
                                                                 Y, X)));
        }
    EXPECT_LT(worst, 1e-5);
    if (s.cells > 1 && s.H > 8) {
      EXPECT_GT(strictly_between, 0) << "no interpolated values";
    }
  }
}

TEST(PerturbationKernels, RiseMasksAllOnAllOffAndOffset) {
  auto cpu = make_cpu_backend(2);
  Tensor ones = Tensor::empty({5, 13, 17}), zeros = Tensor::empty({5, 13, 17});
  cpu->rise_masks(3, 0, 4, 1.f, view_of(ones));
  cpu->rise_masks(3, 0, 4, 0.f, view_of(zeros));
  for (int64_t i = 0; i < ones.numel(); ++i) {
    ASSERT_EQ(ones.data<float>()[i], 1.f) << i;
    ASSERT_EQ(zeros.data<float>()[i], 0.f) << i;
  }
  // Mask i = first + j: a batch from first = 3 is rows 3.. of a batch from 0; another seed gives other masks.
  Tensor all = Tensor::empty({9, 13, 17}), tail = Tensor::empty({6, 13, 17}), other = Tensor::empty({9, 13, 17});
  cpu->rise_masks(3, 0, 4, 0.5f, view_of(all));
  cpu->rise_masks(3, 3, 4, 0.5f, view_of(tail));
  cpu->rise_masks(4, 0, 4, 0.5f, view_of(other));
  EXPECT_TRUE(std::equal(tail.data<float>(), tail.data<float>() + tail.numel(), all.data<float>() + 3 * 13 * 17));
  EXPECT_FALSE(std::equal(all.data<float>(), all.data<float>() + all.numel(), other.data<float>()));
  EXPECT_THROW(cpu->rise_masks(3, 0, 0, 0.5f, view_of(all)), Error);
}

// ---- ReciproCAM -------------------------------------------------------------------------------------------------

TEST(PerturbationKernels, SpatialMaskedCopiesMatchTheContract) {
  auto cpu = make_cpu_backend(3);
  std::mt19937 rng(5);
  const int64_t C = 3, h = 5, w = 6, P = h * w;
  const double kernel[3][3] = {{1, 2, 1}, {2, 4, 2}, {1, 2, 1}};
  Tensor a = random_tensor({C, h, w}, rng);
  for (bool gaussian : {false, true})
    for (int64_t first : {int64_t(0), int64_t(7)}) {
      SCOPED_TRACE(std::string(gaussian ? "gaussian" : "one-hot") + " first " + std::to_string(first));
      const int64_t M = P - first;  // through the last corner
      Tensor y = Tensor::empty({M, C, h, w});
      cpu->spatial_masked_copies(gaussian, first, view_of(a), view_of(y));
      for (int64_t j = 0; j < M; ++j) {
        const int64_t qy = (first + j) / w, qx = (first + j) % w;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t py = 0; py < h; ++py)
            for (int64_t px = 0; px < w; ++px) {
              double m = 0;
              if (!gaussian) m = py == qy && px == qx ? 1 : 0;
              else if (std::abs(py - qy) <= 1 && std::abs(px - qx) <= 1) m = kernel[py - qy + 1][px - qx + 1] / 16;
              const double want = double(a.data<float>()[(c * h + py) * w + px]) * m;
              ASSERT_NEAR(y.data<float>()[((j * C + c) * h + py) * w + px], want, 1e-6 * (1 + std::fabs(want)))
                  << "q " << first + j << " c " << c << " p " << py << "," << px;
            }
      }
    }
  // The kernel is cut at the borders, not renormalized: on a map of ones a corner keeps 9/16, an edge 12/16, the
  // inside all of it.
  Tensor ones = Tensor::empty({1, h, w});
  std::fill(ones.data<float>(), ones.data<float>() + P, 1.f);
  Tensor y = Tensor::empty({P, 1, h, w});
  cpu->spatial_masked_copies(true, 0, view_of(ones), view_of(y));
  auto total = [&](int64_t q) { return std::accumulate(y.data<float>() + q * P, y.data<float>() + (q + 1) * P, 0.0); };
  EXPECT_DOUBLE_EQ(total(0), 9.0 / 16);
  EXPECT_DOUBLE_EQ(total(P - 1), 9.0 / 16);
  EXPECT_DOUBLE_EQ(total(2), 12.0 / 16);
  EXPECT_DOUBLE_EQ(total(w + 1), 1.0);
  EXPECT_THROW(cpu->spatial_masked_copies(false, 1, view_of(a), view_of(y)), Error);  // positions past h x w
}

// ---- Target scores ----------------------------------------------------------------------------------------------

TEST(PerturbationKernels, TargetScoresMatchTheContract) {
  auto cpu = make_cpu_backend(3);
  std::mt19937 rng(7);
  const int64_t M = 5, C = 40, T = 12;
  Tensor logits = random_tensor({M, C}, rng);
  for (int64_t i = 0; i < C; ++i) logits.data<float>()[2 * C + i] *= 40.f;  // row 2: logits up to ~100
  const std::vector<float> class_list = {3, 0, 39, 40, -1, 3, 1e9f, NAN};
  const int64_t K = int64_t(class_list.size());
  Tensor classes = Tensor::from_vector<float>({K}, class_list);
  for (bool probability : {false, true}) {
    SCOPED_TRACE(probability ? "probability" : "logit");
    Tensor scores = random_tensor({K, T}, rng);
    std::vector<double> want(scores.data<float>(), scores.data<float>() + K * T);
    // s(j, k) in float64: the logit, or exp(z - max) / sum exp(z - max) over the row; 0 for a class outside [0, C).
    auto s = [&](int64_t j, int64_t k) -> double {
      const float cf = class_list[size_t(k)];
      if (!(cf >= 0 && cf < float(C))) return 0;
      const int64_t c = int64_t(cf);
      const float* z = logits.data<float>() + j * C;
      if (!probability) return z[c];
      double m = z[0], sum = 0;
      for (int64_t i = 1; i < C; ++i) m = std::max(m, double(z[i]));
      for (int64_t i = 0; i < C; ++i) sum += std::exp(double(z[i]) - m);
      return std::exp(double(z[c]) - m) / sum;
    };
    const struct { float scale; bool accumulate; int64_t column; } calls[] = {{1.f, false, 1}, {0.5f, true, 3},
                                                                            {-2.f, true, T - M}};
    for (const auto& call : calls) {
      cpu->target_scores(probability, call.scale, call.accumulate, view_of(logits), view_of(classes), call.column,
                         view_of(scores));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < M; ++j) {
          double& w = want[size_t(k * T + call.column + j)];
          w = (call.accumulate ? w : 0.0) + call.scale * s(j, k);
        }
    }
    for (int64_t i = 0; i < K * T; ++i)
      EXPECT_NEAR(scores.data<float>()[i], want[size_t(i)], 1e-5 * (1 + std::fabs(want[size_t(i)]))) << i;
    EXPECT_THROW(cpu->target_scores(probability, 1.f, false, view_of(logits), view_of(classes), T - M + 1,
                                    view_of(scores)),
                 Error);  // column + M > T
  }
}

// ---- Masked inputs, gathered rows, ablated channels, row ranges -------------------------------------------------

TEST(PerturbationKernels, ScoreInputsGatherAblateAndRanges) {
  auto cpu = make_cpu_backend(3);
  std::mt19937 rng(9);
  const int64_t C = 3, H = 7, W = 5, P = H * W, M = 4;
  Tensor x = random_tensor({C, H, W}, rng), masks = random_tensor({M, H, W}, rng);
  for (float noise_std : {0.f, 0.25f}) {
    Tensor y = Tensor::empty({M, C, H, W});
    cpu->score_inputs(0.8f, noise_std, 21, 1000, view_of(x), view_of(masks), view_of(y));
    for (int64_t j = 0; j < M; ++j)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < P; ++p) {
          double m = 0.8 * double(masks.data<float>()[j * P + p]);
          if (noise_std != 0) m += double(noise_std) * gaussian_noise(21, 1000 + uint64_t(j * P + p));
          const double want = double(x.data<float>()[c * P + p]) * m;
          ASSERT_NEAR(y.data<float>()[(j * C + c) * P + p], want, 1e-5 * (1 + std::fabs(want)));
        }
  }

  const std::vector<float> index = {2, 0, -1, 3, 2, NAN};
  Tensor idx = Tensor::from_vector<float>({6}, index), gathered = Tensor::empty({6, H, W});
  cpu->gather_rows(view_of(masks), view_of(idx), view_of(gathered));
  for (int64_t j = 0; j < 6; ++j) {
    const float f = index[size_t(j)];
    const bool valid = f >= 0 && f < float(M);
    for (int64_t p = 0; p < P; ++p)
      ASSERT_EQ(gathered.data<float>()[j * P + p], valid ? masks.data<float>()[int64_t(f) * P + p] : 0.f);
  }

  const std::vector<float> channel_list = {1, 3, -1, 0, NAN};
  Tensor channels = Tensor::from_vector<float>({5}, channel_list), ablated = Tensor::empty({5, C, H, W});
  cpu->ablate_channels(view_of(x), view_of(channels), view_of(ablated));
  for (int64_t j = 0; j < 5; ++j)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p)
        ASSERT_EQ(ablated.data<float>()[(j * C + c) * P + p],
                  float(c) == channel_list[size_t(j)] ? 0.f : x.data<float>()[c * P + p]);

  masks.data<float>()[2 * P + 4] = NAN;
  Tensor range = Tensor::empty({M, 2});
  cpu->row_ranges(view_of(masks), view_of(range));
  for (int64_t j = 0; j < M; ++j) {
    const float* m = masks.data<float>() + j * P;
    if (j == 2) {
      EXPECT_TRUE(std::isnan(range.data<float>()[2 * j]) && std::isnan(range.data<float>()[2 * j + 1]));
      continue;
    }
    EXPECT_EQ(range.data<float>()[2 * j], *std::min_element(m, m + P));
    EXPECT_EQ(range.data<float>()[2 * j + 1], *std::max_element(m, m + P));
  }
}

}  // namespace
}  // namespace glassbox::kernels
