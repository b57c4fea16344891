// The token grid of vision transformers (explain/tokens.h), on a small patch-embedding ViT built here with the ONNX
// protobuf classes, on the tiny ViT block golden (tests/data/ops/vit_block_opset20: no patch embedding) and a CNN.
#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "explain/tokens.h"
#include "tests/support/cam_reference.h"
#include "tests/support/testdata.h"

namespace glassbox::explain {
namespace {

// ---- a small ViT with a patch embedding, built here ----------------------------------------------------------

struct Builder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  std::mt19937 rng{1234};
  explicit Builder(int opset) {
    m.set_ir_version(8);
    auto* os = m.add_opset_import();
    os->set_domain("");
    os->set_version(opset);
    g = m.mutable_graph();
    g->set_name("patch_vit");
  }
  void value_info(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* sh = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = sh->add_dim();
      if (d < 0) dim->set_dim_param("N");
      else dim->set_dim_value(d);
    }
  }
  std::string weight(const std::string& name, const std::vector<int64_t>& dims, float scale) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::normal_distribution<float> d(0.f, scale);
    int64_t n = 1;
    for (int64_t v : dims) t->add_dims(v), n *= v;
    for (int64_t i = 0; i < n; ++i) t->add_float_data(d(rng));
    return name;
  }
  std::string constant(const std::string& name, float value) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
    return name;
  }
  std::string ints(const std::string& name, const std::vector<int64_t>& values, bool scalar = false) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) t->add_dims(int64_t(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return name;
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out + "_node");
    for (const auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v, bool list = true) {
    auto* a = n->add_attribute();
    a->set_name(name);
    if (list) {
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t x : v) a->add_ints(x);
    } else {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(v[0]);
    }
  }
};

constexpr int64_t kImage = 12, kPatch = 4, kGrid = 3, kT = 1 + kGrid * kGrid, kD = 8, kHeads = 2, kClasses = 5;

// input [N, 3, 12, 12] -> Conv 4x4 stride 4 (patch embedding [N, 8, 3, 3]) -> [N, 9, 8] tokens -> class token
// (Expand to the batch through Shape/Gather/Unsqueeze/Concat, folded) -> + position embedding -> `blocks` blocks
// (attention with 2 heads: fused QKV MatMul, Reshape, Transpose, Gather, MatMul, Mul, Softmax on the last axis;
// a ReLU MLP; residual Adds) -> class token -> linear head [N, 5].
std::shared_ptr<const Model> patch_vit(int blocks = 2) {
  Builder b(13);
  const int64_t d = kD / kHeads;
  b.value_info(b.g->add_input(), "input", {-1, 3, kImage, kImage});
  auto* conv = b.node("Conv", {"input", b.weight("pe_w", {kD, 3, kPatch, kPatch}, 0.3f), b.weight("pe_b", {kD}, 0.1f)},
                      "patches4");
  Builder::attr(conv, "kernel_shape", {kPatch, kPatch});
  Builder::attr(conv, "strides", {kPatch, kPatch});
  b.node("Reshape", {"patches4", b.ints("flat_shape", {0, kD, kGrid * kGrid})}, "patches3");
  Builder::attr(b.node("Transpose", {"patches3"}, "patches"), "perm", {0, 2, 1});
  b.node("Shape", {"input"}, "in_shape");
  Builder::attr(b.node("Gather", {"in_shape", b.ints("zero", {0}, true)}, "batch"), "axis", {0}, false);
  b.node("Unsqueeze", {"batch", b.ints("axes0", {0})}, "batch1");
  Builder::attr(b.node("Concat", {"batch1", b.ints("one_d", {1, kD})}, "cls_shape"), "axis", {0}, false);
  b.node("Expand", {b.weight("cls", {1, 1, kD}, 1.f), "cls_shape"}, "cls_b");
  Builder::attr(b.node("Concat", {"cls_b", "patches"}, "tokens"), "axis", {1}, false);
  b.node("Add", {"tokens", b.weight("pos", {1, kT, kD}, 0.5f)}, "h0");
  std::string h = "h0";
  for (int i = 0; i < blocks; ++i) {
    const std::string p = "b" + std::to_string(i) + "_";
    b.node("MatMul", {h, b.weight(p + "w_qkv", {kD, 3 * kD}, 0.3f)}, p + "qkv");
    b.node("Reshape", {p + "qkv", b.ints(p + "qkv_shape", {0, kT, 3, kHeads, d})}, p + "qkv5");
    Builder::attr(b.node("Transpose", {p + "qkv5"}, p + "qkv_t"), "perm", {2, 0, 3, 1, 4});
    for (int j = 0; j < 3; ++j)
      Builder::attr(b.node("Gather", {p + "qkv_t", b.ints(p + "i" + std::to_string(j), {j}, true)},
                           p + std::string(1, "qkv"[j])),
                    "axis", {0}, false);
    Builder::attr(b.node("Transpose", {p + "k"}, p + "kt"), "perm", {0, 1, 3, 2});
    b.node("MatMul", {p + "q", p + "kt"}, p + "s");
    b.node("Mul", {p + "s", b.constant(p + "scale", 0.5f)}, p + "s2");  // d^-1/2
    Builder::attr(b.node("Softmax", {p + "s2"}, p + "attn"), "axis", {-1}, false);
    b.node("MatMul", {p + "attn", p + "v"}, p + "o");
    Builder::attr(b.node("Transpose", {p + "o"}, p + "o_t"), "perm", {0, 2, 1, 3});
    b.node("Reshape", {p + "o_t", b.ints(p + "o_shape", {0, kT, kD})}, p + "o3");
    b.node("MatMul", {p + "o3", b.weight(p + "w_o", {kD, kD}, 0.4f)}, p + "proj");
    b.node("Add", {h, p + "proj"}, p + "h1");
    b.node("MatMul", {p + "h1", b.weight(p + "w1", {kD, 2 * kD}, 0.4f)}, p + "m1");
    b.node("Relu", {p + "m1"}, p + "r");
    b.node("MatMul", {p + "r", b.weight(p + "w2", {2 * kD, kD}, 0.3f)}, p + "m2");
    b.node("Add", {p + "h1", p + "m2"}, p + "h2");
    h = p + "h2";
  }
  Builder::attr(b.node("Gather", {h, b.ints("cls_index", {0}, true)}, "cls_out"), "axis", {1}, false);
  b.node("MatMul", {"cls_out", b.weight("head", {kD, kClasses}, 0.5f)}, "logits");
  b.value_info(b.g->add_output(), "logits", {-1, kClasses});
  const std::string bytes = b.m.SerializeAsString();
  return Model::from_bytes(bytes.data(), bytes.size(), {}, "patch_vit");
}

std::string vit_block() { return test::source_dir() + "/tests/data/ops/vit_block_opset20/model.onnx"; }

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

}  // namespace
}  // namespace glassbox::explain
