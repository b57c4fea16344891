// Hostile and unusual model files: graph inputs of types the engine cannot feed, model paths that are not regular
// files, weights in ONNX external data files (and every way their references can be wrong), plans over the memory
// limit, and shape arithmetic near int64 overflow. Each must load and run correctly or fail with a one-line
// glassbox::Error naming what is wrong -- never hang, allocate without bound, or read outside the model's folder.
#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/testdata.h"

namespace glassbox {
namespace {

namespace fs = std::filesystem;
using test::attr_int;
using test::attr_ints;
using test::OnnxBuilder;

using test::error_of;

#define EXPECT_MESSAGE_HAS(msg, ...)                                                                      \
  do {                                                                                                    \
    const std::string msg_ = (msg);                                                                       \
    for (const std::string& part : std::vector<std::string>{__VA_ARGS__})                                 \
      EXPECT_NE(msg_.find(part), std::string::npos) << "message lacks \"" << part << "\":\n  " << msg_;  \
    EXPECT_EQ(msg_.find('\n'), std::string::npos) << "not one line: " << msg_;                           \
  } while (0)

std::string load_error(const OnnxBuilder& b, const ImportOptions& options = {}) {
  const std::string bytes = b.bytes();
  return error_of([&] { Model::from_bytes(bytes.data(), bytes.size(), options); });
}

// A fresh folder for the test, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() / ("glassbox_hostile_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& contents) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << contents;
    return p.string();
  }
};

SessionOptions one_thread(int64_t memory_limit = default_memory_limit_bytes()) {
  SessionOptions o;
  o.threads = 1;
  o.memory_limit_bytes = memory_limit;
  return o;
}

constexpr int64_t C = 3, H = 8, W = 8, M = 4, K = 2;

// input [N,3,8,8] -> Conv(3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(transB) -> logits [N,2], with
// initializers of each storage the builder has: float_data (weight, floats) and raw_data (init).
OnnxBuilder conv_model() {
  OnnxBuilder b("hostile", 13, 8, "test_hostile_models");
  b.input("input", {-1, C, H, W});
  b.weight("conv1.weight", {M, C, 3, 3}, 0.3f);
  b.init("conv1.bias", {M});
  b.weight("fc.weight", {K, M}, 0.5f);
  b.floats("fc.bias", {K}, {0.25f, -0.5f});
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

Tensor test_input(int64_t n = 2) {
  Tensor x = Tensor::empty({n, C, H, W});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.37f * static_cast<float>(i));
  return x;
}

std::vector<float> run_logits(const std::shared_ptr<const Model>& model) {
  Session s(model, one_thread());
  const Tensor y = s.run(test_input()).output();
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

// ---- defect 3: graph inputs of element types the engine cannot feed --------------------------------------------

TEST(hostile_models, InputElementTypesOtherThanFloat32AreRefused) {
  const std::vector<std::pair<int, const char*>> types = {
      {onnx::TensorProto::UINT8, "uint8"},     {onnx::TensorProto::INT32, "int32"},
      {onnx::TensorProto::FLOAT16, "float16"}, {onnx::TensorProto::DOUBLE, "double"},
      {onnx::TensorProto::BOOL, "bool"},       {onnx::TensorProto::INT64, "int64"},
      {onnx::TensorProto::INT8, "int8"},       {onnx::TensorProto::BFLOAT16, "bfloat16"}};
  for (const auto& [type, name] : types) {
    OnnxBuilder b = conv_model();
    b.graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(type);
    EXPECT_MESSAGE_HAS(load_error(b), "graph input 'input'", std::string("element type ") + name, "float32");
  }
  // The same model with its float32 input loads and runs (the positive control).
  const std::string bytes = conv_model().bytes();
  EXPECT_EQ(run_logits(Model::from_bytes(bytes.data(), bytes.size())).size(), size_t(2 * K));
}

TEST(hostile_models, NonTensorInputIsRefused) {
  OnnxBuilder b = conv_model();
  auto* seq = b.graph()->add_input();
  seq->set_name("extra");
  seq->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  EXPECT_MESSAGE_HAS(load_error(b), "graph input 'extra'", "not a tensor", "float32");
}

// An input that also has an initializer is a constant with that default (ONNX IR >= 4; older exporters list every
// initializer as an input): its own type (here int64) is the initializer's, and it is not a runtime input.
TEST(hostile_models, InitializerBackedInputKeepsItsType) {
  OnnxBuilder b("hostile", 13, 8);
  b.input("input", {1, C, H, W});
  b.ints("target", {1, -1});
  b.input("target", {2}, onnx::TensorProto::INT64);
  b.node("Reshape", "reshape", {"input", "target"}, {"flat"});
  b.output("flat");
  const std::string bytes = b.bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(model->input_names(), std::vector<std::string>{"input"});
  Session s(model, one_thread());
  const Tensor x = test_input(1);
  const Tensor y = s.run(x).output();
  ASSERT_EQ(y.shape(), (Shape{1, C * H * W}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], x.data<float>()[i]);
}

// ---- defect 15b: model paths that are not readable regular files ----------------------------------------------

TEST(hostile_models, DirectoryAsModelFile) {
  TempDir dir;
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(dir.path.string()); }),
                     dir.path.string() + ": is a directory, expected an ONNX model file");
}

