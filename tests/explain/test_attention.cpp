// Attention explanations of vision transformers (explain/attention.h) and the token grid (explain/tokens.h): each
// method against an independent float64 computation of its formula, written again here loop by loop from the
// captured attention matrices (and, for gradient-weighted rollout, their gradients from Session::backward with
// explicit seeds), on a small patch-embedding ViT built here with the ONNX protobuf classes and on the tiny ViT block
// golden (tests/data/ops/vit_block_opset20, which has no patch embedding: its grid is given); against the Python
// goldens of tests/data/attention/<model>/ where they exist; and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "explain/attention.h"
#include "explain/tokens.h"
#include "tests/support/cam_reference.h"
#include "tests/support/onnx_builder.h"
#include "tests/explain/transformer_goldens.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

using Maps = std::vector<double>;

// ---- a small ViT with a patch embedding, built here ----------------------------------------------------------

using test::attr_int;
using test::attr_ints;

constexpr int64_t kImage = 12, kPatch = 4, kGrid = 3, kT = 1 + kGrid * kGrid, kD = 8, kHeads = 2, kClasses = 5;

// input [N, 3, 12, 12] -> Conv 4x4 stride 4 (patch embedding [N, 8, 3, 3]) -> [N, 9, 8] tokens -> class token
// (Expand to the batch through Shape/Gather/Unsqueeze/Concat, folded) -> + position embedding -> `blocks` blocks
// (attention with 2 heads: fused QKV MatMul, Reshape, Transpose, Gather, MatMul, Mul, Softmax on the last axis;
// a ReLU MLP; residual Adds) -> class token -> linear head [N, 5].
std::shared_ptr<const Model> patch_vit(int blocks = 2) {
  test::OnnxBuilder b("patch_vit");
  const int64_t d = kD / kHeads;
  b.input("input", {-1, 3, kImage, kImage});
  auto* conv = b.node("Conv", {"input", b.weight("pe_w", {kD, 3, kPatch, kPatch}, 0.3f), b.weight("pe_b", {kD}, 0.1f)},
                      "patches4");
  attr_ints(conv, "kernel_shape", {kPatch, kPatch});
  attr_ints(conv, "strides", {kPatch, kPatch});
  b.node("Reshape", {"patches4", b.ints("flat_shape", {0, kD, kGrid * kGrid})}, "patches3");
  attr_ints(b.node("Transpose", {"patches3"}, "patches"), "perm", {0, 2, 1});
  b.node("Shape", {"input"}, "in_shape");
  attr_int(b.node("Gather", {"in_shape", b.ints("zero", {0}, true)}, "batch"), "axis", 0);
  b.node("Unsqueeze", {"batch", b.ints("axes0", {0})}, "batch1");
  attr_int(b.node("Concat", {"batch1", b.ints("one_d", {1, kD})}, "cls_shape"), "axis", 0);
  b.node("Expand", {b.weight("cls", {1, 1, kD}, 1.f), "cls_shape"}, "cls_b");
  attr_int(b.node("Concat", {"cls_b", "patches"}, "tokens"), "axis", 1);
  b.node("Add", {"tokens", b.weight("pos", {1, kT, kD}, 0.5f)}, "h0");
  std::string h = "h0";
  for (int i = 0; i < blocks; ++i) {
    const std::string p = "b" + std::to_string(i) + "_";
    b.node("MatMul", {h, b.weight(p + "w_qkv", {kD, 3 * kD}, 0.3f)}, p + "qkv");
    b.node("Reshape", {p + "qkv", b.ints(p + "qkv_shape", {0, kT, 3, kHeads, d})}, p + "qkv5");
    attr_ints(b.node("Transpose", {p + "qkv5"}, p + "qkv_t"), "perm", {2, 0, 3, 1, 4});
    for (int j = 0; j < 3; ++j)
      attr_int(b.node("Gather", {p + "qkv_t", b.ints(p + "i" + std::to_string(j), {j}, true)},
                      p + std::string(1, "qkv"[j])),
               "axis", 0);
    attr_ints(b.node("Transpose", {p + "k"}, p + "kt"), "perm", {0, 1, 3, 2});
    b.node("MatMul", {p + "q", p + "kt"}, p + "s");
    b.node("Mul", {p + "s", b.floats(p + "scale", {}, {0.5f})}, p + "s2");  // d^-1/2
    attr_int(b.node("Softmax", {p + "s2"}, p + "attn"), "axis", -1);
    b.node("MatMul", {p + "attn", p + "v"}, p + "o");
    attr_ints(b.node("Transpose", {p + "o"}, p + "o_t"), "perm", {0, 2, 1, 3});
    b.node("Reshape", {p + "o_t", b.ints(p + "o_shape", {0, kT, kD})}, p + "o3");
    b.node("MatMul", {p + "o3", b.weight(p + "w_o", {kD, kD}, 0.4f)}, p + "proj");
    b.node("Add", {h, p + "proj"}, p + "h1");
    b.node("MatMul", {p + "h1", b.weight(p + "w1", {kD, 2 * kD}, 0.4f)}, p + "m1");
    b.node("Relu", {p + "m1"}, p + "r");
    b.node("MatMul", {p + "r", b.weight(p + "w2", {2 * kD, kD}, 0.3f)}, p + "m2");
    b.node("Add", {p + "h1", p + "m2"}, p + "h2");
    h = p + "h2";
  }
  attr_int(b.node("Gather", {h, b.ints("cls_index", {0}, true)}, "cls_out"), "axis", 1);
  b.node("MatMul", {"cls_out", b.weight("head", {kD, kClasses}, 0.5f)}, "logits");
  b.output("logits", {-1, kClasses});
  const std::string bytes = b.bytes();
  return Model::from_bytes(bytes.data(), bytes.size(), {}, "patch_vit");
}

