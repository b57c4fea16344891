#include "engine/onnx_import.h"

#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "engine/error.h"

namespace glassbox {

const std::vector<std::string>& supported_operators() {
  static const std::vector<std::string> ops = {
      // computed at run time
      "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "Div", "Dropout", "Erf", "Flatten", "Gelu", "Gemm",
      "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "MatMul", "MaxPool", "Mul", "Pad",
      "Pow", "ReduceMean", "Relu", "Reshape", "Sigmoid", "Softmax", "Split", "Sqrt", "Sub", "Transpose",
      // folded at plan time (shape computations exporters emit around Flatten, Reshape and the class token)
      "Cast", "Constant", "ConstantOfShape", "Equal", "Expand", "Gather", "Mod", "Shape", "Slice", "Squeeze",
      "Unsqueeze", "Where"};
  return ops;
}

namespace {

constexpr int kMinOpset = 11, kMaxOpset = 21;
constexpr int64_t kMaxElements = int64_t(1) << 34;  // 16 G elements: anything larger is a corrupt header

Shape dims_of(const onnx::TensorProto& t, const std::string& what) {
  Shape s;
  int64_t n = 1;  // product of the non-zero dimensions (bounded too, so that no product of dimensions overflows)
  for (int64_t d : t.dims()) {
    GB_CHECK(d >= 0, what, ": negative dimension ", d);
    GB_CHECK(d == 0 || n <= kMaxElements / d, what, ": tensor too large");
    if (d) n *= d;
    s.push_back(d);
  }
  return s;
}

// TensorProto -> host Tensor (float/double -> float32; int32/int64/bool/uint8/int8 -> int64).
Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& what) {
  GB_CHECK(t.data_location() != onnx::TensorProto::EXTERNAL, what,
           ": tensor data stored in an external file is not supported (save the model with its weights inside)");
  const Shape shape = dims_of(t, what);
  const int64_t n = numel(shape);
  const bool raw = t.has_raw_data();
  const std::string& bytes = t.raw_data();
  auto check_count = [&](int64_t have, size_t elem) {
    GB_CHECK(have == n, what, ": holds ", have, " values for shape ", shape_str(shape), " (", n,
             " expected; truncated or malformed tensor)");
    (void)elem;
  };
  // Every case checks the value count before allocating: the dimensions alone may be anything up to kMaxElements.
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: {
      if (raw) {
        check_count(static_cast<int64_t>(bytes.size() / 4), 4);
        GB_CHECK(bytes.size() % 4 == 0, what, ": raw data size ", bytes.size(), " is not a multiple of 4");
      } else {
        check_count(t.float_data_size(), 4);
      }
      Tensor out = Tensor::empty(shape, DType::f32);
      if (raw) {
        if (n) std::memcpy(out.raw(), bytes.data(), bytes.size());
      } else {
        std::copy(t.float_data().begin(), t.float_data().end(), out.data<float>());
      }
      return out;
    }
    case onnx::TensorProto::DOUBLE: {
      if (raw) {
        GB_CHECK(bytes.size() % 8 == 0, what, ": raw data size ", bytes.size(), " is not a multiple of 8");
        check_count(static_cast<int64_t>(bytes.size() / 8), 8);
      } else {
        check_count(t.double_data_size(), 8);
      }
      Tensor out = Tensor::empty(shape, DType::f32);
      float* o = out.data<float>();
      if (raw) {
        for (int64_t i = 0; i < n; ++i) {
          double d;
          std::memcpy(&d, bytes.data() + 8 * i, 8);
          o[i] = static_cast<float>(d);
        }
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(t.double_data(static_cast<int>(i)));
      }
      return out;
    }
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL: {
      const int dt = t.data_type();
      const size_t elem = dt == onnx::TensorProto::INT64 ? 8 : dt == onnx::TensorProto::INT32 ? 4 : 1;
      if (raw) {
        GB_CHECK(bytes.size() % elem == 0, what, ": raw data size ", bytes.size(), " is not a multiple of ", elem);
        check_count(static_cast<int64_t>(bytes.size() / elem), elem);
      } else {
        check_count(dt == onnx::TensorProto::INT64 ? t.int64_data_size() : t.int32_data_size(), elem);
      }
      Tensor out = Tensor::empty(shape, DType::i64);
      int64_t* o = out.data<int64_t>();
      if (raw) {
        for (int64_t i = 0; i < n; ++i) {
          const char* p = bytes.data() + elem * i;
          if (elem == 8) std::memcpy(&o[i], p, 8);
          else if (elem == 4) { int32_t v; std::memcpy(&v, p, 4); o[i] = v; }
          else if (dt == onnx::TensorProto::INT8) o[i] = static_cast<int8_t>(*p);
          else o[i] = static_cast<uint8_t>(*p);
        }
      } else if (dt == onnx::TensorProto::INT64) {
        std::copy(t.int64_data().begin(), t.int64_data().end(), o);
      } else {
        std::copy(t.int32_data().begin(), t.int32_data().end(), o);
      }
      return out;
    }
    default:
      fail(what, ": tensor element type ", onnx::TensorProto::DataType_Name(
                                               static_cast<onnx::TensorProto::DataType>(t.data_type())),
           " is not supported (float, double and integer types are)");
  }
}