TEST(hostile_models, DevicesAndFifosAreNotRead) {
  // /dev/zero would never end; a FIFO would block the open (or the read) forever.
  for (const char* dev : {"/dev/zero", "/dev/null"})
    EXPECT_MESSAGE_HAS(error_of([&] { Model::load(dev); }), std::string(dev) + ": is not a regular file",
                       "expected an ONNX model file");
  TempDir dir;
  const std::string fifo = (dir.path / "model.onnx").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(fifo); }), fifo + ": is not a regular file");
}

TEST(hostile_models, MissingAndUnopenableFiles) {
  TempDir dir;
  const std::string missing = (dir.path / "missing.onnx").string();
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(missing); }), missing + ": cannot open the file",
                     "No such file");
  const std::string file = dir.write("model.onnx", conv_model().bytes());
  const std::string below_a_file = file + "/model.onnx";
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(below_a_file); }), below_a_file + ": cannot open the file",
                     "Not a directory");
  EXPECT_NO_THROW(Model::load(file));
}

TEST(hostile_models, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: file permissions do not deny reading";
  TempDir dir;
  const std::string file = dir.write("model.onnx", conv_model().bytes());
  ::chmod(file.c_str(), 0);
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(file); }), file + ": cannot open the file", "Permission denied");
}

TEST(hostile_models, EmptyFileStillSaysEmpty) {
  TempDir dir;
  const std::string file = dir.write("empty.onnx", "");
  EXPECT_MESSAGE_HAS(error_of([&] { Model::load(file); }), file + ": the file is empty");
}

// ---- external data -----------------------------------------------------------------------------------------------

// conv_model with its weights in external files: conv1.weight, conv1.bias and fc.weight in weights.bin (at three
// offsets), fc.bias in bias.bin without a length (followed by bytes that are not part of it).
struct ExternalModel {
  OnnxBuilder b = conv_model();
  std::string weights, bias;
  std::vector<int64_t> offsets;
  ExternalModel() {
    for (const char* name : {"conv1.weight", "conv1.bias", "fc.weight"})
      offsets.push_back(b.externalize(name, "weights.bin", weights));
    b.externalize("fc.bias", "bias.bin", bias, /*with_length=*/false);
    bias += std::string(16, '\x7f');  // the rest of the file is longer than the tensor: only its bytes are read
  }
  // Writes model.onnx and the data files into dir; returns the model's path.
  std::string write(const TempDir& dir) const {
    dir.write("weights.bin", weights);
    dir.write("bias.bin", bias);
    return dir.write("model.onnx", b.bytes());
  }
  // Sets an external_data entry of an initializer (adding it where absent).
  void set(const std::string& init, const std::string& key, const std::string& value) {
    onnx::TensorProto* t = b.find_init(init);
    for (auto& e : *t->mutable_external_data())
      if (e.key() == key) return e.set_value(value);
    auto* e = t->add_external_data();
    e->set_key(key);
    e->set_value(value);
  }
};

