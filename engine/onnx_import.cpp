#include "engine/onnx_import.h"

#include <onnx/onnx.pb.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include "engine/error.h"

namespace glassbox {

namespace {

constexpr int kMinOpset = 11, kMaxOpset = 22;  // opset 22 (onnx 1.17) only adds bfloat16 to operators' types
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

namespace fs = std::filesystem;

constexpr uint64_t kMaxModelBytes = uint64_t(2) << 30;  // protobuf's limit for one message

// A file descriptor, closed when it goes.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Opens `path` for reading, refusing anything but a regular file (a directory, a FIFO, /dev/zero: never read
// without bound), and gives its size. Errors start with `who` ("<path>: ") and say what was `expected`:
// "<path>: is a directory, expected an ONNX model file". O_NONBLOCK so that opening a FIFO does not wait for a
// writer; fstat on the open descriptor, so that what is checked is what is read.
Fd open_regular(const std::string& path, const std::string& who, const char* expected, uint64_t& size) {
  Fd f(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  GB_CHECK(f.fd >= 0, who, "cannot open the file (", std::strerror(errno), ")");
  struct stat st {};
  GB_CHECK(::fstat(f.fd, &st) == 0, who, "cannot read the file (", std::strerror(errno), ")");
  GB_CHECK(!S_ISDIR(st.st_mode), who, "is a directory, expected ", expected);
  GB_CHECK(S_ISREG(st.st_mode), who, "is not a regular file (a device, FIFO or socket), expected ", expected);
  size = static_cast<uint64_t>(st.st_size);
  return f;
}

// Reads exactly `bytes` bytes at `offset` into out (which has room for them).
void read_exactly(const Fd& f, uint64_t offset, uint64_t bytes, char* out, const std::string& who) {
  uint64_t done = 0;
  while (done < bytes) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(bytes - done, uint64_t(1) << 30));
    const ssize_t r = ::pread(f.fd, out + done, chunk, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    GB_CHECK(r >= 0, who, "cannot read the file (", std::strerror(errno), ")");
    GB_CHECK(r > 0, who, "the file ended after ", offset + done, " bytes (it changed while being read?)");
    done += static_cast<uint64_t>(r);
  }
}

// Bytes per element as a tensor stores them (raw_data and external files); 0 for a type the importer refuses.
size_t stored_element_size(int data_type) {
  switch (data_type) {
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: return 4;
    case onnx::TensorProto::DOUBLE: case onnx::TensorProto::INT64: return 8;
    case onnx::TensorProto::INT8: case onnx::TensorProto::UINT8: case onnx::TensorProto::BOOL: return 1;
    default: return 0;
  }
}

// Where tensors with data_location = EXTERNAL are read from: the model file's folder; empty for a model read from
// memory without ImportOptions::external_data_dir.
struct ExternalData {
  std::string folder;
};

// A non-negative decimal integer of an external_data entry ("offset", "length": "Integer stored as string").
uint64_t external_integer(const std::string& text, const std::string& who, const char* key) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  GB_CHECK(!text.empty() && ec == std::errc() && ptr == end && v <= uint64_t(std::numeric_limits<int64_t>::max()),
           who, key, " '", text, "' is not a non-negative 64-bit integer");
  return v;
}

// The `bytes` bytes of an external tensor. ONNX (onnx.proto, TensorProto.external_data; docs/ExternalData.md):
// "location" is a path relative to the folder of the model file (required; ".." components are disallowed),
// "offset" the position of its first byte (default 0), "length" its number of bytes (default: to the end of the
// file; here exactly the tensor's bytes are read), "checksum" a SHA1 digest of the file (not verified). Read only
// from a regular file inside the model's folder, symbolic links resolved.
std::string read_external(const onnx::TensorProto& t, const std::string& what, const ExternalData& ext,
                          uint64_t bytes) {
  GB_CHECK(!t.has_raw_data(), what, ": data_location is EXTERNAL but the tensor also holds raw_data");
  const std::string* location = nullptr;
  const std::string *offset_text = nullptr, *length_text = nullptr;
  for (const auto& e : t.external_data()) {
    const std::string** slot = e.key() == "location" ? &location
                               : e.key() == "offset" ? &offset_text
                               : e.key() == "length" ? &length_text
                                                     : nullptr;  // checksum (not verified) and unknown keys
    if (!slot) continue;
    GB_CHECK(!*slot, what, ": external_data key '", e.key(), "' is given twice");
    *slot = &e.value();
  }
  GB_CHECK(location && !location->empty(), what, ": data_location is EXTERNAL but no external_data 'location'");
  const std::string file_who = what + ": external data file '" + *location + "': ";
  GB_CHECK(!ext.folder.empty(), file_who, "the model was read from memory, so there is no folder to read it from ",
           "(set ImportOptions::external_data_dir, or load the model from its file)");
  const fs::path rel(*location);
  GB_CHECK(!rel.has_root_path(), file_who, "is an absolute path; ONNX requires a path relative to the model's folder");
  for (const auto& part : rel)
    GB_CHECK(part != "..", file_who, "has a '..' component; ONNX disallows leaving the model's folder");
  std::error_code ec;
  const fs::path folder = fs::weakly_canonical(fs::absolute(ext.folder, ec), ec);
  GB_CHECK(!ec, file_who, "cannot resolve the model's folder '", ext.folder, "' (", ec.message(), ")");
  const fs::path file = fs::weakly_canonical(folder / rel, ec);
  GB_CHECK(!ec, file_who, "cannot resolve the path (", ec.message(), ")");
  const fs::path inside = file.lexically_relative(folder);
  GB_CHECK(!inside.empty() && *inside.begin() != "..", file_who, "resolves to '", file.string(),
           "', outside the model's folder '", folder.string(), "' (through a symbolic link)");
  uint64_t size = 0;
  const Fd f = open_regular(file.string(), file_who, "a file of tensor data", size);
  const uint64_t offset = offset_text ? external_integer(*offset_text, file_who, "offset") : 0;
  GB_CHECK(offset <= size, file_who, "offset ", offset, " is beyond the end of the file (", size, " bytes)");
  if (length_text) {
    const uint64_t length = external_integer(*length_text, file_who, "length");
    GB_CHECK(length == bytes, file_who, "length ", length, " does not match the tensor's ", bytes, " bytes");
  }
  GB_CHECK(bytes <= size - offset, file_who, "holds ", size - offset, " bytes from offset ", offset,
           ", the tensor needs ", bytes, " (truncated file?)");
  std::string out(static_cast<size_t>(bytes), '\0');
  read_exactly(f, offset, bytes, out.data(), file_who);
  return out;
}

// TensorProto -> host Tensor (float/double -> float32; int32/int64/bool/uint8/int8 -> int64). Data inline
// (raw_data or the typed fields) or in an external file (ext).
Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& what, const ExternalData& ext) {
  const Shape shape = dims_of(t, what);
  const int64_t n = numel(shape);
  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  std::string external_bytes;
  // n <= kMaxElements and elements of at most 8 bytes: the byte count cannot overflow.
  if (external && stored_element_size(t.data_type()) > 0)
    external_bytes = read_external(t, what, ext, static_cast<uint64_t>(n) * stored_element_size(t.data_type()));
  const bool raw = external || t.has_raw_data();
  const std::string& bytes = external ? external_bytes : t.raw_data();
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

void read_attribute(const onnx::AttributeProto& a, Attributes& out, const std::string& where, const ExternalData& ext) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: out.set(a.name(), static_cast<int64_t>(a.i())); break;
    case onnx::AttributeProto::FLOAT: out.set(a.name(), a.f()); break;
    case onnx::AttributeProto::STRING: out.set(a.name(), a.s()); break;
    case onnx::AttributeProto::INTS: out.set(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end())); break;
    case onnx::AttributeProto::FLOATS:
      out.set(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
      break;
    case onnx::AttributeProto::TENSOR:
      out.set(a.name(), tensor_from_proto(a.t(), where + ", attribute '" + a.name() + "'", ext));
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

// A runtime graph input must be a float32 tensor: Session::run feeds float32 only, so any other element type
// (uint8 images, int32, float16, double, bool) would be read as floats it is not; refused here. An input without a
// type (ONNX requires one, some tools leave it out) is taken as float32. Inputs that also have an initializer are
// constants (their initializer's type) and are not checked here.
void check_input_type(const onnx::ValueInfoProto& in, const std::string& source) {
  if (!in.has_type()) return;
  const onnx::TypeProto& type = in.type();
  GB_CHECK(type.value_case() == onnx::TypeProto::kTensorType || type.value_case() == onnx::TypeProto::VALUE_NOT_SET,
           source, ": graph input '", in.name(), "' is not a tensor (a sequence, map, optional or sparse tensor); ",
           "only float32 tensor inputs are supported");
  if (!type.has_tensor_type()) return;
  const int elem = type.tensor_type().elem_type();
  if (elem == onnx::TensorProto::FLOAT || elem == onnx::TensorProto::UNDEFINED) return;
  std::string name = onnx::TensorProto::DataType_IsValid(elem)
                         ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(elem))
                         : "unknown (" + std::to_string(elem) + ")";
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
  fail(source, ": graph input '", in.name(), "' has element type ", name,
       "; only float32 inputs are supported (re-export the model with a float32 input and the conversion inside)");
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

Graph build_graph(const onnx::ModelProto& m, const std::string& source, const ImportOptions& options,
                  const ExternalData& ext) {
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
    g.values[id].constant = tensor_from_proto(init, "initializer '" + init.name() + "'", ext);
    g.values[id].dtype = g.values[id].constant.dtype();
    g.values[id].shape = g.values[id].constant.shape();
    g.values[id].has_shape = true;
  }
  for (const auto& in : gp.input()) {
    const int id = add_value(in.name());
    if (g.values[id].is_constant()) continue;  // old exporters list initializers as inputs too
    GB_CHECK(std::find(g.inputs.begin(), g.inputs.end(), id) == g.inputs.end(), source, ": graph input '",
             in.name(), "' is listed twice");
    check_input_type(in, source);
    read_value_info(in, g.values[id]);
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
    for (const auto& a : np.attribute()) read_attribute(a, n.attrs, n.describe(), ext);
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

Graph parse_model(const void* data, size_t size, const std::string& source, const ImportOptions& options,
                  const ExternalData& ext) {
  GB_CHECK(size < kMaxModelBytes, source, ": file over 2 GiB (protobuf's limit); save the weights as external data");
  onnx::ModelProto m;
  GB_CHECK(m.ParseFromArray(data, static_cast<int>(size)), source,
           ": not a valid ONNX model (malformed or truncated protobuf)");
  return build_graph(m, source, options, ext);
}

}  // namespace

Graph import_onnx_bytes(const void* data, size_t size, const std::string& source, const ImportOptions& options) {
  return parse_model(data, size, source, options, ExternalData{options.external_data_dir});
}

Graph import_onnx_file(const std::string& path, const ImportOptions& options) {
  uint64_t size = 0;
  const std::string who = path + ": ";
  const Fd f = open_regular(path, who, "an ONNX model file", size);
  GB_CHECK(size > 0, path, ": the file is empty");
  GB_CHECK(size < kMaxModelBytes, path, ": file over 2 GiB (protobuf's limit); save the weights as external data");
  std::string bytes(static_cast<size_t>(size), '\0');
  read_exactly(f, 0, size, bytes.data(), who);
  // External data is read from the model file's folder (ONNX: "relative to the directory where the ONNX protobuf
  // model was stored").
  const fs::path folder = fs::path(path).parent_path();
  return parse_model(bytes.data(), bytes.size(), path, options, ExternalData{folder.empty() ? "." : folder.string()});
}

}  // namespace glassbox
