// Bad models, built by hand with the ONNX protobuf classes: each must be rejected at load time with a
// glassbox::Error that names the node, the operator and what was expected -- never a crash or another exception.
#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/model.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/testdata.h"

namespace glassbox {
namespace {

// ---- building small models -------------------------------------------------------------------------------------

using test::attr_int;
using test::attr_ints;
using test::OnnxBuilder;

// A model with an empty graph: IR version 7 and the opset given.
OnnxBuilder empty_model(int opset = 13) { return OnnxBuilder("bad_models", opset, 7, "test_import_errors"); }

constexpr int64_t C = 3, H = 8, W = 8, M = 4, K = 2;

// input [N,3,8,8] -> Conv(3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(transB) -> logits [N,2]
OnnxBuilder good_model(int opset = 13) {
  OnnxBuilder b = empty_model(opset);
  b.input("input", {-1, C, H, W});
  b.init("conv1.weight", {M, C, 3, 3});
  b.init("conv1.bias", {M});
  b.init("fc.weight", {K, M});
  b.init("fc.bias", {K});
  auto* conv = b.node("Conv", "conv1", {"input", "conv1.weight", "conv1.bias"}, {"conv1_out"});
  attr_ints(conv, "kernel_shape", {3, 3});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  b.node("Relu", "relu1", {"conv1_out"}, {"relu1_out"});
  b.node("GlobalAveragePool", "gap", {"relu1_out"}, {"gap_out"});
  b.node("Flatten", "flatten", {"gap_out"}, {"flat"});
  attr_int(b.node("Gemm", "fc", {"flat", "fc.weight", "fc.bias"}, {"logits"}), "transB", 1);
  b.output("logits");
  return b;
}

// input -> Conv -> BatchNormalization -> Relu (the BatchNormalization folds into the Conv at import).
OnnxBuilder conv_bn_model() {
  OnnxBuilder b = empty_model();
  b.input("input", {-1, C, H, W});
  b.init("conv1.weight", {M, C, 3, 3});
  for (const char* p : {"bn1.scale", "bn1.bias", "bn1.mean"}) b.init(p, {M});
  auto* var = b.find_init(b.init("bn1.var", {M}));
  std::vector<float> ones(M, 1.f);
  var->set_raw_data(std::string(reinterpret_cast<const char*>(ones.data()), ones.size() * sizeof(float)));
  auto* conv = b.node("Conv", "conv1", {"input", "conv1.weight"}, {"conv1_out"});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", "bn1", {"conv1_out", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"}, {"bn1_out"});
  b.node("Relu", "relu1", {"bn1_out"}, {"relu1_out"});
  b.output("relu1_out");
  return b;
}

SessionOptions one_thread() {
  SessionOptions o;
  o.threads = 1;
  return o;
}

// ---- checking errors -------------------------------------------------------------------------------------------

using test::error_of;

std::string load_error(const OnnxBuilder& b) {
  const std::string bytes = b.bytes();
  return error_of([&] { Model::from_bytes(bytes.data(), bytes.size()); });
}

#define EXPECT_MESSAGE_HAS(msg, ...)                                        \
  do {                                                                      \
    for (const char* part : {__VA_ARGS__})                                  \
      EXPECT_NE((msg).find(part), std::string::npos)                        \
          << "message lacks \"" << part << "\":\n  " << (msg);              \
  } while (0)

// ---- the positive control --------------------------------------------------------------------------------------

TEST(import_errors, GoodModelLoadsAndRuns) {
  const std::string bytes = good_model().bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_EQ(model->input_names(), std::vector<std::string>{"input"});
  EXPECT_EQ(model->input_shape(), (Shape{-1, C, H, W}));
  Session session(model, one_thread());
  Tensor x = Tensor::empty({1, C, H, W});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.1f * static_cast<float>(i));
  const Result r = session.run(x);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.output().shape(), (Shape{1, K}));
  for (int64_t i = 0; i < r.output().numel(); ++i) EXPECT_TRUE(std::isfinite(r.output().data<float>()[i]));
  // Every opset in the supported range loads.
  for (int opset : {11, 22}) {
    const std::string b = good_model(opset).bytes();
    EXPECT_NO_THROW(Model::from_bytes(b.data(), b.size())) << "opset " << opset;
  }
}

// ---- operators -------------------------------------------------------------------------------------------------