TEST(hostile_models, ExternalDataGivesTheSameOutputsAsInlineWeights) {
  const std::string inline_bytes = conv_model().bytes();
  const std::vector<float> expected = run_logits(Model::from_bytes(inline_bytes.data(), inline_bytes.size()));
  ExternalModel ext;
  ASSERT_EQ(ext.offsets.size(), 3u);
  EXPECT_EQ(ext.offsets[0], 0);
  EXPECT_LT(ext.offsets[0], ext.offsets[1]);
  EXPECT_LT(ext.offsets[1], ext.offsets[2]);
  TempDir dir;
  const std::string path = ext.write(dir);
  EXPECT_EQ(run_logits(Model::load(path)), expected);
  // A relative model path: the data is found next to the model, not in the working directory.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path.parent_path());
  EXPECT_EQ(run_logits(Model::load((dir.path.filename() / "model.onnx").string())), expected);
  fs::current_path(cwd);
  // From memory: only with the folder given.
  const std::string bytes = ext.b.bytes();
  EXPECT_MESSAGE_HAS(error_of([&] { Model::from_bytes(bytes.data(), bytes.size()); }), "initializer 'conv1.weight'",
                     "'weights.bin'", "read from memory", "ImportOptions::external_data_dir");
  ImportOptions options;
  options.external_data_dir = dir.path.string();
  EXPECT_EQ(run_logits(Model::from_bytes(bytes.data(), bytes.size(), options)), expected);
}

// Loads the external model after `edit`, returns the error.
template <class F>
std::string external_error(F&& edit) {
  ExternalModel ext;
  TempDir dir;
  edit(ext, dir);
  const std::string path = ext.write(dir);
  return error_of([&] { Model::load(path); });
}

TEST(hostile_models, ExternalDataLocationMustStayInTheModelsFolder) {
  std::string outside;  // a real file outside the model's folder: refused even though it exists
  EXPECT_MESSAGE_HAS(external_error([&](ExternalModel& e, const TempDir& d) {
                       outside = (d.path.parent_path() / "glassbox_outside.bin").string();
                       std::ofstream(outside, std::ios::binary) << e.weights;
                       e.set("conv1.weight", "location", outside);
                     }),
                     "initializer 'conv1.weight'", "absolute path");
  for (const char* location : {"../weights.bin", "sub/../weights.bin", "../../etc/passwd"})
    EXPECT_MESSAGE_HAS(external_error([&](ExternalModel& e, const TempDir&) {
                         e.set("conv1.weight", "location", location);
                       }),
                       "initializer 'conv1.weight'", std::string("'") + location + "'", "'..'");
  EXPECT_MESSAGE_HAS(external_error([&](ExternalModel& e, const TempDir& d) {
                       fs::create_symlink(outside, d.path / "link.bin");
                       e.set("conv1.weight", "location", "link.bin");
                     }),
                     "initializer 'conv1.weight'", "'link.bin'", "outside the model's folder");
  std::remove(outside.c_str());
}

TEST(hostile_models, ExternalDataFileMustBeARegularFile) {
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.set("conv1.weight", "location", "nothere.bin");
                     }),
                     "initializer 'conv1.weight'", "'nothere.bin'", "cannot open the file", "No such file");
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir& d) {
                       fs::create_directory(d.path / "subdir");
                       e.set("conv1.weight", "location", "subdir");
                     }),
                     "initializer 'conv1.weight'", "'subdir'", "is a directory");
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir& d) {
                       ASSERT_EQ(::mkfifo((d.path / "fifo.bin").c_str(), 0600), 0);
                       e.set("fc.bias", "location", "fifo.bin");
                     }),
                     "initializer 'fc.bias'", "'fifo.bin'", "not a regular file");
}