std::string vit_block() { return test::source_dir() + "/tests/data/ops/vit_block_opset20/model.onnx"; }

Tensor random_input(const Shape& s, uint32_t seed) {
  Tensor x = Tensor::empty(s);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
  return x;
}

std::vector<double> to_double(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<double>(h.data<float>(), h.data<float>() + h.numel());
}

// ---- the float64 references, from the definitions in attention.h ---------------------------------------------

using Matrix = std::vector<double>;  // [T, T] row-major

// fuse_heads of one image's [heads, T, T] block at `base` of a.
Matrix fuse(const std::vector<double>& a, int64_t base, int64_t heads, int64_t T, HeadFusion f) {
  Matrix out(T * T);
  for (int64_t p = 0; p < T * T; ++p) {
    double v = a[base + p];
    double s = 0;
    for (int64_t h = 0; h < heads; ++h) {
      const double u = a[base + h * T * T + p];
      s += u;
      if (f == HeadFusion::max) v = std::max(v, u);
      if (f == HeadFusion::min) v = std::min(v, u);
    }
    out[p] = f == HeadFusion::mean ? s / double(heads) : v;
  }
  return out;
}

Matrix matmul(const Matrix& a, const Matrix& b, int64_t T) {
  Matrix c(T * T, 0.0);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t k = 0; k < T; ++k)
      for (int64_t j = 0; j < T; ++j) c[i * T + j] += a[i * T + k] * b[k * T + j];
  return c;
}

Matrix identity(int64_t T) {
  Matrix m(T * T, 0.0);
  for (int64_t i = 0; i < T; ++i) m[i * T + i] = 1;
  return m;
}

// The class token's row of R on the patches.
void class_row(const Matrix& R, const TokenGrid& grid, Maps& out) {
  for (int64_t p = 0; p < grid.height * grid.width; ++p) out.push_back(R[grid.prefix + p]);
}

// As = the captured attentions [N, heads, T, T] per block (host doubles); maps [N, h, w] (K = 1).
Maps raw_reference(const std::vector<double>& A, int64_t N, int64_t heads, const TokenGrid& grid, HeadFusion f) {
  const int64_t T = grid.tokens();
  Maps out;
  for (int64_t n = 0; n < N; ++n) class_row(fuse(A, n * heads * T * T, heads, T, f), grid, out);
  return out;
}

Maps rollout_reference(const std::vector<std::vector<double>>& As, int64_t N, int64_t heads, const TokenGrid& grid,
                       HeadFusion f, double ratio) {
  const int64_t T = grid.tokens();
  Maps out;
  for (int64_t n = 0; n < N; ++n) {
    Matrix R = identity(T);
    for (const auto& A : As) {
      Matrix a = fuse(A, n * heads * T * T, heads, T, f);
      // The k smallest entries other than (0, 0), ties by the lower flat index, set to 0.
      const int64_t k = std::min<int64_t>(int64_t(std::floor(ratio * double(T * T))), T * T - 1);
      std::vector<int64_t> order;
      for (int64_t i = 1; i < T * T; ++i) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return a[i] < a[j]; });
      for (int64_t i = 0; i < k; ++i) a[order[i]] = 0;
      for (int64_t i = 0; i < T; ++i) {
        a[i * T + i] += 1;
        double s = 0;
        for (int64_t j = 0; j < T; ++j) s += a[i * T + j] / 2;
        for (int64_t j = 0; j < T; ++j) a[i * T + j] = a[i * T + j] / 2 / s;
      }
      R = matmul(a, R, T);
    }
    class_row(R, grid, out);
  }
  return out;
}

