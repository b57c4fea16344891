// CPU kernels against float64 loops on random shapes: the blocked sgemm (transposes, alpha, beta, edge tiles,
// threads) and every registered convolution variant against the direct definition over an attribute sweep.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Every micro-kernel this CPU supports; sizes cover edge tiles, several depth panels, narrow outputs, skinny
// products (the unpacked path) and transposed operands.
class Sgemm : public ::testing::TestWithParam<std::string> {};

TEST_P(Sgemm, MatchesFloat64Reference) {
  std::mt19937 rng(1);
  Context ctx(3);
  ctx.gemm_kernel = sgemm_kernel(GetParam());
  const int64_t sizes[][3] = {{1, 1, 1}, {6, 16, 1}, {7, 17, 5}, {13, 300, 70}, {130, 33, 300}, {64, 1000, 260}, {250, 7, 513}, {97, 40, 20},
                              // skinny: M or N at most 4 (no packing; vector bodies, tails, threads split N)
                              {1, 1000, 300}, {3, 77, 129}, {4, 33, 17}, {2, 300, 1}, {200, 2, 70}, {130, 1, 260},
                              {1, 5, 1000}};
  for (const auto& s : sizes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (float beta : {0.f, 0.5f}) {
          const int64_t M = s[0], N = s[1], K = s[2];
          auto A = random_vector(M * K, rng), B = random_vector(K * N, rng), C = random_vector(M * N, rng);
          auto C0 = C;
          const MatRef a = ta ? MatRef{A.data(), 1, M} : MatRef{A.data(), K, 1};
          const MatRef b = tb ? MatRef{B.data(), 1, K} : MatRef{B.data(), N, 1};
          sgemm(ctx, M, N, K, 1.5f, a, b, beta, C.data(), N);
          double worst = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double ref = beta * double(C0[i * N + j]);
              double acc = 0;
              for (int64_t k = 0; k < K; ++k) acc += double(a.p[i * a.rs + k * a.cs]) * b.p[k * b.rs + j * b.cs];
              ref += 1.5 * acc;
              worst = std::max(worst, std::fabs(ref - C[i * N + j]) / (1.0 + std::sqrt(double(K))));
            }
          EXPECT_LT(worst, 1e-4) << M << "x" << N << "x" << K << " ta=" << ta << " tb=" << tb << " beta=" << beta;
        }
}

INSTANTIATE_TEST_SUITE_P(MicroKernels, Sgemm, ::testing::ValuesIn(sgemm_kernel_names()));

// Prepared operands (packed once, reused): A packed, B packed, or both, against the float64 reference, on every
// micro-kernel, serial and on 3 threads (both splits), twice each (the second call reads the kept packing), and
// transposed sources. The packing is made once per operand and kernel (ctx.packed).
TEST_P(Sgemm, PreparedOperandsMatchReference) {
  std::mt19937 rng(4);
  Context ctx(3);
  ctx.gemm_kernel = sgemm_kernel(GetParam());
  const int64_t sizes[][3] = {{13, 300, 70}, {130, 33, 300}, {64, 1000, 260}, {250, 7, 513}, {8, 1000, 1280},
                              {97, 40, 20}, {2, 50, 9}, {40, 3, 17}};
  for (const auto& s : sizes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int which = 1; which < 4; ++which) {  // 1: A packed, 2: B packed, 3: both
          const int64_t M = s[0], N = s[1], K = s[2];
          auto A = random_vector(M * K, rng), B = random_vector(K * N, rng);
          const MatRef a = ta ? MatRef{A.data(), 1, M} : MatRef{A.data(), K, 1};
          const MatRef b = tb ? MatRef{B.data(), 1, K} : MatRef{B.data(), N, 1};
          // Prepared operands must outlive their use (model constants do); these are freed after each case, and a
          // later one may reuse the address, so each case starts with none kept.
          ctx.packed.clear();
          const size_t before = ctx.packed.size();
          const PackedOperand* pa = which & 1 ? &packed_constant(ctx, Operand::a, M, K, a) : nullptr;
          const PackedOperand* pb = which & 2 ? &packed_constant(ctx, Operand::b, N, K, b) : nullptr;
          EXPECT_EQ(&packed_constant(ctx, which & 1 ? Operand::a : Operand::b, which & 1 ? M : N, K, which & 1 ? a : b),
                    which & 1 ? pa : pb) << "the same operand is packed once";
          EXPECT_EQ(ctx.packed.size(), before + (which == 3 ? 2 : 1));
          for (int call = 0; call < 4; ++call) {
            std::vector<float> C(M * N, 9.f);
            if (call % 2) sgemm_prepared_serial(ctx, M, N, K, 0.5f, a, pa, b, pb, 0.f, C.data(), N);
            else sgemm_prepared(ctx, M, N, K, 0.5f, a, pa, b, pb, 0.f, C.data(), N);
            double worst = 0;
            for (int64_t i = 0; i < M; ++i)
              for (int64_t j = 0; j < N; ++j) {
                double acc = 0;
                for (int64_t k = 0; k < K; ++k) acc += double(a.p[i * a.rs + k * a.cs]) * b.p[k * b.rs + j * b.cs];
                worst = std::max(worst, std::fabs(0.5 * acc - C[i * N + j]) / (1.0 + std::sqrt(double(K))));
              }
            ASSERT_LT(worst, 1e-4) << M << "x" << N << "x" << K << " ta=" << ta << " tb=" << tb << " packed=" << which
                                   << " call " << call;
          }
        }
}

