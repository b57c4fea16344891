#include "engine/model.h"

#include <algorithm>
#include <set>

#include "engine/executor.h"

namespace glassbox {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      if (i > start) parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

// The scope prefix of `node_name` that ends with the component equal to `friendly`, or "" if none.
// "/layer4/layer4.1/relu/Relu" with "layer4" -> "/layer4"; "blocks.15.conv" with "blocks.15" -> "blocks.15".
std::string scope_of(const std::string& node_name, const std::string& friendly) {
  const auto parts = split(node_name, '/');
  std::string prefix = node_name.rfind('/', 0) == 0 ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    prefix += parts[i];
    if (parts[i] == friendly || parts[i].rfind(friendly + ".", 0) == 0 || parts[i].rfind(friendly + "_", 0) == 0)
      return prefix.substr(0, prefix.size() - parts[i].size()) + friendly;
    prefix += "/";
  }
  return "";
}

std::vector<Shape> concrete_input_shapes(const Graph& g, int64_t batch) {
  std::vector<Shape> shapes;
  for (int v : g.inputs) {
    const Value& val = g.values[v];
    GB_CHECK(val.has_shape, "input '", val.name, "' declares no shape; run it with a concrete batch instead");
    Shape s = val.shape;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] < 0) {
        GB_CHECK(i == 0, "input '", val.name, "' has a symbolic dimension ", i, " besides the batch; shape ",
                 shape_str(val.shape));
        s[i] = batch;
      }
    shapes.push_back(s);
  }
  return shapes;
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string& path, const ImportOptions& options) {
  std::shared_ptr<Model> m(new Model(import_onnx_file(path, options)));
  m->validate();
  return m;
}

std::shared_ptr<const Model> Model::from_bytes(const void* data, size_t size, const ImportOptions& options,
                                               const std::string& source) {
  std::shared_ptr<Model> m(new Model(import_onnx_bytes(data, size, source, options)));
  m->validate();
  return m;
}

// Shape inference for batch 1 where the inputs declare their shapes: shape mismatches surface at load time.
void Model::validate() const {
  for (int v : graph_.inputs) {
    const Value& val = graph_.values[v];
    if (!val.has_shape) return;
    for (size_t i = 1; i < val.shape.size(); ++i)
      if (val.shape[i] < 0) return;  // symbolic spatial size: checked at the first run
  }
  PlanOptions options;
  options.memory_limit_bytes = default_memory_limit_bytes();  // folding constants allocates at load already
  make_plan(graph_, concrete_input_shapes(graph_, 1), {}, options);
}

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> n;
  for (int v : graph_.inputs) n.push_back(graph_.values[v].name);
  return n;
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> n;
  for (int v : graph_.outputs) n.push_back(graph_.values[v].name);
  return n;
}

Shape Model::input_shape(size_t i) const {
  GB_CHECK(i < graph_.inputs.size(), "input ", i, " does not exist (", graph_.inputs.size(), " inputs)");
  return graph_.values[graph_.inputs[i]].shape;
}

std::string Model::metadata(const std::string& key, const std::string& def) const {
  auto it = graph_.metadata.find(key);
  return it == graph_.metadata.end() ? def : it->second;
}

std::vector<LayerInfo> Model::layers(int64_t batch) const {
  std::vector<int> all;
  for (const Node& n : graph_.nodes)
    if (n.outputs[0] >= 0) all.push_back(n.outputs[0]);
  // Keep every output so that none is fused away, and read the shapes.
  PlanOptions options;
  options.fuse_activations = false;
  options.memory_limit_bytes = default_memory_limit_bytes();
  const Plan plan = make_plan(graph_, concrete_input_shapes(graph_, batch), all, options);
  std::vector<LayerInfo> out;
  for (const Node& n : graph_.nodes) {
    const int v = n.outputs[0];
    out.push_back({graph_.values[v].name, n.name, n.op, plan.shapes[v]});
  }
  return out;
}

