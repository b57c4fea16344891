// libFuzzer target for the ONNX importer: bytes -> Model::from_bytes -> (if it loads) Session::run on an input of
// the model's declared shape. glassbox::Error is the expected way to refuse; any other exception, a crash, a
// sanitizer report (ASan, UBSan), a leak or a huge allocation is a finding. See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model.h"
#include "tests/fuzz/onnx_mutator.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

constexpr int64_t kMaxInputElements = 1 << 20;     // skip the run above this (declared input too large)
constexpr size_t kMaxArenaBytes = size_t(32) << 20;  // skip the run when the plan needs more memory (slow)

// The declared input shapes with symbolic dimensions set to 1; false when an input declares no shape or the
// inputs are too large to run quickly.
bool declared_shapes(const glassbox::Model& model, std::vector<glassbox::Shape>& shapes) {
  const glassbox::Graph& g = model.graph();
  for (int id : g.inputs) {
    const glassbox::Value& v = g.values[id];
    if (!v.has_shape) return false;
    glassbox::Shape s = v.shape;
    int64_t total = 1;
    for (int64_t& d : s) {
      if (d < 0) d = 1;
      if (d > kMaxInputElements || total * d > kMaxInputElements) return false;
      total *= d;
    }
    shapes.push_back(s);
  }
  return true;
}

void run(const std::shared_ptr<const glassbox::Model>& model) {
  std::vector<glassbox::Shape> shapes;
  if (!declared_shapes(*model, shapes)) return;
  glassbox::SessionOptions opt;
  opt.threads = 1;
  glassbox::Session session(model, opt);
  const glassbox::Plan& plan = session.plan_for(shapes);
  if (plan.arena_bytes > kMaxArenaBytes) return;
  for (int v : plan.kept)
    if (glassbox::numel(plan.shapes[v]) > int64_t(kMaxArenaBytes / 4)) return;
  std::vector<glassbox::Tensor> inputs;
  for (const auto& s : shapes) {
    glassbox::Tensor t = glassbox::Tensor::empty(s);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>((i * 37) % 17) * 0.125f - 1.f;
    inputs.push_back(t);
  }
  session.run(inputs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const glassbox::Model> model;
  try {
    model = glassbox::Model::from_bytes(data, size, {}, "<fuzz>");
  } catch (const glassbox::Error&) {
    return 0;  // refused with a message: expected
  }
  try {
    run(model);
  } catch (const glassbox::Error&) {
  }
  return 0;
}

// Half of the mutations are libFuzzer's own (bytes); the other half parse the model, change one field
// (attributes, dimensions, shape constants, names, operator types, opset) and serialize it again, which reaches
// the shape rules far more often than byte changes that mostly break the protobuf framing.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  if (rng() % 2) return LLVMFuzzerMutate(data, size, max_size);
  onnx::ModelProto m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return LLVMFuzzerMutate(data, size, max_size);
  std::ostringstream what;
  glassbox::fuzz::mutate_model(m, rng, what);
  const std::string out = m.SerializeAsString();
  if (out.empty() || out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