// The fused epilogue (row bias, then the clamp) on every micro-kernel: full and edge tiles, several depth panels
// (applied once, after the last), the skinny path, K = 0, with and without bias, ReLU and Clip bounds, beta 0 and
// 1, prepared A or not, serial and on 3 threads (both splits), against the float64 product put through it.
TEST_P(Sgemm, EpilogueMatchesReference) {
  std::mt19937 rng(8);
  Context ctx(3);
  ctx.gemm_kernel = sgemm_kernel(GetParam());
  const int64_t sizes[][3] = {{13, 300, 70}, {130, 33, 600}, {64, 1000, 9}, {3, 77, 129}, {200, 2, 70}, {7, 9, 0}};
  const float bounds[][2] = {{-__builtin_inff(), __builtin_inff()}, {0.f, __builtin_inff()}, {-0.5f, 0.75f}};
  for (const auto& s : sizes)
    for (const auto& bound : bounds)
      for (int variant = 0; variant < 8; ++variant) {  // bit 0: bias, bit 1: beta 1, bit 2: prepared A and serial
        const int64_t M = s[0], N = s[1], K = s[2];
        const bool with_bias = variant & 1, prepared = variant & 4;
        const float beta = variant & 2 ? 1.f : 0.f;
        auto A = random_vector(M * K + 1, rng), B = random_vector(K * N + 1, rng), bias = random_vector(M, rng);
        auto C = random_vector(M * N, rng);
        const auto C0 = C;
        const MatRef a{A.data(), K, 1}, b{B.data(), N, 1};
        Epilogue e;
        e.bias = with_bias ? bias.data() : nullptr, e.lo = bound[0], e.hi = bound[1];
        ctx.packed.clear();
        if (prepared && K > 0)
          sgemm_prepared_serial(ctx, M, N, K, 0.5f, a, &packed_constant(ctx, Operand::a, M, K, a), b, nullptr, beta,
                                C.data(), N, &e);
        else
          sgemm_prepared(ctx, M, N, K, 0.5f, a, nullptr, b, nullptr, beta, C.data(), N, &e);
        double worst = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += double(A[i * K + k]) * B[k * N + j];
            double ref = 0.5 * acc + beta * C0[i * N + j] + (with_bias ? bias[i] : 0.f);
            ref = std::min(std::max(ref, double(bound[0])), double(bound[1]));
            worst = std::max(worst, std::fabs(ref - C[i * N + j]) / (1.0 + std::sqrt(double(K))));
          }
        ASSERT_LT(worst, 1e-4) << M << "x" << N << "x" << K << " bounds " << bound[0] << "," << bound[1]
                               << " variant " << variant;
      }
}