std::string Model::resolve(const std::string& name) const {
  GB_CHECK(!name.empty(), "empty layer name");
  const int v = graph_.find_value(name);
  if (v >= 0 && !graph_.values[v].is_constant()) {
    bool produced = std::find(graph_.inputs.begin(), graph_.inputs.end(), v) != graph_.inputs.end();
    for (const Node& n : graph_.nodes)
      produced = produced || std::find(n.outputs.begin(), n.outputs.end(), v) != n.outputs.end();
    if (produced) return name;
  }
  auto folded = graph_.folded.find(name);
  GB_CHECK(folded == graph_.folded.end(), "layer '", name, "' was folded into '", folded->second,
           "' at import (BatchNormalization folding); capture '", folded->second,
           "', or load with fold_batchnorm = false");
  for (const Node& n : graph_.nodes)
    if (n.name == name) return graph_.values[n.outputs[0]].name;
  // A friendly scope: the output of the last node inside it.
  std::vector<std::string> scopes;
  std::string last_output;
  for (const Node& n : graph_.nodes) {
    std::string scope = scope_of(n.name, name);
    if (scope.empty()) scope = scope_of(graph_.values[n.outputs[0]].name, name);
    if (scope.empty()) continue;
    if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) scopes.push_back(scope);
    last_output = graph_.values[n.outputs[0]].name;
  }
  if (scopes.size() == 1) return last_output;
  if (scopes.size() > 1) {
    std::string list;
    for (size_t i = 0; i < scopes.size() && i < 10; ++i) list += (i ? ", " : "") + scopes[i];
    fail("layer name '", name, "' is ambiguous: it matches ", scopes.size(), " scopes (", list,
         scopes.size() > 10 ? ", ..." : "", "); give a longer name");
  }
  // Unknown: the nearest value names and scope components.
  std::set<std::string> names;
  for (const Node& n : graph_.nodes) {
    names.insert(graph_.values[n.outputs[0]].name);
    for (const auto& part : split(n.name, '/')) names.insert(part);
  }
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& c : names) ranked.emplace_back(edit_distance(name, c), c);
  std::sort(ranked.begin(), ranked.end());
  std::string list;
  for (size_t i = 0; i < ranked.size() && i < 5; ++i) list += (i ? ", " : "") + ranked[i].second;
  fail("no layer named '", name, "'; nearest names: ", list, " (glassbox inspect lists them all)");
}

const Tensor& Result::output(size_t i) const {
  GB_CHECK(i < outputs.size(), "output ", i, " does not exist (", outputs.size(), " outputs)");
  return outputs[i];
}

const Tensor& Result::capture(const std::string& name) const {
  auto it = captures.find(name);
  GB_CHECK(it != captures.end(), "'", name, "' was not captured; call Session::capture first");
  return it->second;
}

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  GB_CHECK(model_, "Session needs a model");
  backend_ = kernels::make_backend(options_.device, options_.threads);
  for (const auto& [op, variant] : options_.kernel_variants) backend_->select_variant(op, variant);
  // Results, kept values and explanation buffers come from a pool that keeps freed blocks for the next run: on a
  // GPU no cudaMalloc in the steady state; on the CPU no fresh pages to fault in and zero on every run (large
  // allocations are mmap'ed). Under AddressSanitizer the CPU allocates plainly, so a use after free stays visible.
#if defined(__SANITIZE_ADDRESS__)
  const bool pool = !options_.device.is_cpu();
#else
  const bool pool = true;
#endif
  if (pool) memory_.results = std::make_shared<CachingAllocator>(options_.device);
}

Tensor Session::allocate(const Shape& shape) {
  return Tensor::empty(shape, DType::f32, options_.device, memory_.results);
}

Tensor Session::place(const Tensor& t) {
  if (t.device() == options_.device) return t;
  if (!t.device().is_cpu()) return t.to(options_.device);
  Tensor d = allocate(t.shape());  // host -> device through the backend's staging, from the session's pool
  backend_->upload(t.data<float>(), kernels::view_of(d));
  return d;
}

MemoryStats Session::memory() const {
  MemoryStats m;
  m.arena = memory_.arena.bytes();
  m.constants = memory_.constant_bytes;
  m.workspace = backend_->workspace_bytes();
  m.results = memory_.results ? memory_.results->peak_bytes() : 0;
  return m;
}

Session::~Session() = default;

void Session::capture(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, int>> resolved;
  for (const auto& n : names) resolved.emplace_back(n, model_->graph().find_value(model_->resolve(n)));
  captures_ = std::move(resolved);
  drop_plans();
}