// Gs: the gradients [N * K, heads, T, T] per block; maps [N * K, h, w].
Maps grad_rollout_reference(const std::vector<std::vector<double>>& As, const std::vector<std::vector<double>>& Gs,
                            int64_t N, int64_t K, int64_t heads, const TokenGrid& grid, HeadFusion f) {
  const int64_t T = grid.tokens(), X = heads * T * T;
  Maps out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      Matrix R = identity(T);
      for (size_t b = 0; b < As.size(); ++b) {
        std::vector<double> prod(X);
        for (int64_t i = 0; i < X; ++i) prod[i] = std::max(Gs[b][(n * K + k) * X + i] * As[b][n * X + i], 0.0);
        const Matrix a = fuse(prod, 0, heads, T, f);
        const Matrix aR = matmul(a, R, T);
        for (int64_t i = 0; i < T * T; ++i) R[i] += aR[i];
      }
      class_row(R, grid, out);
    }
  return out;
}

// max |got - want| / max |want|.
double relative_error(const Maps& got, const Maps& want) {
  EXPECT_EQ(got.size(), want.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    err = std::max(err, std::abs(got[i] - want[i])), scale = std::max(scale, std::abs(want[i]));
  return scale > 0 ? err / scale : err;
}

// The engine's attentions and (with seeds) their gradients, from a plain session.
struct Captured {
  std::vector<std::vector<double>> A, G;
  int64_t heads = 0;
};
Captured capture(std::shared_ptr<const Model> model, const Tensor& x, const std::vector<int64_t>& classes,
                 int64_t K) {
  const auto layers = attention_layers(*model);
  Session s(model);
  s.capture(layers);
  if (!classes.empty()) s.track_gradients(layers);
  const Result r = s.run(x);
  Captured c;
  for (const auto& l : layers) c.A.push_back(to_double(r.capture(l)));
  c.heads = r.capture(layers[0]).dim(1);
  if (!classes.empty()) {
    const int64_t N = x.dim(0), C = r.output().dim(1);
    Tensor seeds = Tensor::zeros({N * K, C});
    for (int64_t i = 0; i < N * K; ++i) seeds.data<float>()[i * C + classes[i]] = 1.f;
    const auto grads = s.backward({seeds});
    for (const auto& l : layers) c.G.push_back(to_double(grads.at(l)));
  }
  return c;
}

AttentionOptions plain(AttentionMethod m, HeadFusion f, float ratio = 0.f) {
  AttentionOptions o;
  o.method = m, o.fusion = f, o.discard_ratio = ratio, o.upsample = false, o.normalize = false;
  return o;
}

// ---- tests ------------------------------------------------------------------------------------------------------

TEST(TokenGrid, PatchEmbedding) {
  auto model = patch_vit();
  Session session(model);
  const TokenGrid grid = token_grid(*model, session.plan_for({{2, 3, kImage, kImage}}), kT);
  EXPECT_EQ(grid.prefix, 1);
  EXPECT_EQ(grid.height, kGrid);
  EXPECT_EQ(grid.width, kGrid);
  EXPECT_EQ(grid.tokens(), kT);
  try {
    token_grid(*model, session.plan_for({{2, 3, kImage, kImage}}), kGrid * kGrid - 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("patches4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 8, 3, 3]"), std::string::npos) << e.what();
  }
}

TEST(TokenGrid, VitBlockHasNoPatchEmbedding) {
  // The golden ViT block takes tokens [2, 4, 16] directly: no Conv makes patches, so no grid can be derived.
  auto model = Model::load(vit_block());
  Session session(model);
  try {
    token_grid(*model, session.plan_for({model->input_shape()}), 5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no patch embedding"), std::string::npos) << e.what();
  }
}

TEST(TokenGrid, CnnHasNoTokens) {
  auto model = Model::load(test::source_dir() + "/tests/data/models/resnet_basic/model.onnx");
  Session session(model);
  Shape s = model->input_shape();
  s[0] = 1;
  try {
    token_grid(*model, session.plan_for({s}), 10);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no token activations"), std::string::npos) << e.what();
  }
}

TEST(Attention, Layers) {
  EXPECT_EQ(attention_layers(*patch_vit(3)), (std::vector<std::string>{"b0_attn", "b1_attn", "b2_attn"}));
  EXPECT_EQ(attention_layers(*Model::load(vit_block())), std::vector<std::string>{"p"});
  EXPECT_TRUE(attention_layers(*Model::load(test::source_dir() + "/tests/data/models/resnet_basic/model.onnx"))
                  .empty());
}

TEST(Attention, Names) {
  EXPECT_EQ(parse_attention_method("grad-rollout"), AttentionMethod::grad_rollout);
  EXPECT_EQ(parse_attention_method("grad_rollout"), AttentionMethod::grad_rollout);
  EXPECT_EQ(parse_attention_method("raw"), AttentionMethod::raw);
  EXPECT_EQ(parse_head_fusion("max"), HeadFusion::max);
  for (AttentionMethod m : all_attention_methods()) EXPECT_EQ(parse_attention_method(attention_method_name(m)), m);
  try {
    parse_head_fusion("median");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown head fusion 'median' (available: mean, max, min)"),
              std::string::npos)
        << e.what();
  }
  try {
    parse_attention_method("lrp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("raw, rollout, grad_rollout"), std::string::npos) << e.what();
  }
}

TEST(Attention, BadOptions) {
  auto model = patch_vit();
  AttentionOptions o;
  o.discard_ratio = 1.5f;
  try {
    AttentionExplainer ex(model, {}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("discard ratio 1.5 is outside [0, 1]"), std::string::npos) << e.what();
  }
  o = {};
  o.method = AttentionMethod::raw;
  o.block = 2;
  try {
    AttentionExplainer ex(model, {}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block 2 is out of range: the model has 2 attention block(s)"),
              std::string::npos)
        << e.what();
  }
  try {
    AttentionExplainer ex(Model::load(test::source_dir() + "/tests/data/models/resnet_basic/model.onnx"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no attention layers"), std::string::npos) << e.what();
  }
}

class PatchVit : public ::testing::TestWithParam<HeadFusion> {};

TEST_P(PatchVit, MethodsMatchReference) {
  const HeadFusion f = GetParam();
  auto model = patch_vit();
  const int64_t N = 2;
  const Tensor x = random_input({N, 3, kImage, kImage}, 11);
  const TokenGrid grid{1, kGrid, kGrid};
  const Captured c = capture(model, x, {}, 1);
  {
    AttentionOptions o = plain(AttentionMethod::raw, f);
    AttentionExplainer ex(model, {}, o);
    const auto e = ex.explain(x);
    EXPECT_EQ(e.maps.shape(), (Shape{N, kGrid, kGrid}));
    EXPECT_LT(relative_error(to_double(e.maps), raw_reference(c.A.back(), N, c.heads, grid, f)), 1e-5);
    o.block = 0;
    const auto first = AttentionExplainer(model, {}, o).explain(x);
    EXPECT_LT(relative_error(to_double(first.maps), raw_reference(c.A.front(), N, c.heads, grid, f)), 1e-5);
  }
  for (float ratio : {0.f, 0.5f, 0.9f}) {
    AttentionExplainer ex(model, {}, plain(AttentionMethod::rollout, f, ratio));
    const auto e = ex.explain(x);
    EXPECT_LT(relative_error(to_double(e.maps), rollout_reference(c.A, N, c.heads, grid, f, ratio)), 1e-5)
        << "discard ratio " << ratio;
  }
  {
    // Given classes (one per image), then the top 2 of each image: K = 2 maps per image from one backward.
    for (const Target& t : {Target{1, {3, 1}, false}, Target{2, {}, false}}) {
      AttentionExplainer ex(model, {}, plain(AttentionMethod::grad_rollout, f));
      const auto e = ex.explain(x, t);
      const auto classes = e.class_list();
      const int64_t K = int64_t(classes.size()) / N;
      const Captured g = capture(model, x, classes, K);
      const Maps want = grad_rollout_reference(g.A, g.G, N, K, g.heads, grid, f);
      EXPECT_EQ(e.maps.shape(), (Shape{N * K, kGrid, kGrid}));
      EXPECT_LT(relative_error(to_double(e.maps), want), 1e-5) << "K = " << K;
      EXPECT_GT(*std::max_element(want.begin(), want.end()), 0.0);  // some positive relevance flows to patches
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fusions, PatchVit, ::testing::Values(HeadFusion::mean, HeadFusion::max, HeadFusion::min),
                         [](const auto& info) { return std::string(head_fusion_name(info.param)); });

TEST(Attention, UpsampledAndNormalized) {
  // The defaults: maps at the input's size, min-max normalized: the reference resized and normalized.
  auto model = patch_vit();
  const int64_t N = 2;
  const Tensor x = random_input({N, 3, kImage, kImage}, 5);
  const Captured c = capture(model, x, {}, 1);
  AttentionOptions o;
  o.discard_ratio = 0.5f;
  AttentionExplainer ex(model, {}, o);
  const Target top2{2, {}, false};
  const auto e = ex.explain(x, top2);
  ASSERT_EQ(e.maps.shape(), (Shape{N * 2, kImage, kImage}));
  Maps want = rollout_reference(c.A, N, c.heads, {1, kGrid, kGrid}, HeadFusion::mean, 0.5);
  Maps repeated;  // K = 2: an image's two maps are equal
  for (int64_t n = 0; n < N; ++n)
    for (int k = 0; k < 2; ++k)
      repeated.insert(repeated.end(), want.begin() + n * kGrid * kGrid, want.begin() + (n + 1) * kGrid * kGrid);
  Maps big = test::resize_reference(repeated, N * 2, kGrid, kGrid, kImage, kImage);
  test::normalize_reference(big, N * 2);
  EXPECT_LT(relative_error(to_double(e.maps), big), 1e-5);
}

TEST(Attention, VitBlockWithGivenGrid) {
  // The golden ViT block: 5 tokens, the class token and a 2 x 2 grid given as an option; batch 2 (its Reshapes fix
  // it, so the backward takes one target per image: K seeds per image would need a plan at batch 2K).
  auto model = Model::load(vit_block());
  const Tensor x = random_input(model->input_shape(), 3);
  const int64_t N = x.dim(0);
  const TokenGrid grid{1, 2, 2};
  const Captured c = capture(model, x, {}, 1);
  for (HeadFusion f : {HeadFusion::mean, HeadFusion::max, HeadFusion::min}) {
    AttentionOptions o = plain(AttentionMethod::raw, f);
    o.grid = {0, 2, 2};
    auto e = AttentionExplainer(model, {}, o).explain(x);
    EXPECT_EQ(e.grid.prefix, 1);
    EXPECT_LT(relative_error(to_double(e.maps), raw_reference(c.A[0], N, c.heads, grid, f)), 1e-5);
    o.method = AttentionMethod::rollout;
    o.discard_ratio = 0.5f;
    e = AttentionExplainer(model, {}, o).explain(x);
    EXPECT_LT(relative_error(to_double(e.maps), rollout_reference(c.A, N, c.heads, grid, f, 0.5)), 1e-5);
    o.method = AttentionMethod::grad_rollout;
    e = AttentionExplainer(model, {}, o).explain(x, Target{1, {2, 0}, false});
    const Captured g = capture(model, x, e.class_list(), 1);
    EXPECT_LT(relative_error(to_double(e.maps), grad_rollout_reference(g.A, g.G, N, 1, g.heads, grid, f)), 1e-5);
  }
  // Without the grid option the model has no patch embedding to take it from.
  AttentionExplainer ex(model, {}, plain(AttentionMethod::raw, HeadFusion::mean));
  try {
    ex.explain(x);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no patch embedding"), std::string::npos) << e.what();
  }
}

// ---- the Python goldens (tests/data/attention/README.md): float64 PyTorch re-implementations of timm's and
// torchvision's ViTs, exported to ONNX; the maps neither normalized nor upsampled -----------------------------------

std::vector<std::string> golden_dirs() {
  std::vector<std::string> out;
  const std::filesystem::path root = std::filesystem::path(test::source_dir()) / "tests/data/attention";
  if (!std::filesystem::is_directory(root)) return out;
  for (const auto& d : std::filesystem::directory_iterator(root))
    if (std::filesystem::exists(d.path() / "layout.txt")) out.push_back(d.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AttentionGoldens, MatchPython) {
  const auto dirs = golden_dirs();
  ASSERT_GE(dirs.size(), 3u) << "tests/data/attention goldens missing";
  for (const auto& dir : dirs) test::expect_transformer_goldens(dir + "/model.onnx", dir);
}

}  // namespace
}  // namespace glassbox::explain