// C's columns scattered by Epilogue::columns (images side by side landing in NCHW): every element at its mapped
// place, the gaps untouched, over edge tiles, tiles across gaps and several depth panels, serial and threaded.
TEST_P(Sgemm, EpilogueColumnsPlaceEveryColumn) {
  std::mt19937 rng(10);
  Context ctx(3);
  ctx.gemm_kernel = sgemm_kernel(GetParam());
  const int64_t sizes[][4] = {{24, 245, 40, 49}, {13, 100, 300, 7}, {130, 64, 9, 32}, {5, 3, 20, 2}};  // M N K plane
  for (const auto& s : sizes)
    for (int threaded = 0; threaded < 2; ++threaded) {
      const int64_t M = s[0], N = s[1], K = s[2], plane = s[3], images = (N + plane - 1) / plane;
      const int64_t image_out = M * plane + 3, ldc = plane;  // 3 floats of gap after each image
      auto A = random_vector(M * K, rng), B = random_vector(K * N, rng), bias = random_vector(M, rng);
      std::vector<int64_t> columns(N);
      for (int64_t j = 0; j < N; ++j) columns[j] = j / plane * image_out + j % plane;
      std::vector<float> C(images * image_out, 7.f);
      Epilogue e;
      e.bias = bias.data(), e.lo = 0.f, e.columns = columns.data();
      const MatRef a{A.data(), K, 1}, b{B.data(), N, 1};
      if (threaded) sgemm_prepared(ctx, M, N, K, 1.f, a, nullptr, b, nullptr, 0.f, C.data(), ldc, &e);
      else sgemm_prepared_serial(ctx, M, N, K, 1.f, a, nullptr, b, nullptr, 0.f, C.data(), ldc, &e);
      std::vector<bool> written(C.size(), false);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double acc = bias[i];
          for (int64_t k = 0; k < K; ++k) acc += double(A[i * K + k]) * B[k * N + j];
          const size_t at = static_cast<size_t>(i * ldc + columns[j]);
          ASSERT_NEAR(C[at], std::max(acc, 0.0), 1e-4 * (1 + std::sqrt(double(K)))) << M << "x" << N << "x" << K;
          written[at] = true;
        }
      for (size_t i = 0; i < C.size(); ++i)
        if (!written[i]) {
          ASSERT_EQ(C[i], 7.f) << "a write outside the mapped columns at " << i;
        }
    }
}

// MatMul with a constant right operand (prepared once, then reused) equals the float64 product: 2-D, batch folded
// into rows, a broadcast batch of b (not prepared), twice each on one backend.
TEST(MatMul, ConstantRightOperandMatchesReference) {
  std::mt19937 rng(5);
  const Shape cases[][2] = {{{197, 768}, {768, 300}}, {{2, 5, 7}, {7, 9}}, {{3, 40, 33}, {3, 33, 20}}, {{1, 3}, {3, 2}}};
  for (int threads : {1, 2}) {
    auto backend = make_cpu_backend(threads);
    for (const auto& c : cases) {
      const Shape& as = c[0];
      const Shape& bs = c[1];
      auto a = random_vector(numel(as), rng), b = random_vector(numel(bs), rng);
      const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
      const int64_t batches = numel(as) / (M * K), b_batches = numel(bs) / (K * N);
      Shape ys(as.begin(), as.end() - 1);
      ys.push_back(N);
      std::vector<float> y(numel(ys));
      for (int call = 0; call < 2; ++call) {
        std::fill(y.begin(), y.end(), -7.f);
        backend->matmul({a.data(), as, Device::cpu()}, {b.data(), bs, Device::cpu()}, {y.data(), ys, Device::cpu()},
                        true);
        for (int64_t t = 0; t < batches; ++t)
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double acc = 0;
              const float* bt = b.data() + (b_batches > 1 ? t : 0) * K * N;
              for (int64_t k = 0; k < K; ++k) acc += double(a[(t * M + i) * K + k]) * bt[k * N + j];
              ASSERT_NEAR(y[(t * M + i) * N + j], acc, 1e-4 * (1 + std::sqrt(double(K))))
                  << shape_str(as) << " x " << shape_str(bs) << " call " << call;
            }
      }
    }
  }
}

TEST(SgemmKernels, UnknownNameIsAnError) { EXPECT_THROW(sgemm_kernel("winograd"), glassbox::Error); }

struct ConvCase {
  int64_t N, C, H, W, M, KH, KW, G, sh, sw, dh, dw, pt, pl, pb, pr;
};

// Every registered CPU convolution variant (by name, through the backend) against the direct definition over an
// attribute sweep, on 1 and 2 threads. The 3x3 stride-1 cases cover Winograd's edge tiles (odd outputs), uneven
// padding, batches, channel counts that are multiples of nothing, planes that take several tile chunks, and a
// plane so small that threads split its output channels.
class Conv2dVariant : public ::testing::TestWithParam<std::string> {};