const Plan& Session::plan_for(const std::vector<Shape>& input_shapes) {
  auto it = plans_.find(input_shapes);
  if (it != plans_.end()) return it->second;
  const Graph& g = model_->graph();
  std::vector<int> keep, wrt;
  for (const auto& c : captures_) keep.push_back(c.second);
  for (const auto& w : grad_wrt_) keep.push_back(w.second), wrt.push_back(w.second);
  keep.insert(keep.end(), grad_from_.begin(), grad_from_.end());
  const bool tracking = !grad_wrt_.empty();
  const PlanOptions options{options_.fuse_activations, tracking, options_.memory_limit_bytes};
  if (run_from_ >= 0) {  // keep what the steps after the layer read from before it
    std::vector<int> outer;
    suffix_plan(g, make_plan(g, input_shapes, keep, options), run_from_, outer);
    keep.insert(keep.end(), outer.begin(), outer.end());
    outer_[input_shapes] = outer;
  }
  Plan plan = make_plan(g, input_shapes, keep, options);
  if (tracking) {
    // Keep what the backward reads; keeping values can turn aliases into copies, so plan the backward again.
    BackwardPlan bp = make_backward_plan(g, plan, grad_from_, wrt);
    keep.insert(keep.end(), bp.forward_values.begin(), bp.forward_values.end());
    plan = make_plan(g, input_shapes, keep, options);
    bp = make_backward_plan(g, plan, grad_from_, wrt);
    for (int v : bp.forward_values)
      GB_CHECK(plan.storage[v] == Storage::kept, "internal: value '", g.values[v].name, "' is not kept for backward");
    // The backward's own memory: the gradients it returns, and the largest gradient on the way twice (a step's dy
    // and dx are alive together).
    uint64_t grads = 0, largest = 0;
    for (int v : wrt) grads += static_cast<uint64_t>(numel(plan.shapes[v])) * sizeof(float);
    for (size_t v = 0; v < bp.carries_gradient.size(); ++v)
      if (bp.carries_gradient[v])
        largest = std::max<uint64_t>(largest, static_cast<uint64_t>(numel(plan.shapes[v])) * sizeof(float));
    check_memory(plan, grads + 2 * largest);
    backward_plans_[input_shapes] = std::move(bp);
  } else {
    check_memory(plan);
  }
  return plans_.emplace(input_shapes, std::move(plan)).first->second;
}

void Session::track_gradients(const std::vector<std::string>& wrt, const std::vector<std::string>& from) {
  const Graph& g = model_->graph();
  std::vector<std::pair<std::string, int>> w;
  for (const auto& n : wrt) {
    const int in = g.find_value(n);
    const bool is_input = in >= 0 && std::find(g.inputs.begin(), g.inputs.end(), in) != g.inputs.end();
    w.emplace_back(n, is_input ? in : g.find_value(model_->resolve(n)));
  }
  std::vector<int> f;
  for (const auto& n : from) f.push_back(g.find_value(model_->resolve(n)));
  if (f.empty()) f.push_back(g.outputs.at(0));
  grad_wrt_ = std::move(w);
  grad_from_ = std::move(f);
  drop_plans();
}

void Session::drop_plans() {
  plans_.clear();
  backward_plans_.clear();
  suffix_plans_.clear();
  outer_.clear();
  last_forward_.clear();
  last_outer_.clear();
  last_run_shapes_.clear();
  // Device copies of folded constants are keyed by the host memory of the plans just dropped.
  backend_->synchronize();
  memory_.constants.clear();
  memory_.constant_bytes = 0;
}

void Session::enable_run_from(const std::string& layer) {
  const Graph& g = model_->graph();
  const int v = g.find_value(model_->resolve(layer));
  GB_CHECK(std::find(g.inputs.begin(), g.inputs.end(), v) == g.inputs.end(), "'", layer,
           "' is an input: run it with run()");
  run_from_ = v;
  drop_plans();
}

