// OnnxBuilder: small ONNX models written in code with the protobuf classes, for tests that need a graph no file
// holds (bad models for the importer's errors, a tiny ViT for attention explanations, a linear model for metrics).
// Inputs and outputs are float tensors, a dimension -1 being the symbolic batch "N". Initializers come in four
// kinds: init (a fixed small pattern in raw_data), weight (normal random values from the builder's rng, as
// float_data), floats (given values, as float_data) and ints (int64_data); each returns its name, so it can stand
// in a node's input list; externalize moves one's data to an external data blob. find_node and find_init give the
// protos back for a test to corrupt.
#pragma once
#include <onnx/onnx.pb.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace glassbox::test {

class OnnxBuilder {
 public:
  // opset: the version of the default ONNX domain. The producer name is left out where empty.
  explicit OnnxBuilder(const std::string& graph_name, int opset = 13, int64_t ir_version = 8,
                       const std::string& producer = "");

  onnx::ModelProto m;
  std::mt19937 rng{1234};  // weight()'s values, drawn in the order of the calls

  onnx::GraphProto* graph() { return m.mutable_graph(); }
  std::string bytes() const { return m.SerializeAsString(); }

  // A float graph input with its shape ({} for a scalar); an output without a shape, or with one.
  void input(const std::string& name, const std::vector<int64_t>& dims);
  // A graph input of another element type (an onnx::TensorProto::DataType), e.g. a uint8 image input.
  void input(const std::string& name, const std::vector<int64_t>& dims, int elem_type);
  void output(const std::string& name);
  void output(const std::string& name, const std::vector<int64_t>& dims);

  // Float initializers: value i of init is 0.05 * ((7 i) mod 11) - 0.2; weight's are normal(0, scale) from rng;
  // floats stores the values given (dims {} for a scalar).
  std::string init(const std::string& name, const std::vector<int64_t>& dims);
  std::string weight(const std::string& name, const std::vector<int64_t>& dims, float scale);
  std::string floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values);
  // An int64 initializer: 1-D [values.size()], or a scalar (one value, no dims).
  std::string ints(const std::string& name, const std::vector<int64_t>& values, bool scalar = false);

  // A node with the name given; or one output `out` and the name out + "_node".
  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& ins,
                        const std::vector<std::string>& outs);
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& ins, const std::string& out);

  // Moves initializer `name`'s data (raw_data, float_data or int64_data) to the end of `blob`, at the next multiple
  // of `align` bytes, and makes the initializer ONNX external data: data_location EXTERNAL with external_data
  // "location" and "offset", and "length" where with_length. Returns the offset. The test writes `blob` to
  // `location` next to the model.
  int64_t externalize(const std::string& name, const std::string& location, std::string& blob, bool with_length = true,
                      int64_t align = 64);

  // The node or initializer of that name; a test failure and nullptr where there is none.
  onnx::NodeProto* find_node(const std::string& name);
  onnx::TensorProto* find_init(const std::string& name);
};

// Attributes: a list of integers (INTS), one integer (INT).
void attr_ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values);
void attr_int(onnx::NodeProto* node, const std::string& name, int64_t value);

}  // namespace glassbox::test
