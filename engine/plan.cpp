#include "engine/plan.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "engine/memory_plan.h"
#include "engine/shape_inference.h"

namespace glassbox {

namespace {

bool is_pointwise_activation(const std::string& op) {
  return op == "Relu" || op == "Clip" || op == "LeakyRelu" || op == "Sigmoid" || op == "HardSigmoid" ||
         op == "HardSwish";
}

// Inputs that hold parameters (pads, axes, bounds) rather than data; they may be integer tensors.
bool is_parameter_input(const std::string& op, size_t i) {
  if (op == "Pad") return i == 1 || i == 2 || i == 3;
  if (op.rfind("Reduce", 0) == 0) return i == 1;  // ReduceMean, ReduceSum, ReduceL2, ...: the axes
  if (op == "Clip") return i == 1 || i == 2;
  if (op == "Slice") return i >= 1;
  if (op == "Gather") return i == 1;
  if (op == "Expand") return i == 1;
  if (op == "Pow") return i == 1;
  if (op == "Split") return i == 1;
  if (op == "Dropout") return i == 1 || i == 2;
  if (op == "Resize") return i >= 1 && i <= 3;  // roi, scales, sizes
  return false;
}

void check_input_shape(const Graph& g, int v, const Shape& given) {
  const Value& val = g.values[v];
  if (!val.has_shape) return;
  bool ok = given.size() == val.shape.size();
  for (size_t i = 0; ok && i < given.size(); ++i) ok = val.shape[i] < 0 || val.shape[i] == given[i];
  GB_CHECK(ok, "input '", val.name, "': expected shape ", shape_str(val.shape), " (? = any), got ", shape_str(given));
}

// Every value's shape: dimensions in [0, kMaxElements] and the product of the non-zero ones at most kMaxElements,
// so that no product of dimensions (element counts, strides, byte sizes) can overflow. Larger is a corrupt file.
constexpr int64_t kMaxElements = int64_t(1) << 34;
// Constant subgraphs are folded at plan time up to this many elements; larger ones run as ordinary steps.
constexpr int64_t kMaxFoldElements = int64_t(1) << 26;

bool shape_in_range(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0 || d > kMaxElements || (d && n > kMaxElements / d)) return false;
    if (d) n *= d;
  }
  return true;
}

// Runs a step on host tensors at plan time: constant subgraphs are folded through the CPU kernels.
std::vector<Tensor> fold_on_host(const NodeCtx& c, const OpPlan& op, kernels::Backend& host) {
  std::vector<kernels::ConstView> in;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    const Tensor* t = c.known_input(i);
    in.push_back(t && t->dtype() == DType::f32 ? kernels::view_of(*t) : kernels::ConstView{});
  }
  std::vector<Tensor> outs;
  std::vector<kernels::View> out;
  for (const Shape& s : op.shapes) {
    outs.push_back(Tensor::empty(s));
    out.push_back(kernels::view_of(outs.back()));
  }
  op.run(host, in, out);
  return outs;
}

}  // namespace