Result Session::run_from(const Tensor& values, int64_t first_image, int64_t images) {
  GB_CHECK(run_from_ >= 0, "run_from needs enable_run_from(layer) before the run");
  GB_CHECK(!last_run_shapes_.empty(), "run_from needs a run first");
  const Graph& g = model_->graph();
  const Shape& layer = plans_.at(last_run_shapes_).shapes[run_from_];
  const int64_t last_batch = layer.empty() ? 0 : layer[0];
  if (images < 0) images = last_batch - first_image;
  GB_CHECK(first_image >= 0 && images > 0 && first_image + images <= last_batch, "run_from: images ", first_image,
           " .. ", first_image + images - 1, " are not in the last run's batch of ", last_batch);
  const int64_t N = images;
  bool fits = N > 0 && values.rank() == int(layer.size()) && values.dim(0) % N == 0 && values.dim(0) > 0;
  for (size_t i = 1; fits && i < layer.size(); ++i) fits = values.dim(int(i)) == layer[i];
  GB_CHECK(fits && values.dtype() == DType::f32, "run_from '", g.values[run_from_].name, "': values must be float32 [",
           N, " * K", shape_str(Shape(layer.begin() + (layer.empty() ? 0 : 1), layer.end())).substr(1),
           ", got ", dtype_name(values.dtype()), " ", shape_str(values.shape()));
  const int64_t K = values.dim(0) / N;
  std::vector<Shape> shapes = last_run_shapes_;
  for (Shape& s : shapes) s[0] = N * K;
  auto it = suffix_plans_.find(shapes);
  if (it == suffix_plans_.end()) {
    const Plan full =
        make_plan(g, shapes, {}, PlanOptions{options_.fuse_activations, !grad_wrt_.empty(), options_.memory_limit_bytes});
    std::vector<int> outer;
    Plan suffix = suffix_plan(g, full, run_from_, outer);
    // Besides the plan: on the CPU, the other bound values when they are repeated K times (on a device the
    // estimate counts every bound value's copy).
    uint64_t bound = 0;
    if (K > 1 && options_.device.is_cpu())
      for (int v : outer) bound += static_cast<uint64_t>(numel(suffix.shapes[v])) * sizeof(float);
    check_memory(suffix, bound);
    it = suffix_plans_.emplace(shapes, std::move(suffix)).first;
  }
  const Plan& plan = it->second;
  std::vector<std::pair<int, Tensor>> bindings = {{run_from_, place(values)}};
  for (int v : outer_.at(last_run_shapes_)) {
    const Tensor& all = last_outer_.at(v);
    const Tensor t = images == last_batch ? all : all.slice(first_image, first_image + images);
    if (K == 1) {
      bindings.emplace_back(v, t);
      continue;
    }
    Shape want = t.shape();
    want[0] *= K;
    GB_CHECK(plan.shapes[v] == want, "run_from needs the batch as the first dimension of '", g.values[v].name,
             "' (", shape_str(t.shape()), " at batch ", N, ", ", shape_str(plan.shapes[v]), " at ", N * K, ")");
    Tensor r = allocate(want);
    backend_->repeat_rows(kernels::view_of(t), kernels::view_of(r));
    bindings.emplace_back(v, std::move(r));
  }
  const std::map<int, Tensor> kept = execute_bound(g, plan, *backend_, bindings, memory_);
  Result r;
  for (int v : g.outputs) {
    auto k = kept.find(v);
    if (k == kept.end()) continue;
    r.output_names.push_back(g.values[v].name);
    r.outputs.push_back(k->second);
  }
  return r;
}

std::map<std::string, Tensor> Session::backward(const std::vector<Tensor>& seeds, kernels::BackwardRule rule) {
  GB_CHECK(!grad_wrt_.empty(), "backward needs track_gradients() before the run");
  GB_CHECK(!last_forward_.empty(), "backward needs a run first (with the gradients tracked)");
  const Graph& g = model_->graph();
  GB_CHECK(seeds.size() == grad_from_.size(), "backward takes ", grad_from_.size(), " seeds (one per value they are ",
           "given at), ", seeds.size(), " given");
  // K seeds per image: the first seed's batch over the run's.
  const Shape& first = plans_.at(last_shapes_).shapes[grad_from_[0]];
  const int64_t K = !first.empty() && first[0] > 0 && seeds[0].rank() == int(first.size()) &&
                            seeds[0].dim(0) % first[0] == 0
                        ? std::max<int64_t>(1, seeds[0].dim(0) / first[0])
                        : 1;
  std::vector<Shape> shapes = last_shapes_;
  for (Shape& s : shapes) s[0] *= K;
  const Plan& plan = K == 1 ? plans_.at(last_shapes_) : plan_for(shapes);  // the backward's plan, at batch N * K
  const BackwardPlan& bp = backward_plans_.at(shapes);
  std::map<int, Tensor> seed_map;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const int v = grad_from_[i];
    GB_CHECK(seeds[i].dtype() == DType::f32 && seeds[i].shape() == plan.shapes[v], "the seed for '", g.values[v].name,
             "' must be float32 of shape ", shape_str(plans_.at(last_shapes_).shapes[v]),
             K > 1 ? " (or K times its batch)" : "", ", got ", dtype_name(seeds[i].dtype()), " ",
             shape_str(seeds[i].shape()));
    seed_map[v] = place(seeds[i]);
  }
  std::vector<int> stops;
  for (const auto& w : grad_wrt_) stops.push_back(w.second);
  std::map<int, Tensor> forward = K == 1 ? last_forward_ : repeat_forward(plan, bp, K);
  auto grads = execute_backward(g, plan, bp, *backend_, memory_, forward, std::move(seed_map), stops, rule);
  std::map<std::string, Tensor> out;
  for (const auto& w : grad_wrt_) out[w.first] = grads.at(w.second);
  return out;
}