TEST(hostile_models, ExternalDataOffsetAndLengthAreChecked) {
  // conv1.weight: [4, 3, 3, 3] floats, 432 bytes.
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.set("conv1.weight", "offset", std::to_string(e.weights.size() + 1));
                     }),
                     "initializer 'conv1.weight'", "'weights.bin'", "beyond the end of the file");
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.set("conv1.weight", "length", "428");
                     }),
                     "initializer 'conv1.weight'", "'weights.bin'", "length 428", "432 bytes");
  // Without a length, the rest of the file must hold the tensor.
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.b.find_init("fc.weight")->mutable_external_data()->RemoveLast();  // the length
                       e.set("fc.weight", "offset", std::to_string(e.weights.size() - 8));
                     }),
                     "initializer 'fc.weight'", "'weights.bin'", "holds 8 bytes", "needs 32");
  for (const char* bad : {"12abc", "-1", "", "99999999999999999999999"})
    EXPECT_MESSAGE_HAS(external_error([&](ExternalModel& e, const TempDir&) { e.set("conv1.weight", "offset", bad); }),
                       "initializer 'conv1.weight'", "'weights.bin'", "offset", "not a non-negative 64-bit integer");
  // An offset near 2^63 with a length: no overflow, the offset is beyond the end.
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.set("conv1.weight", "offset", "9223372036854775807");
                     }),
                     "initializer 'conv1.weight'", "beyond the end of the file");
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.set("conv1.weight", "offset", "0");
                       e.b.find_init("conv1.weight")->mutable_external_data()->Add()->set_key("offset");
                     }),
                     "initializer 'conv1.weight'", "'offset' is given twice");
  EXPECT_MESSAGE_HAS(external_error([](ExternalModel& e, const TempDir&) {
                       e.b.find_init("conv1.weight")->clear_external_data();
                     }),
                     "initializer 'conv1.weight'", "no external_data 'location'");
}

// ---- defect 13: plans over the memory limit, shape arithmetic near overflow --------------------------------------

// input [N, 3, 1, 1] -> Relu (r) -> Expand to [1, 1, side, side] (expanded: [N, 3, side, side]) -> GlobalAveragePool.
OnnxBuilder expand_model(int64_t side, int64_t batch = -1) {
  OnnxBuilder b("hostile", 13, 8);
  b.input("input", {batch, 3, 1, 1});
  b.node("Relu", "relu", {"input"}, {"r"});
  b.ints("target", {batch < 0 ? 1 : batch, batch < 0 ? 1 : 3, side, side});
  b.node("Expand", "expand", {"r", "target"}, {"expanded"});
  b.node("GlobalAveragePool", "gap", {"expanded"}, {"pooled"});
  b.output("pooled");
  return b;
}

std::shared_ptr<const Model> load(const OnnxBuilder& b) {
  const std::string bytes = b.bytes();
  return Model::from_bytes(bytes.data(), bytes.size());
}

Tensor filled(const Shape& s, float v) {
  Tensor t = Tensor::empty(s);
  std::fill(t.data<float>(), t.data<float>() + t.numel(), v);
  return t;
}

TEST(hostile_models, PlanOver48GiBIsRefusedBeforeAllocating) {
  auto model = load(expand_model(65536, 1));  // loads: the plan made at load allocates nothing
  Session s(model, one_thread(int64_t(1) << 30));
  const std::string msg = error_of([&] { s.run(filled({1, 3, 1, 1}, 1.f)); });
  EXPECT_MESSAGE_HAS(msg, "the plan needs 48.0 GiB (largest value 'expanded' [1, 3, 65536, 65536], 48.0 GiB) but the "
                          "memory limit is 1.0 GiB (SessionOptions::memory_limit_bytes)");
  // Refused again: a refused plan is not kept for the next run.
  EXPECT_MESSAGE_HAS(error_of([&] { s.run(filled({1, 3, 1, 1}, 1.f)); }), "the plan needs 48.0 GiB");
}