TEST_P(Conv2dVariant, MatchesDirect) {
  std::mt19937 rng(2);
  const ConvCase cases[] = {
      {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   {1, 8, 8, 8, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 8, 9, 9, 16, 3, 3, 8, 2, 2, 1, 1, 0, 0, 1, 1},   {2, 6, 7, 7, 4, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 4, 10, 10, 6, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2},  {1, 3, 15, 15, 8, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3},
      {1, 5, 6, 9, 7, 1, 3, 1, 1, 2, 1, 1, 0, 1, 0, 1},    {1, 12, 7, 7, 12, 5, 5, 12, 2, 2, 1, 1, 1, 1, 2, 2},
      {1, 16, 5, 5, 32, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},  {1, 2, 4, 4, 3, 4, 4, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 7, 13, 11, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  {2, 5, 8, 9, 6, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 6, 5, 7, 5, 3, 3, 1, 1, 1, 1, 1, 2, 0, 1, 2},    {2, 1, 1, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 96, 19, 17, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  {1, 20, 5, 6, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      // several images side by side with tiles across their boundaries (1x1 and 3x3), and wide planes in chunks
      {5, 40, 7, 7, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},  {3, 9, 6, 5, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 8, 24, 24, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {2, 4, 23, 25, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
  };
  for (int threads : {1, 2}) {
    auto b = make_cpu_backend(threads), ref = make_cpu_backend(threads);
    b->select_variant("conv2d", GetParam());
    ref->select_variant("conv2d", "direct");
    for (const auto& c : cases)  // hard_swish: not fused into the GEMM, applied after it
      for (Activation act : {Activation::none, Activation::relu, Activation::clip, Activation::hard_swish}) {
        Conv2dAttrs a;
        a.stride_h = c.sh, a.stride_w = c.sw, a.dilation_h = c.dh, a.dilation_w = c.dw, a.groups = c.G;
        a.pad_top = c.pt, a.pad_left = c.pl, a.pad_bottom = c.pb, a.pad_right = c.pr;
        a.act = {act, 0.f, 0.5f};
        const int64_t OH = (c.H + c.pt + c.pb - ((c.KH - 1) * c.dh + 1)) / c.sh + 1;
        const int64_t OW = (c.W + c.pl + c.pr - ((c.KW - 1) * c.dw + 1)) / c.sw + 1;
        auto x = random_vector(c.N * c.C * c.H * c.W, rng), w = random_vector(c.M * (c.C / c.G) * c.KH * c.KW, rng),
             bias = random_vector(c.M, rng);
        std::vector<float> y1(c.N * c.M * OH * OW), y2(y1.size());
        const Device cpu = Device::cpu();
        const ConstView xv{x.data(), {c.N, c.C, c.H, c.W}, cpu}, wv{w.data(), {c.M, c.C / c.G, c.KH, c.KW}, cpu},
            bv{bias.data(), {c.M}, cpu};
        ref->conv2d(a, xv, wv, bv, {y2.data(), {c.N, c.M, OH, OW}, cpu});
        const double scale = 1 + std::sqrt(double(c.C / c.G * c.KH * c.KW));
        // Weights as given, then as constants (prepared at the first call, the prepared form read at the second),
        // on a fresh backend: prepared weights must outlive the session, and these are freed after the case.
        auto prepared = make_cpu_backend(threads);
        prepared->select_variant("conv2d", GetParam());
        for (int call : {0, 1, 2}) {
          a.constant_weights = call > 0;
          std::fill(y1.begin(), y1.end(), -7.f);
          (call ? prepared : b)->conv2d(a, xv, wv, bv, {y1.data(), {c.N, c.M, OH, OW}, cpu});
          for (size_t i = 0; i < y1.size(); ++i)
            ASSERT_NEAR(y1[i], y2[i], 1e-5 * scale * (1 + std::fabs(y2[i])))
                << "x[" << c.N << "," << c.C << "," << c.H << "," << c.W << "] M " << c.M << " k" << c.KH << "x"
                << c.KW << " act " << int(act) << " threads " << threads << " call " << call << " element " << i;
        }
      }
  }
}

// Prepared weights are keyed by address and shape: a constant rewritten in place (as a freed one's memory taken by
// a new one) must be seen after release_prepared(), and the kept preparation is read until then (the kernel
// workbench once reused a freed problem's address for the next problem's weights and read stale packing).
TEST(PreparedWeights, ReleasedWhenTheirMemoryIsReused) {
  std::mt19937 rng(9);
  auto b = make_cpu_backend(2), ref = make_cpu_backend(1);
  ref->select_variant("conv2d", "direct");
  const Device cpu = Device::cpu();
  Conv2dAttrs a;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1, a.constant_weights = true;
  auto x = random_vector(1 * 16 * 12 * 12, rng), bias = random_vector(24, rng);
  std::vector<float> w(24 * 16 * 3 * 3), y(24 * 12 * 12), want(y.size()), first(y.size());
  const ConstView xv{x.data(), {1, 16, 12, 12}, cpu}, wv{w.data(), {24, 16, 3, 3}, cpu}, bv{bias.data(), {24}, cpu};
  const View yv{y.data(), {1, 24, 12, 12}, cpu};
  auto expect_equal = [&](const std::vector<float>& e, const char* what) {
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], e[i], 1e-4 * (1 + std::fabs(e[i]))) << what << " " << i;
  };
  auto rewrite_w = [&] {  // in place: the views keep pointing at w's memory
    const auto v = random_vector(w.size(), rng);
    std::copy(v.begin(), v.end(), w.begin());
  };
  rewrite_w();
  ref->conv2d(a, xv, wv, bv, {first.data(), {1, 24, 12, 12}, cpu});
  b->conv2d(a, xv, wv, bv, yv);  // prepares w
  expect_equal(first, "first weights");
  rewrite_w();  // new values at the same address
  b->conv2d(a, xv, wv, bv, yv);
  expect_equal(first, "before release_prepared, the kept preparation");
  EXPECT_GE(b->workspace_bytes(), w.size() * sizeof(float)) << "the packed weights count as workspace";
  b->release_prepared();
  EXPECT_EQ(b->workspace_bytes(), 0u);
  ref->conv2d(a, xv, wv, bv, {want.data(), {1, 24, 12, 12}, cpu});
  b->conv2d(a, xv, wv, bv, yv);
  expect_equal(want, "after release_prepared, the new weights");
}

INSTANTIATE_TEST_SUITE_P(Registered, Conv2dVariant, ::testing::ValuesIn(make_cpu_backend(1)->variants("conv2d")),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Every depthwise variant on every instruction set this CPU has, against the direct definition: strides 1 to 3,
// dilations, kernels 1 to 7, channel multipliers, uneven and over-wide padding, and output widths that take the
// 4-vector blocks, single vectors and masked (or scalar) tails of both vector widths.
struct DepthwiseCase {
  std::string isa, variant;
};
void PrintTo(const DepthwiseCase& c, std::ostream* os) { *os << "isa=" << c.isa << " depthwise=" << c.variant; }
class Depthwise : public ::testing::TestWithParam<DepthwiseCase> {};

TEST_P(Depthwise, MatchesDirect) {
  std::mt19937 rng(3);
  //                 N  C   H    W  mult KH KW  s  d  pt pl pb pr
  const int64_t cases[][13] = {{2, 3, 9, 11, 1, 3, 3, 1, 1, 1, 1, 1, 1},   {1, 4, 12, 70, 1, 3, 3, 2, 1, 1, 1, 1, 1},
                               {1, 2, 8, 131, 1, 5, 5, 1, 1, 2, 2, 2, 2},  {1, 2, 9, 67, 2, 3, 3, 2, 1, 0, 0, 1, 1},
                               {1, 3, 10, 33, 1, 7, 7, 3, 1, 3, 3, 3, 3},  {2, 2, 7, 17, 3, 3, 3, 1, 2, 2, 2, 2, 2},
                               {1, 5, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},    {1, 2, 6, 9, 1, 1, 1, 1, 1, 0, 0, 0, 0},
                               {1, 3, 11, 200, 1, 3, 5, 2, 1, 0, 2, 2, 1}, {1, 2, 5, 6, 1, 3, 3, 1, 1, 4, 5, 3, 6},
                               {1, 16, 14, 14, 1, 5, 5, 2, 1, 1, 2, 2, 1}, {3, 1, 8, 8, 1, 2, 2, 2, 1, 0, 0, 0, 0},
                               {0, 3, 5, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1},    {1, 2, 0, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1},
                               {2, 37, 7, 7, 1, 5, 5, 1, 1, 2, 2, 2, 2},   {1, 19, 9, 8, 2, 3, 3, 2, 2, 3, 1, 0, 2}};
  const DepthwiseCase& p = GetParam();
  for (int threads : {1, 2}) {
    auto b = make_cpu_backend(threads), ref = make_cpu_backend(threads);
    b->select_variant("isa", p.isa);
    b->select_variant("depthwise", p.variant);
    ref->select_variant("conv2d", "direct");
    for (const auto& c : cases)
      for (Activation act : {Activation::none, Activation::relu, Activation::clip, Activation::hard_swish}) {
        const int64_t N = c[0], C = c[1], H = c[2], W = c[3], M = C * c[4], KH = c[5], KW = c[6];
        Conv2dAttrs a;
        a.stride_h = a.stride_w = c[7], a.dilation_h = a.dilation_w = c[8], a.groups = C;
        a.pad_top = c[9], a.pad_left = c[10], a.pad_bottom = c[11], a.pad_right = c[12];
        a.act = {act, 0.f, 0.5f};
        const int64_t OH = (H + a.pad_top + a.pad_bottom - ((KH - 1) * a.dilation_h + 1)) / a.stride_h + 1;
        const int64_t OW = (W + a.pad_left + a.pad_right - ((KW - 1) * a.dilation_w + 1)) / a.stride_w + 1;
        auto x = random_vector(N * C * H * W, rng), w = random_vector(M * KH * KW, rng), bias = random_vector(M, rng);
        std::vector<float> y1(N * M * OH * OW, -7.f), y2(y1.size());
        const Device cpu = Device::cpu();
        const ConstView xv{x.data(), {N, C, H, W}, cpu}, wv{w.data(), {M, 1, KH, KW}, cpu}, bv{bias.data(), {M}, cpu};
        b->conv2d(a, xv, wv, bv, {y1.data(), {N, M, OH, OW}, cpu});
        ref->conv2d(a, xv, wv, bv, {y2.data(), {N, M, OH, OW}, cpu});
        for (size_t i = 0; i < y1.size(); ++i)
          ASSERT_NEAR(y1[i], y2[i], 1e-5 * (1 + std::sqrt(double(KH * KW))) * (1 + std::fabs(y2[i])))
              << "x[" << N << "," << C << "," << H << "," << W << "] M " << M << " k" << KH << "x" << KW << " s"
              << a.stride_h << " d" << a.dilation_h << " act " << int(act) << " threads " << threads << " element "
              << i;
      }
  }
}

// The depthwise x-gradient (one filter per channel) on every instruction set and in every variant's layout against
// the float64 direct backward, over the same sweep (strides 1 to 3, dilation, over-wide and cropping pads, zero
// sizes, channel counts that leave a partial block of lanes).
TEST_P(Depthwise, BackwardMatchesDirect) {
  std::mt19937 rng(6);
  const int64_t cases[][12] = {{2, 3, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1},  {1, 4, 12, 70, 3, 3, 2, 1, 1, 1, 1, 1},
                               {1, 2, 8, 131, 5, 5, 1, 1, 2, 2, 2, 2}, {1, 2, 9, 67, 3, 3, 2, 1, 0, 0, 1, 1},
                               {1, 3, 10, 33, 7, 7, 3, 1, 3, 3, 3, 3}, {2, 2, 7, 17, 3, 3, 1, 2, 2, 2, 2, 2},
                               {1, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},   {1, 2, 5, 6, 3, 3, 1, 1, 4, 5, 3, 6},
                               {1, 3, 11, 20, 3, 5, 2, 1, 0, 2, 2, 1}, {1, 2, 10, 10, 3, 3, 2, 1, 0, 0, 0, 0},
                               {0, 3, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1},   {1, 16, 14, 14, 5, 5, 2, 1, 2, 2, 2, 2},
                               {2, 37, 9, 9, 3, 3, 2, 1, 1, 1, 1, 1},  {1, 21, 13, 11, 5, 3, 3, 2, 3, 0, 1, 2}};
  auto b = make_cpu_backend(2), ref = make_cpu_backend(1);
  b->select_variant("isa", GetParam().isa);
  b->select_variant("depthwise", GetParam().variant);  // the x-gradient follows the variant's layout
  ref->select_variant("conv2d", "direct");
  for (const auto& c : cases) {
    const int64_t N = c[0], C = c[1], H = c[2], W = c[3], KH = c[4], KW = c[5];
    Conv2dAttrs a;
    a.stride_h = a.stride_w = c[6], a.dilation_h = a.dilation_w = c[7], a.groups = C;
    a.pad_top = c[8], a.pad_left = c[9], a.pad_bottom = c[10], a.pad_right = c[11];
    const int64_t OH = (H + a.pad_top + a.pad_bottom - ((KH - 1) * a.dilation_h + 1)) / a.stride_h + 1;
    const int64_t OW = (W + a.pad_left + a.pad_right - ((KW - 1) * a.dilation_w + 1)) / a.stride_w + 1;
    auto dy = random_vector(N * C * OH * OW, rng), w = random_vector(C * KH * KW, rng);
    std::vector<float> dx1(N * C * H * W, -7.f), dx2(dx1.size());
    const Device cpu = Device::cpu();
    const ConstView dyv{dy.data(), {N, C, OH, OW}, cpu}, wv{w.data(), {C, 1, KH, KW}, cpu};
    b->conv2d_backward_data(a, dyv, wv, {dx1.data(), {N, C, H, W}, cpu});
    ref->conv2d_backward_data(a, dyv, wv, {dx2.data(), {N, C, H, W}, cpu});
    for (size_t i = 0; i < dx1.size(); ++i)
      ASSERT_NEAR(dx1[i], dx2[i], 1e-5 * (1 + std::sqrt(double(KH * KW))) * (1 + std::fabs(dx2[i])))
          << "x[" << N << "," << C << "," << H << "," << W << "] k" << KH << "x" << KW << " s" << a.stride_h << " d"
          << a.dilation_h << " pads " << a.pad_top << "," << a.pad_left << "," << a.pad_bottom << "," << a.pad_right
          << " element " << i;
  }
}

// The x-gradient of 1x1 stride-1 convolutions (written straight into dx, no fold), of a padded 1x1 and of a 3x3
// (the fold), with weights as given and prepared, batches and groups, against the float64 direct backward.
TEST(Conv2dBackward, PointwiseAndFoldedMatchDirect) {
  std::mt19937 rng(7);
  //                      N  C   H  W   M  K  G  pad
  const int64_t cases[][8] = {{2, 6, 5, 7, 4, 1, 1, 0}, {1, 8, 9, 9, 12, 1, 2, 0}, {3, 16, 7, 7, 40, 1, 1, 0},
                              {1, 4, 6, 6, 5, 1, 1, 1}, {2, 6, 8, 8, 4, 3, 2, 1}};
  for (int threads : {1, 2}) {
    auto b = make_cpu_backend(threads), ref = make_cpu_backend(1);
    ref->select_variant("conv2d", "direct");
    for (const auto& c : cases)
      for (bool constant : {false, true}) {
        const int64_t N = c[0], C = c[1], H = c[2], W = c[3], M = c[4], KS = c[5], G = c[6], p = c[7];
        Conv2dAttrs a;
        a.groups = G, a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = p, a.constant_weights = constant;
        const int64_t OH = H + 2 * p - KS + 1, OW = W + 2 * p - KS + 1;
        auto dy = random_vector(N * M * OH * OW, rng), w = random_vector(M * (C / G) * KS * KS, rng);
        std::vector<float> dx1(N * C * H * W, -7.f), dx2(dx1.size());
        const Device cpu = Device::cpu();
        const ConstView dyv{dy.data(), {N, M, OH, OW}, cpu}, wv{w.data(), {M, C / G, KS, KS}, cpu};
        b->conv2d_backward_data(a, dyv, wv, {dx1.data(), {N, C, H, W}, cpu});
        ref->conv2d_backward_data(a, dyv, wv, {dx2.data(), {N, C, H, W}, cpu});
        for (size_t i = 0; i < dx1.size(); ++i)
          ASSERT_NEAR(dx1[i], dx2[i], 1e-5 * (1 + std::sqrt(double(M * KS * KS))) * (1 + std::fabs(dx2[i])))
              << "x[" << N << "," << C << "," << H << "," << W << "] M " << M << " k" << KS << " g" << G << " pad " << p
              << " constant " << constant << " threads " << threads << " element " << i;
        b = make_cpu_backend(threads);  // the next case's weights may reuse this one's (prepared) address
      }
  }
}

// The vectorized ReLU/Clip backward loops equal the per-element formulas of element_formulas.h exactly, under every
// rule, at the kinks and bounds and with NaN, infinite and zero gradients.
TEST(ActivationBackward, RectifierLoopsEqualTheFormulas) {
  const float inf = INFINITY, nan = NAN;
  std::vector<float> y, dy;
  for (float yv : {-inf, -1.f, -0.5f, 0.f, 0.25f, 0.7f, 1.f, 6.f, inf, nan})
    for (float gv : {-inf, -2.f, -0.f, 0.f, 1e-30f, 3.f, inf, nan}) y.push_back(yv), dy.push_back(gv);
  auto b = make_cpu_backend(2);
  const Device cpu = Device::cpu();
  const Shape shape{int64_t(y.size())};
  for (Activation kind : {Activation::relu, Activation::clip}) {
    ActivationAttrs a;
    a.kind = kind, a.alpha = kind == Activation::clip ? -0.5f : 0.f, a.beta = kind == Activation::clip ? 0.7f : 0.f;
    for (BackwardRule rule : {BackwardRule::gradient, BackwardRule::deconvnet, BackwardRule::guided}) {
      std::vector<float> dx(y.size(), -7.f);
      b->activation_backward(a, {}, {y.data(), shape, cpu}, {dy.data(), shape, cpu}, {dx.data(), shape, cpu}, rule);
      for (size_t i = 0; i < y.size(); ++i) {
        const float want = rule == BackwardRule::gradient ? dy[i] * activation_derivative_at_output(a, y[i])
                                                          : rule_backward_at(rule, a, y[i], dy[i]);
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(dx[i])) << i;
        else EXPECT_EQ(dx[i], want) << "kind " << int(kind) << " rule " << int(rule) << " y " << y[i] << " dy " << dy[i];
      }
    }
  }
}

std::vector<DepthwiseCase> depthwise_cases() {
  std::vector<DepthwiseCase> out;
  auto b = make_cpu_backend(1);
  for (const std::string& isa : b->variants("isa"))
    for (const std::string& v : b->variants("depthwise")) out.push_back({isa, v});
  return out;
}
INSTANTIATE_TEST_SUITE_P(Registered, Depthwise, ::testing::ValuesIn(depthwise_cases()),
                         [](const ::testing::TestParamInfo<DepthwiseCase>& info) {
                           return info.param.isa + "_" + info.param.variant;
                         });

// The vectorized Erf, GELU and Softmax (vec_math.h's exp and erf) on every instruction set against float64:
// a sweep through [-6, 6] and the tails, lengths with partial vectors, and the special values (+-inf, NaN, values
// whose exp overflows or underflows).
TEST(VecMath, ErfGeluSoftmaxMatchFloat64) {
  const Device cpu = Device::cpu();
  std::vector<float> x;
  for (int i = -6000; i <= 6000; ++i) x.push_back(float(i) * 1e-3f);
  for (float v : {1e-30f, -1e-30f, 0.f, -0.f, 0.4999999f, 0.5f, 0.5000001f, 7.f, -9.f, 30.f, -1e6f}) x.push_back(v);
  const float inf = __builtin_inff(), nan = __builtin_nanf("");
  x.push_back(inf), x.push_back(-inf), x.push_back(nan);
  for (const std::string& isa : make_cpu_backend(1)->variants("isa")) {
    auto b = make_cpu_backend(2);
    b->select_variant("isa", isa);
    std::vector<float> y(x.size());
    for (Activation kind : {Activation::erf, Activation::gelu}) {
      b->activation({kind, 0.f, 0.f}, {x.data(), {int64_t(x.size())}, cpu}, {y.data(), {int64_t(y.size())}, cpu});
      for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double want = kind == Activation::erf ? std::erf(v) : 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(y[i])) << isa << " x " << x[i];
        } else if (std::isinf(want)) {
          EXPECT_EQ(y[i], want) << isa << " x " << x[i];
        } else {
          ASSERT_NEAR(y[i], want, 3e-7 * std::max(1.0, std::fabs(want))) << isa << " kind " << int(kind) << " x " << x[i];
        }
      }
    }
    // Softmax rows: exp(x - max) over lengths 1 to 40 (partial vectors), a row spanning exp's whole range (terms
    // that underflow to 0 next to 1), and a row with -inf entries (exactly 0).
    for (int64_t len : {1, 3, 16, 17, 40, 197}) {
      std::vector<float> row(2 * len), out(row.size());
      for (int64_t k = 0; k < 2 * len; ++k) row[k] = float((k * 37) % 23) * (k < len ? 0.7f : -9.f);
      if (len > 2) row[len + 1] = -inf;
      b->softmax(1, {row.data(), {2, len}, cpu}, {out.data(), {2, len}, cpu});
      for (int64_t r = 0; r < 2; ++r) {
        double m = -INFINITY, sum = 0;
        for (int64_t k = 0; k < len; ++k) m = std::max(m, double(row[r * len + k]));
        for (int64_t k = 0; k < len; ++k) sum += std::exp(double(row[r * len + k]) - m);
        for (int64_t k = 0; k < len; ++k) {
          const double want = std::exp(double(row[r * len + k]) - m) / sum;
          ASSERT_NEAR(out[r * len + k], want, 1e-6 * want + 1e-37) << isa << " len " << len << " row " << r << " k " << k;
        }
      }
    }
  }
}

TEST(CpuIsa, NamesAndErrors) {
  auto b = make_cpu_backend(1);
  const auto isas = b->variants("isa");
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.back(), "generic");
  for (const std::string& isa : isas) {
    b->select_variant("isa", isa);
    EXPECT_EQ(b->selected_variant("isa"), isa);
    // Choosing a set resets the GEMM micro-kernel to that set's.
    EXPECT_EQ(b->selected_variant("sgemm").rfind(isa == "generic" ? "generic" : isa, 0), 0u) << isa;
  }
  EXPECT_THROW(b->select_variant("isa", "sse9"), glassbox::Error);
}

}  // namespace
}  // namespace glassbox::kernels::cpu