Plan make_plan(const Graph& g, const std::vector<Shape>& input_shapes, const std::vector<int>& keep,
               const PlanOptions& options) {
  const size_t V = g.values.size();
  Plan p;
  p.shapes.assign(V, {});
  p.known.assign(V, Tensor());
  p.storage.assign(V, Storage::none);
  p.alias_of.assign(V, -1);
  p.offset.assign(V, 0);

  for (size_t v = 0; v < V; ++v)
    if (g.values[v].is_constant()) {
      p.known[v] = g.values[v].constant;
      p.shapes[v] = g.values[v].constant.shape();
      p.storage[v] = Storage::constant;
    }
  GB_CHECK(input_shapes.size() == g.inputs.size(), "the model has ", g.inputs.size(), " inputs, ",
           input_shapes.size(), " shapes given");
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    for (int64_t d : input_shapes[i])
      GB_CHECK(d >= 0, "input '", g.values[g.inputs[i]].name, "': shape ", shape_str(input_shapes[i]), " is not concrete");
    GB_CHECK(shape_in_range(input_shapes[i]), "input '", g.values[g.inputs[i]].name, "': shape ",
             shape_str(input_shapes[i]), " is too large");
    check_input_shape(g, g.inputs[i], input_shapes[i]);
    p.shapes[g.inputs[i]] = input_shapes[i];
    p.storage[g.inputs[i]] = Storage::input;
  }

  std::set<int> kept(g.outputs.begin(), g.outputs.end());
  kept.insert(keep.begin(), keep.end());
  const auto consumers = g.consumers();
  std::vector<bool> skip(g.nodes.size(), false);
  std::unique_ptr<kernels::Backend> host;  // for constant folding, made on first use
  // Folded constants stay in the plan: their bytes add up, bounded by the memory limit as each is made.
  auto add_folded = [&](const Node& n, int v, const Tensor& t) {
    p.known[v] = t;
    p.storage[v] = Storage::constant;
    p.folded_bytes += t.bytes();
    GB_CHECK(options.memory_limit_bytes <= 0 || p.folded_bytes <= static_cast<uint64_t>(options.memory_limit_bytes),
             n.describe(), ": the constants folded at load time take ", format_bytes(p.folded_bytes), " (this one, '",
             g.values[v].name, "' ", shape_str(t.shape()), ", ", format_bytes(t.bytes()), ") but the memory limit is ",
             format_bytes(static_cast<uint64_t>(options.memory_limit_bytes)));
  };

  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (skip[ni]) continue;
    const Node& n = g.nodes[ni];
    const NodeCtx c{g, n, p.shapes, p.known};
    OpPlan op = plan_op(c);
    GB_CHECK(!op.shapes.empty(), n.describe(), ": no output shape");
    bool empty = true;
    for (const Shape& s : op.shapes) {
      GB_CHECK(shape_in_range(s), n.describe(), ": output shape ", shape_str(s), " is too large");
      empty = empty && numel(s) == 0;
    }
    if (empty && op.run) op.run = [](kernels::Backend&, const std::vector<kernels::ConstView>&,
                                     const std::vector<kernels::View>&) {};  // empty outputs: nothing to compute
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int o = n.outputs[k];
      if (o < 0) continue;
      if (k >= op.shapes.size()) {
        GB_CHECK(consumers[o].empty() && !kept.count(o), n.describe(), ": output ", k, " ('", g.values[o].name,
                 "') is not supported (inference produces only the first output)");
        continue;
      }
      p.shapes[o] = op.shapes[k];
    }
    const int out = n.outputs[0];
    bool all_known = true;
    for (size_t i = 0; i < n.inputs.size(); ++i) all_known = all_known && (!c.has(i) || c.known_input(i));

    if (!op.folded.empty()) {  // shape computation done on the host
      for (size_t k = 0; k < op.folded.size(); ++k) add_folded(n, n.outputs[k], op.folded[k]);
      continue;
    }
    if (op.alias) {
      const int in = n.inputs[0];
      if (p.known[in].defined() && p.known[in].raw()) {
        p.known[out] = p.known[in].reshape(op.shapes[0]);
        p.storage[out] = Storage::constant;
        continue;
      }
      Step s;
      s.node = static_cast<int>(ni);
      s.label = n.op;
      s.inputs = {in};
      s.outputs = {out};
      if (kept.count(out)) {  // a kept value gets its own memory: copy instead of aliasing
        s.run = [](kernels::Backend& b, const std::vector<kernels::ConstView>& i, const std::vector<kernels::View>& o) {
          if (o[0].numel()) b.copy(i[0], o[0]);  // an empty tensor may have no memory at all
        };
        s.identity = true;
        p.storage[out] = Storage::kept;
      } else {
        p.storage[out] = Storage::alias;
        p.alias_of[out] = in;
      }
      p.steps.push_back(std::move(s));
      continue;
    }
    if (!op.per_output.empty()) {  // independent outputs (Split): one step per output that is used
      for (size_t k = 0; k < op.per_output.size() && k < n.outputs.size(); ++k) {
        const int o = n.outputs[k];
        if (o < 0 || (consumers[o].empty() && !kept.count(o))) continue;
        Step s;
        s.node = static_cast<int>(ni);
        s.label = n.op;
        s.inputs = {n.inputs[0]};
        s.outputs = {o};
        s.run = std::move(op.per_output[k].first);
        s.backward = std::move(op.per_output[k].second);
        p.storage[o] = kept.count(o) ? Storage::kept : Storage::arena;
        p.steps.push_back(std::move(s));
      }
      continue;
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      const bool integer = v >= 0 && p.known[v].defined() && p.known[v].raw() && p.known[v].dtype() != DType::f32;
      GB_CHECK(!integer || is_parameter_input(n.op, i), n.describe(), ": input ", i, " ('", g.values[v].name,
               "') is an integer tensor; run-time data must be float32");
    }
    bool small = true;
    for (const Shape& s : op.shapes) small = small && numel(s) <= kMaxFoldElements;
    if (all_known && small) {
      if (!host) host = kernels::make_cpu_backend(1);
      auto outs = fold_on_host(c, op, *host);
      for (size_t k = 0; k < outs.size() && k < n.outputs.size(); ++k) add_folded(n, n.outputs[k], outs[k]);
      continue;
    }

    Step s;
    s.node = static_cast<int>(ni);
    s.label = n.op;
    s.inputs = n.inputs;
    s.outputs = {out};
    // Fuse a following activation into the epilogue when nothing else reads the intermediate value.
    if (options.fuse_activations && op.epilogue && consumers[out].size() == 1 && !kept.count(out)) {
      const int next = consumers[out][0];
      const Node& a = g.nodes[next];
      if (is_pointwise_activation(a.op) && a.inputs[0] == out && a.outputs.size() == 1) {
        const OpPlan ap = plan_op(NodeCtx{g, a, p.shapes, p.known});
        if (ap.pointwise && (!options.fuse_for_backward || derivative_from_output(*ap.pointwise))) {
          *op.epilogue = *ap.pointwise;
          s.epilogue = op.epilogue;
          s.backward_output = true;
          p.shapes[a.outputs[0]] = ap.shapes[0];
          s.outputs = {a.outputs[0]};
          s.label += "+" + a.op;
          skip[next] = true;
        }
      }
    }
    for (int o : s.outputs) p.storage[o] = kept.count(o) ? Storage::kept : Storage::arena;
    if (op.pointwise && !s.epilogue && is_pointwise_activation(n.op))
      s.activation = std::make_shared<const kernels::ActivationAttrs>(*op.pointwise);
    s.run = std::move(op.run);
    s.backward = std::move(op.backward);
    s.backward_inputs = op.backward_inputs;
    s.backward_output = s.backward_output || op.backward_output;
    p.steps.push_back(std::move(s));
  }

  for (int k : kept)
    GB_CHECK(p.storage[k] != Storage::none, "value '", g.values[k].name, "' is not computed by this plan");
  p.kept.assign(kept.begin(), kept.end());
  plan_arena(p);
  return p;
}