void read_attribute(const onnx::AttributeProto& a, Attributes& out, const std::string& where) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: out.set(a.name(), static_cast<int64_t>(a.i())); break;
    case onnx::AttributeProto::FLOAT: out.set(a.name(), a.f()); break;
    case onnx::AttributeProto::STRING: out.set(a.name(), a.s()); break;
    case onnx::AttributeProto::INTS: out.set(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end())); break;
    case onnx::AttributeProto::FLOATS:
      out.set(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
      break;
    case onnx::AttributeProto::TENSOR:
      out.set(a.name(), tensor_from_proto(a.t(), where + ", attribute '" + a.name() + "'"));
      break;
    default:
      fail(where, ": attribute '", a.name(), "' has an unsupported type ",
           onnx::AttributeProto::AttributeType_Name(a.type()));
  }
}

void read_value_info(const onnx::ValueInfoProto& vi, Value& v) {
  if (!vi.has_type() || !vi.type().has_tensor_type()) return;
  const auto& tt = vi.type().tensor_type();
  if (tt.elem_type() == onnx::TensorProto::INT64) v.dtype = DType::i64;
  if (!tt.has_shape()) return;
  v.has_shape = true;
  v.shape.clear();
  for (const auto& d : tt.shape().dim()) v.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
}

// Constant's output: the one value attribute it carries.
Tensor constant_value(const Node& n) {
  const auto& all = n.attrs.all();
  GB_CHECK(all.size() == 1, n.describe(), ": expected exactly one value attribute, found ", all.size());
  const auto& [name, v] = *all.begin();
  if (const Tensor* t = std::get_if<Tensor>(&v)) return *t;
  if (const float* f = std::get_if<float>(&v)) return Tensor::from_vector<float>({}, {*f});
  if (const int64_t* i = std::get_if<int64_t>(&v)) return Tensor::from_vector<int64_t>({}, {*i});
  if (const auto* fs = std::get_if<std::vector<float>>(&v))
    return Tensor::from_vector<float>({static_cast<int64_t>(fs->size())}, *fs);
  if (const auto* is = std::get_if<std::vector<int64_t>>(&v))
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(is->size())}, *is);
  fail(n.describe(), ": attribute '", name, "' is not a supported constant (sparse and string constants are not)");
}

