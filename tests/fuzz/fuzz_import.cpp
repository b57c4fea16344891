// libFuzzer target for the ONNX importer: bytes -> Model::from_bytes -> (if it loads) Model::layers, Model::resolve
// and Session::run on an input of the model's declared shape. glassbox::Error is the expected way to refuse; any
// other exception, a crash, a sanitizer report (ASan, UBSan), a leak or a huge allocation is a finding.
// See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model.h"
#include "tests/fuzz/onnx_mutator.h"
#include "tests/fuzz/run_budget.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const glassbox::Model> model;
  try {
    model = glassbox::Model::from_bytes(data, size, {}, "<fuzz>");
  } catch (const glassbox::Error&) {
    return 0;  // refused with a message: expected
  }
  // What `glassbox inspect` and Session::capture do with a model: list the layers, resolve names.
  try {
    model->layers(1);
  } catch (const glassbox::Error&) {
  }
  const auto& nodes = model->graph().nodes;
  for (const std::string& name : {nodes.empty() ? std::string("x") : nodes.back().name + "_", std::string("layer1")}) {
    try {
      model->resolve(name);
    } catch (const glassbox::Error&) {
    }
  }
  try {
    glassbox::fuzz::run_declared_shape(model);
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