TEST(import_errors, UnsupportedOperatorListsSupportedOnes) {
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_op_type("LSTM");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'relu1' (LSTM)", "unsupported operator 'LSTM'", "supported:", "Conv", "Gemm");
}

TEST(import_errors, ForeignDomain) {
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_domain("com.microsoft");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'relu1' (Relu)", "com.microsoft", "default ONNX domain");
}

TEST(import_errors, UnnamedNodeGetsAName) {
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_name("");
  b.graph()->mutable_node(1)->set_op_type("GRU");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'GRU_1' (GRU)", "unsupported operator 'GRU'");
}

// ---- missing values --------------------------------------------------------------------------------------------

TEST(import_errors, MissingInitializer) {
  OnnxBuilder b = good_model();
  b.find_node("conv1")->set_input(1, "conv1.wieght");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'conv1' (Conv)", "'conv1.wieght'", "missing initializer");
}

TEST(import_errors, GraphOutputNeverProduced) {
  OnnxBuilder b = good_model();
  b.output("probabilities");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "graph output 'probabilities'", "never produced");
}

TEST(import_errors, DuplicateOutputName) {
  OnnxBuilder b = good_model();
  b.find_node("gap")->set_output(0, "relu1_out");
  b.find_node("flatten")->set_input(0, "relu1_out");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'gap' (GlobalAveragePool)", "output 'relu1_out'", "already defined");
}

TEST(import_errors, OutputNamedLikeAnInitializer) {
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_output(0, "fc.bias");
  b.find_node("gap")->set_input(0, "fc.bias");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'relu1' (Relu)", "output 'fc.bias'", "already defined");
}

TEST(import_errors, Cycle) {
  // relu1 reads gap's output, gap reads relu1's: relu1 -> gap -> relu1.
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_input(0, "gap_out");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "cycle", "(Relu)");
  EXPECT_NE(msg.find("node 'relu1'"), std::string::npos) << msg;
}

TEST(import_errors, NodesOutOfOrderStillLoad) {
  // ONNX files should list nodes in topological order, but the importer sorts them when they are not.
  OnnxBuilder b = good_model();
  b.graph()->mutable_node()->SwapElements(0, 4);
  const std::string bytes = b.bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  Session session(model, one_thread());
  EXPECT_EQ(session.run(Tensor::zeros({1, C, H, W})).output().shape(), (Shape{1, K}));
}

// ---- shapes ----------------------------------------------------------------------------------------------------

TEST(import_errors, ConvWeightChannelsDifferFromInput) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.weight");
  w->set_dims(1, 2);  // [4, 2, 3, 3] for a 3-channel input
  w->set_raw_data(w->raw_data().substr(0, M * 2 * 9 * 4));
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'conv1' (Conv)", "input channels 3", "[4, 2, 3, 3]", "expected W[1] * group == C");
}

TEST(import_errors, GemmInnerDimensionsDiffer) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("fc.weight");
  w->set_dims(1, M + 1);  // [2, 5] against [1, 4]
  w->set_raw_data(std::string(K * (M + 1) * 4, '\0'));
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'fc' (Gemm)", "inner dimensions differ", "[1, 4]", "[2, 5]");
}

TEST(import_errors, AddShapesDoNotBroadcast) {
  OnnxBuilder b = good_model();
  b.init("offset", {3});
  b.graph()->mutable_output(0)->set_name("shifted");
  b.node("Add", "shift", {"logits", "offset"}, {"shifted"});
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'shift' (Add)", "[1, 2]", "[3]", "cannot be broadcast");
}

TEST(import_errors, ReshapeToImpossibleShape) {
  OnnxBuilder b = good_model();
  b.ints("target", {3, 5});
  b.node("Reshape", "reshape", {"gap_out", "target"}, {"reshaped"});
  b.find_node("flatten")->set_input(0, "reshaped");
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'reshape' (Reshape)", "cannot reshape [1, 4, 1, 1]", "[3, 5]");
}

TEST(import_errors, ConvOnWrongRank) {
  OnnxBuilder b = good_model();
  b.graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()->RemoveLast();
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "node 'conv1' (Conv)", "must have rank 4", "[1, 3, 8]");
}

TEST(import_errors, WhereOnRunTimeData) {
  // Where is folded at load time (the batch-size arithmetic of exports); on activations it says so.
  OnnxBuilder b = good_model();
  b.ints("cond", {1});
  b.init("other", {1});
  b.node("Where", "where", {"cond", "logits", "other"}, {"picked"});
  b.graph()->mutable_output(0)->set_name("picked");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'where' (Where)", "input 1", "computed at run time");
}

