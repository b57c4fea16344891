#include "tests/support/onnx_builder.h"

#include <gtest/gtest.h>

namespace glassbox::test {
namespace {

void set_shape(onnx::TypeProto_Tensor* tt, const std::vector<int64_t>& dims) {
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
}

onnx::TypeProto_Tensor* float_value(onnx::ValueInfoProto* vi, const std::string& name) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  return tt;
}

// An initializer with its name, element type and dims; returns it and (in n) its number of elements.
onnx::TensorProto* add_tensor(onnx::GraphProto* g, const std::string& name, onnx::TensorProto::DataType type,
                              const std::vector<int64_t>& dims, int64_t& n) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  n = 1;
  for (int64_t d : dims) t->add_dims(d), n *= d;
  return t;
}

}  // namespace

OnnxBuilder::OnnxBuilder(const std::string& graph_name, int opset, int64_t ir_version, const std::string& producer) {
  m.set_ir_version(ir_version);
  if (!producer.empty()) m.set_producer_name(producer);
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  graph()->set_name(graph_name);
}

void OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& dims) {
  set_shape(float_value(graph()->add_input(), name), dims);
}

void OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& dims, int elem_type) {
  auto* tt = float_value(graph()->add_input(), name);
  tt->set_elem_type(elem_type);
  set_shape(tt, dims);
}

void OnnxBuilder::output(const std::string& name) { float_value(graph()->add_output(), name); }

void OnnxBuilder::output(const std::string& name, const std::vector<int64_t>& dims) {
  set_shape(float_value(graph()->add_output(), name), dims);
}

std::string OnnxBuilder::init(const std::string& name, const std::vector<int64_t>& dims) {
  int64_t n;
  auto* t = add_tensor(graph(), name, onnx::TensorProto::FLOAT, dims, n);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.05f * static_cast<float>((i * 7) % 11) - 0.2f;
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  return name;
}

std::string OnnxBuilder::weight(const std::string& name, const std::vector<int64_t>& dims, float scale) {
  int64_t n;
  auto* t = add_tensor(graph(), name, onnx::TensorProto::FLOAT, dims, n);
  std::normal_distribution<float> d(0.f, scale);
  for (int64_t i = 0; i < n; ++i) t->add_float_data(d(rng));
  return name;
}

std::string OnnxBuilder::floats(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
  int64_t n;
  auto* t = add_tensor(graph(), name, onnx::TensorProto::FLOAT, dims, n);
  EXPECT_EQ(n, static_cast<int64_t>(values.size())) << "initializer " << name;
  for (float v : values) t->add_float_data(v);
  return name;
}

std::string OnnxBuilder::ints(const std::string& name, const std::vector<int64_t>& values, bool scalar) {
  int64_t n;
  std::vector<int64_t> dims;
  if (!scalar) dims.push_back(static_cast<int64_t>(values.size()));
  auto* t = add_tensor(graph(), name, onnx::TensorProto::INT64, dims, n);
  for (int64_t v : values) t->add_int64_data(v);
  return name;
}

onnx::NodeProto* OnnxBuilder::node(const std::string& op, const std::string& name,
                                   const std::vector<std::string>& ins, const std::vector<std::string>& outs) {
  auto* n = graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

onnx::NodeProto* OnnxBuilder::node(const std::string& op, const std::vector<std::string>& ins,
                                   const std::string& out) {
  return node(op, out + "_node", ins, {out});
}

int64_t OnnxBuilder::externalize(const std::string& name, const std::string& location, std::string& blob,
                                 bool with_length, int64_t align) {
  onnx::TensorProto* t = find_init(name);
  if (!t) return -1;
  std::string data = t->raw_data();
  if (!t->has_raw_data()) {  // the typed fields, as raw_data would hold them (little-endian)
    for (float v : t->float_data()) data.append(reinterpret_cast<const char*>(&v), sizeof v);
    for (int64_t v : t->int64_data()) data.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  const int64_t offset = (static_cast<int64_t>(blob.size()) + align - 1) / align * align;
  blob.resize(static_cast<size_t>(offset), '\0');
  blob += data;
  t->clear_raw_data();
  t->clear_float_data();
  t->clear_int64_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto entry = [&](const char* key, const std::string& value) {
    auto* e = t->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  entry("location", location);
  entry("offset", std::to_string(offset));
  if (with_length) entry("length", std::to_string(data.size()));
  return offset;
}

onnx::NodeProto* OnnxBuilder::find_node(const std::string& name) {
  for (auto& n : *graph()->mutable_node())
    if (n.name() == name) return &n;
  ADD_FAILURE() << "no node " << name;
  return nullptr;
}

onnx::TensorProto* OnnxBuilder::find_init(const std::string& name) {
  for (auto& t : *graph()->mutable_initializer())
    if (t.name() == name) return &t;
  ADD_FAILURE() << "no initializer " << name;
  return nullptr;
}

void attr_ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void attr_int(onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

}  // namespace glassbox::test
