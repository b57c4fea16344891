// The layer graph glassbox builds from an ONNX file: values (activations, weights, shape tensors) and the nodes
// that compute them, in topological order. Immutable once imported; plans (shapes, memory, steps) are per session.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "engine/tensor.h"

namespace glassbox {

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;

class Attributes {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue v) { values_[name] = std::move(v); }
  // Typed reads with a default; a present attribute of another type is an error naming it.
  int64_t i(const std::string& name, int64_t def) const;
  float f(const std::string& name, float def) const;
  std::string s(const std::string& name, const std::string& def) const;
  std::vector<int64_t> ints(const std::string& name, const std::vector<int64_t>& def = {}) const;
  std::vector<float> floats(const std::string& name, const std::vector<float>& def = {}) const;
  const std::map<std::string, AttrValue>& all() const { return values_; }

 private:
  std::map<std::string, AttrValue> values_;
};

struct Value {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;             // declared shape; -1 where a dimension is symbolic or unknown
  bool has_shape = false;  // whether `shape` was declared at all
  Tensor constant;         // initializers and Constant outputs (host memory); undefined otherwise
  bool is_constant() const { return constant.defined() && constant.raw() != nullptr; }
};

struct Node {
  std::string name;  // the ONNX node name, or "<op_type>_<index>" when the file leaves it empty
  std::string op;    // ONNX op_type
  std::vector<int> inputs;  // value ids; -1 for an omitted optional input
  std::vector<int> outputs;
  Attributes attrs;
  // "node 'name' (Op)" for error messages.
  std::string describe() const { return "node '" + name + "' (" + op + ")"; }
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // topologically sorted
  std::vector<int> inputs;  // runtime inputs (not initializers)
  std::vector<int> outputs;
  int opset = 0;
  std::map<std::string, std::string> metadata;  // ONNX metadata_props
  // Values removed at import by folding (e.g. a Conv output folded with its BatchNormalization) -> what replaced
  // them, so that a capture request for one can say why it is gone.
  std::map<std::string, std::string> folded;

  int find_value(const std::string& name) const;  // -1 when absent
  std::vector<int> producers() const;             // value id -> producing node index (-1: input/constant)
  std::vector<std::vector<int>> consumers() const;  // value id -> consuming node indices
};

}  // namespace glassbox