TEST(import_errors, SplitSizesDoNotAddUp) {
  OnnxBuilder b = good_model();
  b.ints("sizes", {1, 2});
  attr_int(b.node("Split", "split", {"logits", "sizes"}, {"a", "b2"}), "axis", 1);
  b.graph()->mutable_output(0)->set_name("a");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'split' (Split)", "split sizes add up to 3", "size 2");
}

TEST(import_errors, ModByZero) {
  OnnxBuilder b = good_model();
  b.ints("two", {2});
  b.ints("zero", {0});
  b.node("Mod", "mod", {"two", "zero"}, {"m"});
  b.node("Reshape", "reshape", {"gap_out", "m"}, {"reshaped"});
  b.find_node("flatten")->set_input(0, "reshaped");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'mod' (Mod)", "division by zero");
}

// ---- found by fuzzing (tests/fuzz, docs/fuzzing.md): each once crashed, overflowed or allocated without bound ---

TEST(import_errors, DimensionsBeyondTheDataAreCheckedBeforeAllocating) {
  OnnxBuilder b = good_model();
  b.find_init("conv1.weight")->set_dims(0, int64_t(1) << 28);  // 29 GB of float32 declared, 432 bytes present
  EXPECT_MESSAGE_HAS(load_error(b), "initializer 'conv1.weight'", "holds 108 values", "expected");
}

TEST(import_errors, DuplicateGraphInput) {
  OnnxBuilder b = good_model();
  *b.graph()->add_input() = b.graph()->input(0);
  EXPECT_MESSAGE_HAS(load_error(b), "graph input 'input' is listed twice");
}

TEST(import_errors, OmittedOptionalOutputs) {
  // Empty output names mean "not produced"; a BatchNormalization whose training outputs are all omitted folds.
  OnnxBuilder b = conv_bn_model();
  for (int k = 0; k < 4; ++k) b.find_node("bn1")->add_output("");
  b.node("Dropout", "drop", {"relu1_out"}, {"drop_out", ""});
  b.graph()->mutable_output(0)->set_name("drop_out");
  std::string bytes = b.bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  for (const Node& n : model->graph().nodes) EXPECT_NE(n.op, "BatchNormalization") << "not folded";
  // One omitted between two named outputs.
  OnnxBuilder c = conv_bn_model();
  c.find_node("bn1")->add_output("");
  c.find_node("bn1")->add_output("running_var");
  bytes = c.bytes();
  model = Model::from_bytes(bytes.data(), bytes.size());
  Session session(model, one_thread());
  EXPECT_EQ(session.run(Tensor::zeros({1, C, H, W})).output().shape(), (Shape{1, M, H, W}));
}

TEST(import_errors, OmittedRequiredInput) {
  OnnxBuilder b = conv_bn_model();
  b.find_node("bn1")->set_input(0, "");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'bn1' (BatchNormalization)", "input 0 is required");
}

TEST(import_errors, ReshapeTargetOverflows) {
  OnnxBuilder b = good_model();
  b.ints("target", {int64_t(1) << 62, 8, 0, 4});
  b.node("Reshape", "reshape", {"gap_out", "target"}, {"reshaped"});
  b.find_node("flatten")->set_input(0, "reshaped");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'reshape' (Reshape)", "too large");
}

TEST(import_errors, HugeWindowAttributes) {
  for (const char* attr : {"strides", "dilations", "pads"}) {
    OnnxBuilder b = good_model();
    auto* conv = b.find_node("conv1");
    for (auto& a : *conv->mutable_attribute())
      if (a.name() == "pads") a.set_name("unused");
    const int64_t big = std::numeric_limits<int64_t>::max() / 2;
    if (std::string(attr) == "pads") attr_ints(conv, attr, {big, big, big, big});
    else attr_ints(conv, attr, {big, 1});
    EXPECT_MESSAGE_HAS(load_error(b), "node 'conv1' (Conv)", attr);
  }
}

TEST(import_errors, IntegerShapeArithmeticOverflows) {
  // Exporters compute Reshape targets with integer Mul/Add on shape values; corrupt constants must not overflow.
  OnnxBuilder b = good_model();
  b.ints("big", {std::numeric_limits<int64_t>::max() / 2 + 1});
  b.ints("two", {2});
  b.node("Mul", "mul", {"big", "two"}, {"product"});
  b.node("Reshape", "reshape", {"gap_out", "product"}, {"reshaped"});
  b.find_node("flatten")->set_input(0, "reshaped");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'mul' (Mul)", "integer overflow");
}