TEST(hostile_models, DefaultMemoryLimitIsThreeQuartersOfPhysicalMemory) {
  const int64_t physical = int64_t(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  ASSERT_GT(physical, 0);
  EXPECT_EQ(SessionOptions{}.memory_limit_bytes, default_memory_limit_bytes());
  EXPECT_GE(default_memory_limit_bytes(), physical / 4 * 3 - 4 * ::sysconf(_SC_PAGE_SIZE));
  EXPECT_LE(default_memory_limit_bytes(), physical / 4 * 3);
}

// Every way a session makes a plan checks it: runs (with captures), backward (tracking, K seeds), run_from.
// expanded is 12 MiB per image; the limit is 40 MiB.
TEST(hostile_models, EveryPlanOfASessionIsChecked) {
  constexpr int64_t kLimit = int64_t(40) << 20;
  auto model = load(expand_model(1024));
  {
    Session s(model, one_thread(kLimit));
    EXPECT_NO_THROW(s.run(filled({1, 3, 1, 1}, 1.f)));
    EXPECT_MESSAGE_HAS(error_of([&] { s.run(filled({4, 3, 1, 1}, 1.f)); }), "the plan needs 48.0 MiB",
                       "'expanded' [4, 3, 1024, 1024], 48.0 MiB", "memory limit is 40.0 MiB");
    s.capture({"expanded"});  // captured: kept, not in the arena
    EXPECT_NO_THROW(s.run(filled({3, 3, 1, 1}, 1.f)));
    EXPECT_MESSAGE_HAS(error_of([&] { s.run(filled({4, 3, 1, 1}, 1.f)); }), "'expanded' [4, 3, 1024, 1024]");
  }
  {
    // Tracking gradients at r: the forward (12 MiB) and the backward's dy and dx through Expand (2 x 12 MiB).
    Session s(model, one_thread(kLimit));
    s.track_gradients({"r"});
    EXPECT_NO_THROW(s.run(filled({1, 3, 1, 1}, 1.f)));
    const auto g = s.backward({filled({1, 3, 1, 1}, 1.f)});
    EXPECT_FLOAT_EQ(g.at("r").data<float>()[0], 1.f);  // the mean of 1024 * 1024 copies: gradient 1
    // K = 2 seeds per image: the backward's plan at batch 2 needs 72 MiB.
    EXPECT_MESSAGE_HAS(error_of([&] { s.backward({filled({2, 3, 1, 1}, 1.f)}); }), "the plan needs 72.0 MiB",
                       "'expanded' [2, 3, 1024, 1024]");
    Session tight(model, one_thread(int64_t(30) << 20));  // 36 MiB with the backward: over
    tight.track_gradients({"r"});
    EXPECT_MESSAGE_HAS(error_of([&] { tight.run(filled({1, 3, 1, 1}, 1.f)); }), "the plan needs 36.0 MiB");
  }
  {
    Session s(model, one_thread(kLimit));
    s.enable_run_from("r");
    EXPECT_NO_THROW(s.run(filled({1, 3, 1, 1}, 1.f)));
    EXPECT_NO_THROW(s.run_from(filled({2, 3, 1, 1}, 1.f)));
    EXPECT_MESSAGE_HAS(error_of([&] { s.run_from(filled({4, 3, 1, 1}, 1.f)); }), "the plan needs 48.0 MiB",
                       "'expanded' [4, 3, 1024, 1024]");
  }
  {
    Session s(model, one_thread(0));  // 0: no limit
    EXPECT_NO_THROW(s.run(filled({4, 3, 1, 1}, 1.f)));
  }
}

TEST(hostile_models, ElementCountOverflowIsAnErrorNotUndefinedBehaviour) {
  const int64_t big = int64_t(1) << 40;
  EXPECT_MESSAGE_HAS(error_of([&] { return numel({big, big}); }), "[1099511627776, 1099511627776]", "overflows");
  EXPECT_MESSAGE_HAS(error_of([&] { Tensor::empty({int64_t(1) << 62, 4}, DType::f64); }), "overflow");
  // Expand of an activation to a shape whose element count is beyond any memory: names the node.
  OnnxBuilder b("hostile", 13, 8);
  b.input("input", {1, 3, 1, 1});
  b.ints("target", {int64_t(1) << 33, 3, int64_t(1) << 33, int64_t(1) << 33});
  b.node("Expand", "expand", {"input", "target"}, {"expanded"});
  b.output("expanded");
  EXPECT_MESSAGE_HAS(load_error(b), "node 'expand' (Expand)", "too large");
}

// Integer shape arithmetic folded at load: [n, 1] + [1, n] broadcasts to n * n elements, bounded before allocating.
TEST(hostile_models, FoldedIntegerBroadcastIsBounded) {
  OnnxBuilder b = conv_model();
  auto int_value = [](onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    a->mutable_t()->add_dims(1);
    a->mutable_t()->add_int64_data(1);
  };
  b.ints("rows", {int64_t(1) << 20, 1});
  b.ints("cols", {1, int64_t(1) << 20});
  int_value(b.node("ConstantOfShape", "col_vector", {"rows"}, {"a"}));
  int_value(b.node("ConstantOfShape", "row_vector", {"cols"}, {"b"}));
  b.node("Add", "outer_sum", {"a", "b"}, {"sum"});
  EXPECT_MESSAGE_HAS(load_error(b), "node 'outer_sum' (Add)", "[1048576, 1048576]", "too large");
}

}  // namespace
}  // namespace glassbox