// Kahn's algorithm; the file's order is kept where it is already valid.
void sort_topologically(Graph& g) {
  const size_t V = g.values.size();
  std::vector<int> producer(V, -1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int o : g.nodes[n].outputs) producer[o] = static_cast<int>(n);
  std::vector<int> missing(g.nodes.size(), 0);
  std::vector<std::vector<int>> users(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int i : g.nodes[n].inputs)
      if (i >= 0 && producer[i] >= 0) {
        ++missing[n];
        users[producer[i]].push_back(static_cast<int>(n));
      }
  std::vector<Node> sorted;
  std::vector<int> ready;
  for (size_t n = g.nodes.size(); n-- > 0;)
    if (missing[n] == 0) ready.push_back(static_cast<int>(n));
  std::vector<bool> done(g.nodes.size(), false);
  while (!ready.empty()) {
    // Take the lowest index first so the file's order is kept.
    auto it = std::min_element(ready.begin(), ready.end());
    const int n = *it;
    ready.erase(it);
    done[n] = true;
    sorted.push_back(std::move(g.nodes[n]));
    for (int u : users[n])
      if (--missing[u] == 0) ready.push_back(u);
  }
  if (sorted.size() != g.nodes.size()) {
    for (size_t n = 0; n < done.size(); ++n)
      if (!done[n]) fail(g.nodes[n].describe(), ": the graph has a cycle through this node");
  }
  g.nodes = std::move(sorted);
}

bool is_const(const Graph& g, int v) { return v >= 0 && g.values[v].is_constant(); }