TEST(import_errors, SliceWithHugeStep) {
  // Shape(gap_out)[0 : 2 : INT64_MAX] = [1]; Concat with [-1]; Reshape gap_out [1, 4, 1, 1] to [1, -1].
  OnnxBuilder b = good_model();
  b.ints("starts", {0});
  b.ints("ends", {2});
  b.ints("axes", {0});
  b.ints("steps", {std::numeric_limits<int64_t>::max()});
  b.ints("minus1", {-1});
  b.node("Shape", "shape", {"gap_out"}, {"s"});
  b.node("Slice", "slice", {"s", "starts", "ends", "axes", "steps"}, {"n"});
  attr_int(b.node("Concat", "concat", {"n", "minus1"}, {"target"}), "axis", 0);
  b.node("Reshape", "reshape", {"gap_out", "target"}, {"reshaped"});
  b.find_node("fc")->set_input(0, "reshaped");
  const std::string bytes = b.bytes();
  Session session(Model::from_bytes(bytes.data(), bytes.size()), one_thread());
  EXPECT_EQ(session.run(Tensor::zeros({1, C, H, W})).output().shape(), (Shape{1, K}));
}

TEST(import_errors, CastOfNonFiniteToInteger) {
  OnnxBuilder b = good_model();
  auto* t = b.find_init(b.init("nan", {1}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  t->set_raw_data(std::string(reinterpret_cast<const char*>(&nan), 4));
  attr_int(b.node("Cast", "cast", {"nan"}, {"as_int"}), "to", 7);
  b.node("Reshape", "reshape", {"gap_out", "as_int"}, {"reshaped"});
  b.find_node("flatten")->set_input(0, "reshaped");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'cast' (Cast)", "does not fit the integer type");
}

TEST(import_errors, AxisOfAScalar) {
  OnnxBuilder b = empty_model();
  b.input("x", {});
  attr_int(b.node("Softmax", "sm", {"x"}, {"y"}), "axis", 0);
  b.output("y");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'sm' (Softmax)", "axis 0 is out of range for rank 0");
}

TEST(import_errors, PadOfAScalar) {
  OnnxBuilder b = empty_model();
  b.input("x", {});
  b.ints("pads", {});
  b.node("Pad", "pad", {"x", "pads"}, {"y"});
  b.output("y");
  const std::string bytes = b.bytes();
  Session session(Model::from_bytes(bytes.data(), bytes.size()), one_thread());
  Tensor x = Tensor::from_vector<float>({}, {2.5f});
  EXPECT_EQ(session.run(x).output().data<float>()[0], 2.5f);
}

// ---- empty tensors ---------------------------------------------------------------------------------------------

// A batch of 0, and values that a Pad crops to zero size, through each kind of kernel: each runs (giving an empty
// or well-defined result) or throws glassbox::Error; under ASan nothing reads outside its buffers.
TEST(import_errors, ZeroSizedValues) {
  {
    const std::string bytes = good_model().bytes();
    Session session(Model::from_bytes(bytes.data(), bytes.size()), one_thread());
    const std::string msg = error_of([&] {
      EXPECT_EQ(session.run(Tensor::zeros({0, C, H, W})).output().shape(), (Shape{0, K}));
      throw Error("ran");
    });
    EXPECT_EQ(msg, "ran");
  }
  // input [N,3,8,8] -Pad(crop rows 4 + 4)-> [N,3,0,8] -> tail
  auto cropped = [](const std::function<void(OnnxBuilder&)>& tail) {
    OnnxBuilder b = empty_model();
    b.input("input", {-1, C, H, W});
    b.ints("pads", {0, 0, -4, 0, 0, 0, -4, 0});
    b.node("Pad", "crop", {"input", "pads"}, {"empty"});
    tail(b);
    b.output("y");
    return b;
  };
  std::vector<std::pair<std::string, OnnxBuilder>> cases;
  cases.emplace_back("softmax", cropped([](OnnxBuilder& b) {
    attr_int(b.node("Softmax", "sm", {"empty"}, {"y"}), "axis", 2);
  }));
  cases.emplace_back("gap", cropped([](OnnxBuilder& b) { b.node("GlobalAveragePool", "gap", {"empty"}, {"y"}); }));
  cases.emplace_back("reducemean", cropped([](OnnxBuilder& b) {
    attr_ints(b.node("ReduceMean", "rm", {"empty"}, {"y"}), "axes", {2});
  }));
  cases.emplace_back("conv", cropped([](OnnxBuilder& b) {
    b.init("w", {M, C, 1, 1});
    b.node("Conv", "conv", {"empty", "w"}, {"y"});
  }));
  cases.emplace_back("relu", cropped([](OnnxBuilder& b) { b.node("Relu", "relu", {"empty"}, {"y"}); }));
  cases.emplace_back("identity", cropped([](OnnxBuilder& b) { b.node("Identity", "id", {"empty"}, {"y"}); }));
  cases.emplace_back("add", cropped([](OnnxBuilder& b) {
    b.init("one", {1});
    b.node("Add", "add", {"empty", "one"}, {"y"});
  }));
  cases.emplace_back("concat", cropped([](OnnxBuilder& b) {
    attr_int(b.node("Concat", "cat", {"empty", "input"}, {"y"}), "axis", 2);
  }));
  cases.emplace_back("flatten_gemm", cropped([](OnnxBuilder& b) {
    attr_int(b.node("Flatten", "flat", {"empty"}, {"f"}), "axis", 1);
    b.init("w", {K, 0});
    attr_int(b.node("Gemm", "fc", {"f", "w"}, {"y"}), "transB", 1);
  }));
  cases.emplace_back("matmul", cropped([](OnnxBuilder& b) {
    b.init("w", {W, 2});
    b.node("MatMul", "mm", {"empty", "w"}, {"y"});
  }));
  cases.emplace_back("pool", cropped([](OnnxBuilder& b) {
    auto* n = b.node("MaxPool", "pool", {"empty"}, {"y"});
    attr_ints(n, "kernel_shape", {1, 1});
  }));
  for (auto& [name, b] : cases) {
    SCOPED_TRACE(name);
    const std::string bytes = b.bytes();
    try {
      Session session(Model::from_bytes(bytes.data(), bytes.size()), one_thread());
      for (int64_t n : {1, 0}) {
        const Result r = session.run(Tensor::zeros({n, C, H, W}));
        for (int64_t i = 0; i < r.output().numel(); ++i) (void)r.output().data<float>()[i];
      }
    } catch (const Error& e) {
      std::cout << name << ": " << e.what() << "\n";
      EXPECT_NE(std::string(e.what()), "");
    }
  }
}

// ---- bytes and files -------------------------------------------------------------------------------------------

TEST(import_errors, RandomGarbage) {
  std::mt19937 rng(1234);
  for (size_t size : {1, 2, 7, 64, 1000, 4096}) {
    std::string junk(size, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    const std::string msg =
        error_of([&] { Model::from_bytes(junk.data(), junk.size(), {}, "junk.onnx"); });
    EXPECT_MESSAGE_HAS(msg, "junk.onnx");
  }
  const std::string text = "this is not an ONNX model, just text\n";
  EXPECT_MESSAGE_HAS(error_of([&] { Model::from_bytes(text.data(), text.size()); }), "not a valid ONNX model");
}

TEST(import_errors, TruncatedModelAtEveryLength) {
  const std::string bytes = good_model().bytes();
  ASSERT_NO_THROW(Model::from_bytes(bytes.data(), bytes.size()));
  // The graph is serialized before opset_import, so no prefix is a complete model: every cut must be rejected.
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::string cut = bytes.substr(0, len);
    const std::string msg = error_of([&] { Model::from_bytes(cut.data(), cut.size(), {}, "cut.onnx"); });
    EXPECT_NE(msg.find("cut.onnx"), std::string::npos) << "cut at " << len << ": " << msg;
  }
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& contents) {
    path = (std::filesystem::temp_directory_path() /
            ("glassbox_import_errors_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".onnx"))
               .string();
    std::ofstream(path, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(import_errors, EmptyFile) {
  TempFile f("");
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_MESSAGE_HAS(msg, f.path.c_str(), "empty");
}

TEST(import_errors, NonexistentPath) {
  const std::string path = "/nonexistent/dir/model.onnx";
  const std::string msg = error_of([&] { Model::load(path); });
  EXPECT_MESSAGE_HAS(msg, path.c_str(), "cannot open");
}

TEST(import_errors, LoadFromFileNamesTheFile) {
  OnnxBuilder b = good_model();
  b.find_node("relu1")->set_op_type("LSTM");
  TempFile f(b.bytes());
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_MESSAGE_HAS(msg, "node 'relu1' (LSTM)");
  TempFile good(good_model().bytes());
  EXPECT_NO_THROW(Model::load(good.path));
}

// ---- opsets ----------------------------------------------------------------------------------------------------

TEST(import_errors, OpsetTooOld) {
  const std::string msg = load_error(good_model(9));
  EXPECT_MESSAGE_HAS(msg, "opset 9 is not supported", "11 to 22");
}

TEST(import_errors, OpsetTooNew) {
  const std::string msg = load_error(good_model(23));
  EXPECT_MESSAGE_HAS(msg, "opset 23 is not supported", "11 to 22");
}

TEST(import_errors, NoDefaultOpset) {
  OnnxBuilder b = good_model();
  b.m.mutable_opset_import(0)->set_domain("com.example");
  EXPECT_MESSAGE_HAS(load_error(b), "no opset for the default ONNX domain");
}

// ---- tensors ---------------------------------------------------------------------------------------------------

TEST(import_errors, RawDataShorterThanDims) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.weight");
  w->set_raw_data(w->raw_data().substr(0, 40));  // 10 floats for [4, 3, 3, 3]
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "initializer 'conv1.weight'", "holds 10 values", "[4, 3, 3, 3]", "108 expected",
                     "truncated");
}

TEST(import_errors, RawDataNotAMultipleOfTheElementSize) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.bias");
  w->set_raw_data(w->raw_data() + "xy");
  EXPECT_MESSAGE_HAS(load_error(b), "initializer 'conv1.bias'");
}

TEST(import_errors, HugeDimensionsWithoutData) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.weight");
  w->set_dims(0, int64_t(1) << 40);
  EXPECT_MESSAGE_HAS(load_error(b), "initializer 'conv1.weight'", "too large");
  w->set_dims(0, -4);
  EXPECT_MESSAGE_HAS(load_error(b), "initializer 'conv1.weight'", "negative dimension");
}

TEST(import_errors, ExternalData) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.weight");
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  // From memory there is no model folder to read it from (tests/engine/test_hostile_models.cpp loads it from files).
  const std::string msg = load_error(b);
  EXPECT_MESSAGE_HAS(msg, "initializer 'conv1.weight'", "external data file 'weights.bin'", "read from memory");
}

TEST(import_errors, UnsupportedElementType) {
  OnnxBuilder b = good_model();
  auto* w = b.find_init("conv1.bias");
  w->set_data_type(onnx::TensorProto::STRING);
  EXPECT_MESSAGE_HAS(load_error(b), "initializer 'conv1.bias'", "STRING", "not supported");
}

// ---- names: Model::resolve -------------------------------------------------------------------------------------

TEST(import_errors, ResolveUnknownNameListsNearest) {
  const std::string bytes = good_model().bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(model->resolve("relu1_out"), "relu1_out");
  EXPECT_EQ(model->resolve("relu1"), "relu1_out");  // a node name gives its output
  const std::string msg = error_of([&] { model->resolve("relu_1"); });
  EXPECT_MESSAGE_HAS(msg, "no layer named 'relu_1'", "nearest", "relu1");
  Session session(model);
  EXPECT_MESSAGE_HAS(error_of([&] { session.capture({"conv_1"}); }), "nearest", "conv1");
}

TEST(import_errors, ResolveValueFoldedByBatchNorm) {
  const std::string bytes = conv_bn_model().bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  for (const Node& n : model->graph().nodes) EXPECT_NE(n.op, "BatchNormalization") << "not folded";
  const std::string msg = error_of([&] { model->resolve("conv1_out"); });
  EXPECT_MESSAGE_HAS(msg, "'conv1_out'", "folded", "bn1_out", "fold_batchnorm = false");
  // Without folding the value exists and can be captured.
  ImportOptions keep;
  keep.fold_batchnorm = false;
  auto unfolded = Model::from_bytes(bytes.data(), bytes.size(), keep);
  EXPECT_EQ(unfolded->resolve("conv1_out"), "conv1_out");
  Session session(unfolded, one_thread());
  session.capture({"conv1_out"});
  const Result r = session.run(Tensor::zeros({1, C, H, W}));
  EXPECT_EQ(r.capture("conv1_out").shape(), (Shape{1, M, H, W}));
}

}  // namespace
}  // namespace glassbox