Plan suffix_plan(const Graph& g, const Plan& full, int source, std::vector<int>& outer) {
  const size_t V = g.values.size();
  Plan p;
  p.shapes = full.shapes;
  p.known = full.known;
  p.storage.assign(V, Storage::none);
  p.alias_of.assign(V, -1);
  p.offset.assign(V, 0);
  for (size_t v = 0; v < V; ++v)
    if (full.storage[v] == Storage::constant) p.storage[v] = Storage::constant;
  GB_CHECK(full.storage[source] != Storage::constant, "value '", g.values[source].name,
           "' is a constant: nothing runs from it");
  std::vector<bool> down(V, false);
  down[source] = true;
  p.storage[source] = Storage::input;
  outer.clear();
  const std::set<int> outputs(g.outputs.begin(), g.outputs.end());
  for (const Step& s : full.steps) {
    bool reads = false;
    for (int v : s.inputs) reads = reads || (v >= 0 && down[v]);
    if (!reads) continue;
    for (int v : s.inputs)
      if (v >= 0 && !down[v] && p.storage[v] == Storage::none) {  // computed before the source: bound by the caller
        p.storage[v] = Storage::input;
        outer.push_back(v);
      }
    Step step = s;
    for (int o : step.outputs) {
      down[o] = true;
      p.storage[o] = outputs.count(o) ? Storage::kept : Storage::arena;
    }
    if (step.alias()) {
      const int o = step.outputs[0];
      if (p.storage[o] == Storage::arena) p.storage[o] = Storage::alias, p.alias_of[o] = step.inputs[0];
      else step.run = [](kernels::Backend& b, const std::vector<kernels::ConstView>& i,
                         const std::vector<kernels::View>& out) {
        if (out[0].numel()) b.copy(i[0], out[0]);
      };
    }
    p.steps.push_back(std::move(step));
  }
  for (int o : g.outputs)
    if (down[o]) p.kept.push_back(o);
  GB_CHECK(!g.outputs.empty() && down[g.outputs[0]], "the output '", g.values[g.outputs[0]].name,
           "' does not depend on '", g.values[source].name, "'");
  plan_arena(p);
  return p;
}