// BatchNormalization after a Conv whose output feeds only it: W'[m] = W[m] k[m],
// b'[m] = (b[m] - mean[m]) k[m] + beta[m], with k = gamma / sqrt(var + eps). Exact up to float rounding.
void fold_batchnorms(Graph& g) {
  auto consumers = g.consumers();
  auto producers = g.producers();
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
    Node& bn = g.nodes[bi];
    if (bn.op != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
    const int x = bn.inputs[0];
    if (x < 0) continue;  // omitted input: the plan reports it
    const int ci = producers[x];
    if (ci < 0 || g.nodes[ci].op != "Conv" || consumers[x].size() != 1) continue;
    if (std::find(g.outputs.begin(), g.outputs.end(), x) != g.outputs.end()) continue;
    Node& conv = g.nodes[ci];
    if (conv.inputs.size() < 2 || !is_const(g, conv.inputs[1])) continue;
    if (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && !is_const(g, conv.inputs[2])) continue;
    bool params_const = true;
    for (int k = 1; k < 5; ++k) params_const = params_const && is_const(g, bn.inputs[k]);
    if (!params_const) continue;
    const Tensor& W = g.values[conv.inputs[1]].constant;
    const int64_t M = W.rank() >= 1 ? W.dim(0) : 0;
    bool shapes_ok = W.dtype() == DType::f32 && M > 0;
    for (int k = 1; k < 5 && shapes_ok; ++k) {
      const Tensor& p = g.values[bn.inputs[k]].constant;
      shapes_ok = p.dtype() == DType::f32 && p.numel() == M;
    }
    if (!shapes_ok) continue;
    const float eps = bn.attrs.f("epsilon", 1e-5f);
    const float* gamma = g.values[bn.inputs[1]].constant.data<float>();
    const float* beta = g.values[bn.inputs[2]].constant.data<float>();
    const float* mean = g.values[bn.inputs[3]].constant.data<float>();
    const float* var = g.values[bn.inputs[4]].constant.data<float>();
    Tensor w2 = W.clone();
    Tensor b2 = Tensor::zeros({M});
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
    const float* b = has_bias ? g.values[conv.inputs[2]].constant.data<float>() : nullptr;
    GB_CHECK(!has_bias || g.values[conv.inputs[2]].constant.numel() == M, conv.describe(), ": bias has ",
             g.values[conv.inputs[2]].constant.numel(), " values, expected ", M);
    const int64_t per = W.numel() / M;
    for (int64_t m = 0; m < M; ++m) {
      const double k = double(gamma[m]) / std::sqrt(double(var[m]) + double(eps));
      float* wm = w2.data<float>() + m * per;
      for (int64_t i = 0; i < per; ++i) wm[i] = static_cast<float>(wm[i] * k);
      b2.data<float>()[m] = static_cast<float>(((b ? b[m] : 0.0) - mean[m]) * k + beta[m]);
    }
    Value wv, bv;
    wv.name = g.values[conv.inputs[1]].name + "@bn_folded";
    wv.constant = w2, wv.shape = w2.shape(), wv.has_shape = true;
    bv.name = conv.name + ".bias@bn_folded";
    bv.constant = b2, bv.shape = b2.shape(), bv.has_shape = true;
    g.values.push_back(std::move(wv));
    g.values.push_back(std::move(bv));
    conv.inputs.resize(3);
    conv.inputs[1] = static_cast<int>(g.values.size()) - 2;
    conv.inputs[2] = static_cast<int>(g.values.size()) - 1;
    g.folded[g.values[x].name] = g.values[bn.outputs[0]].name;
    conv.outputs[0] = bn.outputs[0];
    removed[bi] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

Graph build_graph(const onnx::ModelProto& m, const std::string& source, const ImportOptions& options) {
  Graph g;
  for (const auto& os : m.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") g.opset = static_cast<int>(os.version());
  GB_CHECK(g.opset != 0, source, ": no opset for the default ONNX domain");
  GB_CHECK(g.opset >= kMinOpset && g.opset <= kMaxOpset, source, ": opset ", g.opset, " is not supported (",
           kMinOpset, " to ", kMaxOpset, " are); re-export the model with an opset in that range");
  for (const auto& p : m.metadata_props()) g.metadata[p.key()] = p.value();
  GB_CHECK(m.has_graph(), source, ": the model has no graph");
  const onnx::GraphProto& gp = m.graph();

  std::unordered_map<std::string, int> ids;
  auto add_value = [&](const std::string& name) -> int {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    Value v;
    v.name = name;
    g.values.push_back(std::move(v));
    return ids[name] = static_cast<int>(g.values.size()) - 1;
  };

  for (const auto& init : gp.initializer()) {
    GB_CHECK(!init.name().empty(), source, ": an initializer has no name");
    GB_CHECK(!ids.count(init.name()), source, ": initializer '", init.name(), "' is defined twice");
    const int id = add_value(init.name());
    g.values[id].constant = tensor_from_proto(init, "initializer '" + init.name() + "'");
    g.values[id].dtype = g.values[id].constant.dtype();
    g.values[id].shape = g.values[id].constant.shape();
    g.values[id].has_shape = true;
  }
  for (const auto& in : gp.input()) {
    const int id = add_value(in.name());
    if (g.values[id].is_constant()) continue;  // old exporters list initializers as inputs too
    GB_CHECK(std::find(g.inputs.begin(), g.inputs.end(), id) == g.inputs.end(), source, ": graph input '",
             in.name(), "' is listed twice");
    read_value_info(in, g.values[id]);
    GB_CHECK(g.values[id].dtype == DType::f32, source, ": graph input '", in.name(), "' must be float32");
    g.inputs.push_back(id);
  }
  GB_CHECK(!g.inputs.empty(), source, ": the graph has no runtime input (every input is an initializer)");
  for (const auto& vi : gp.value_info()) {
    auto it = ids.find(vi.name());
    if (it != ids.end() && !g.values[it->second].is_constant()) read_value_info(vi, g.values[it->second]);
  }

  const auto& ops = supported_operators();
  std::vector<bool> defined(g.values.size(), true);  // inputs and initializers so far
  for (int idx = 0; idx < gp.node_size(); ++idx) {
    const onnx::NodeProto& np = gp.node(idx);
    Node n;
    n.op = np.op_type();
    n.name = np.name().empty() ? n.op + "_" + std::to_string(idx) : np.name();
    GB_CHECK(np.domain().empty() || np.domain() == "ai.onnx", n.describe(), ": operator domain '", np.domain(),
             "' is not supported (only the default ONNX domain is)");
    if (std::find(ops.begin(), ops.end(), n.op) == ops.end()) {
      std::string list;
      for (const auto& o : ops) list += (list.empty() ? "" : ", ") + o;
      fail(n.describe(), ": unsupported operator '", n.op, "' (supported: ", list, ")");
    }
    for (const auto& a : np.attribute()) read_attribute(a, n.attrs, n.describe());
    for (const auto& name : np.input()) {
      if (name.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      // A name not seen yet may be a later node's output (nodes out of order); checked after all nodes.
      n.inputs.push_back(add_value(name));
      defined.resize(g.values.size(), false);
    }
    for (const auto& name : np.output()) {
      if (name.empty()) {
        n.outputs.push_back(-1);
        continue;
      }
      GB_CHECK(!ids.count(name) || !defined[ids[name]], n.describe(), ": output '", name,
               "' is already defined by another node, an input or an initializer");
      const int id = add_value(name);
      defined.resize(g.values.size(), false);
      defined[id] = true;
      n.outputs.push_back(id);
    }
    GB_CHECK(!n.outputs.empty() && n.outputs[0] >= 0, n.describe(), ": the node has no output");
    // Omitted optional outputs: trailing ones are dropped; one between named outputs gets an unused value.
    while (n.outputs.back() < 0) n.outputs.pop_back();
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (n.outputs[k] < 0) {
        Value v;
        v.name = n.name + ":omitted_output_" + std::to_string(k);
        g.values.push_back(std::move(v));
        defined.push_back(true);
        n.outputs[k] = static_cast<int>(g.values.size()) - 1;
      }
    if (n.op == "Constant") {
      g.values[n.outputs[0]].constant = constant_value(n);
      g.values[n.outputs[0]].dtype = g.values[n.outputs[0]].constant.dtype();
      continue;  // a Constant node becomes a constant value
    }
    // Optional outputs inference does not compute (Dropout's mask, MaxPool's indices) are checked unused by the plan.
    g.nodes.push_back(std::move(n));
  }
  // Late check of forward references (nodes listed before their producers): every input must be produced.
  std::vector<bool> produced(g.values.size(), false);
  for (int v = 0; v < static_cast<int>(g.values.size()); ++v) produced[v] = g.values[v].is_constant();
  for (int v : g.inputs) produced[v] = true;
  for (const Node& n : g.nodes)
    for (int o : n.outputs)
      if (o >= 0) produced[o] = true;
  for (const Node& n : g.nodes)
    for (int i : n.inputs)
      GB_CHECK(i < 0 || produced[i], n.describe(), ": input '", g.values[i].name,
               "' is not a graph input, an initializer or a node output (missing initializer?)");
  for (const auto& out : gp.output()) {
    auto it = ids.find(out.name());
    GB_CHECK(it != ids.end() && produced[it->second], source, ": graph output '", out.name(), "' is never produced");
    read_value_info(out, g.values[it->second]);
    g.outputs.push_back(it->second);
  }
  GB_CHECK(!g.outputs.empty(), source, ": the graph has no output");
  sort_topologically(g);
  if (options.fold_batchnorm) fold_batchnorms(g);
  return g;
}

}  // namespace

Graph import_onnx_bytes(const void* data, size_t size, const std::string& source, const ImportOptions& options) {
  GB_CHECK(size < (size_t(2) << 30), source, ": file over 2 GiB (protobuf's limit)");
  onnx::ModelProto m;
  GB_CHECK(m.ParseFromArray(data, static_cast<int>(size)), source,
           ": not a valid ONNX model (malformed or truncated protobuf)");
  return build_graph(m, source, options);
}

Graph import_onnx_file(const std::string& path, const ImportOptions& options) {
  std::ifstream f(path, std::ios::binary);
  GB_CHECK(f, path, ": cannot open the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  GB_CHECK(!bytes.empty(), path, ": the file is empty");
  return import_onnx_bytes(bytes.data(), bytes.size(), path, options);
}

}  // namespace glassbox