// The forward values a backward at batch N * K reads, each row repeated K times (row n*K + k = row n), from the
// last run at batch N. Only the backward's steps read them, so only those values are repeated.
std::map<int, Tensor> Session::repeat_forward(const Plan& plan, const BackwardPlan& bp, int64_t K) {
  const Graph& g = model_->graph();
  std::vector<int> read = bp.forward_values;
  for (int si : bp.steps)  // graph inputs read by a backward step
    for (int i : plan.steps[si].backward_inputs)
      if (i < int(plan.steps[si].inputs.size()) && plan.steps[si].inputs[i] >= 0 &&
          plan.storage[plan.steps[si].inputs[i]] == Storage::input)
        read.push_back(plan.steps[si].inputs[i]);
  std::map<int, Tensor> repeated;
  for (int v : read) {
    auto it = last_forward_.find(v);
    GB_CHECK(it != last_forward_.end(), "internal: the backward reads '", g.values[v].name, "', not kept");
    const Tensor& t = it->second;
    Shape want = t.shape();
    want[0] *= K;
    GB_CHECK(!t.shape().empty() && plan.shapes[v] == want, "K targets per image need the batch as the first dimension ",
             "of every value the backward reads; '", g.values[v].name, "' is ", shape_str(t.shape()), " at batch ",
             last_shapes_[0][0], " and ", shape_str(plan.shapes[v]), " at batch ", last_shapes_[0][0] * K);
    Tensor r = allocate(want);
    backend_->repeat_rows(kernels::view_of(t), kernels::view_of(r));
    repeated.emplace(v, std::move(r));
  }
  return repeated;
}

void Session::check_memory(const Plan& plan, uint64_t extra) const {
  MemoryEstimate e = estimate_memory(plan, !options_.device.is_cpu());
  e.bytes += extra;
  check_memory_limit(model_->graph(), plan, e, options_.memory_limit_bytes, "SessionOptions::memory_limit_bytes");
}

Result Session::run(const Tensor& input) { return run(std::vector<Tensor>{input}); }

Result Session::run(const std::vector<Tensor>& inputs) {
  const Graph& g = model_->graph();
  GB_CHECK(inputs.size() == g.inputs.size(), "the model takes ", g.inputs.size(), " inputs, ", inputs.size(), " given");
  std::vector<Shape> shapes;
  std::vector<Tensor> placed;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    GB_CHECK(t.defined() && t.raw(), "input '", g.values[g.inputs[i]].name, "' is empty");
    GB_CHECK(t.dtype() == DType::f32, "input '", g.values[g.inputs[i]].name, "' must be float32, got ",
             dtype_name(t.dtype()));
    shapes.push_back(t.shape());
    placed.push_back(place(t));
  }
  const Plan& plan = plan_for(shapes);
  std::vector<double> step_ms;
  std::map<int, Tensor> kept = execute(g, plan, *backend_, placed, memory_, options_.profile ? &step_ms : nullptr);
  if (!grad_wrt_.empty()) {  // what backward() reads: the kept values and the inputs
    last_forward_ = kept;
    for (size_t i = 0; i < placed.size(); ++i) last_forward_[g.inputs[i]] = placed[i];
    last_shapes_ = shapes;
  }
  if (run_from_ >= 0) {  // what run_from() reads besides the layer
    last_outer_.clear();
    for (int v : outer_.at(shapes)) {
      auto k = kept.find(v);
      if (k != kept.end()) last_outer_[v] = k->second;
      for (size_t i = 0; i < placed.size(); ++i)
        if (g.inputs[i] == v) last_outer_[v] = placed[i];
    }
    last_run_shapes_ = shapes;
  }
  if (options_.profile) {
    profile_.clear();
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& s = plan.steps[i];
      profile_.push_back({s.label, g.nodes[s.node].name, plan.shapes[s.outputs[0]], step_ms[i]});
    }
  }
  Result r;
  for (int v : g.outputs) {
    r.output_names.push_back(g.values[v].name);
    r.outputs.push_back(kept.at(v));
  }
  for (const auto& [name, v] : captures_) r.captures[name] = kept.at(v);
  return r;
}

}  // namespace glassbox