void plan_arena(Plan& p) {
  const size_t V = p.storage.size();
  // Memory: arena blocks per root value, alive from its writer through its last reader (aliases included).
  auto root = [&](int v) {
    while (p.storage[v] == Storage::alias) v = p.alias_of[v];
    return v;
  };
  std::vector<int> block_of(V, -1);
  std::vector<MemoryBlock> blocks;
  std::vector<int> block_value;
  for (size_t si = 0; si < p.steps.size(); ++si) {
    for (int i : p.steps[si].inputs) {
      if (i < 0) continue;
      const int r = root(i);
      if (block_of[r] >= 0) blocks[block_of[r]].last_step = static_cast<int>(si);
    }
    for (int o : p.steps[si].outputs)
      if (p.storage[o] == Storage::arena) {
        block_of[o] = static_cast<int>(blocks.size());
        blocks.push_back({static_cast<size_t>(numel(p.shapes[o])) * sizeof(float), static_cast<int>(si),
                          static_cast<int>(si), 0});
        block_value.push_back(o);
      }
  }
  p.arena_bytes = plan_memory(blocks);
  for (size_t b = 0; b < blocks.size(); ++b) p.offset[block_value[b]] = blocks[b].offset;
}


int64_t default_memory_limit_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return int64_t(16) << 30;
  return static_cast<int64_t>(pages / 4 * 3) * page;  // pages / 4 first: no overflow
}

MemoryEstimate estimate_memory(const Plan& p, bool device_copies) {
  MemoryEstimate e;
  e.bytes = p.arena_bytes + p.folded_bytes;
  auto value_bytes = [&](int v) { return static_cast<uint64_t>(numel(p.shapes[v])) * sizeof(float); };
  for (size_t v = 0; v < p.storage.size(); ++v) {
    const Storage s = p.storage[v];
    if (s != Storage::arena && s != Storage::kept) continue;
    const uint64_t b = value_bytes(static_cast<int>(v));
    if (s == Storage::kept) e.bytes += b;  // arena values are in arena_bytes
    if (b > e.largest_bytes || e.largest < 0) e.largest = static_cast<int>(v), e.largest_bytes = b;
  }
  for (int v : p.kept)  // kept inputs and constants are returned as copies
    if (p.storage[v] == Storage::input || p.storage[v] == Storage::constant) e.bytes += value_bytes(v);
  if (device_copies) {
    std::set<const void*> constants;  // each host buffer is copied once
    for (const Step& s : p.steps)
      for (int v : s.inputs)
        if (v >= 0 && p.storage[v] == Storage::constant && p.known[v].raw() && constants.insert(p.known[v].raw()).second)
          e.bytes += p.known[v].bytes();
    for (size_t v = 0; v < p.storage.size(); ++v)
      if (p.storage[v] == Storage::input) e.bytes += value_bytes(static_cast<int>(v));
  }
  return e;
}

void check_memory_limit(const Graph& g, const Plan& p, const MemoryEstimate& e, int64_t limit, const char* setting) {
  if (limit <= 0 || e.bytes <= static_cast<uint64_t>(limit)) return;
  std::string largest;
  if (e.largest >= 0)
    largest = " (largest value '" + g.values[e.largest].name + "' " + shape_str(p.shapes[e.largest]) + ", " +
              format_bytes(e.largest_bytes) + ")";
  fail("the plan needs ", format_bytes(e.bytes), largest, " but the memory limit is ",
       format_bytes(static_cast<uint64_t>(limit)), " (", setting, ")");
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace glassbox
