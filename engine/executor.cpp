#include "engine/executor.h"

#include <chrono>

#include "engine/error.h"

namespace glassbox {

Tensor device_constant(RunMemory& memory, const Tensor& host, Device device) {
  if (device.is_cpu() || host.numel() == 0) return host;
  auto it = memory.constants.find(host.raw());
  if (it != memory.constants.end() && it->second.numel() == host.numel()) return it->second.reshape(host.shape());
  Tensor d = host.to(device);
  memory.constant_bytes += d.bytes();
  memory.constants[host.raw()] = d;
  return d;
}

std::map<int, Tensor> execute(const Graph& g, const Plan& plan, kernels::Backend& backend,
                              const std::vector<Tensor>& inputs, RunMemory& memory, std::vector<double>* step_ms) {
  std::vector<std::pair<int, Tensor>> bindings;
  for (size_t i = 0; i < g.inputs.size(); ++i) bindings.emplace_back(g.inputs[i], inputs[i]);
  return execute_bound(g, plan, backend, bindings, memory, step_ms);
}

std::map<int, Tensor> execute_bound(const Graph& g, const Plan& plan, kernels::Backend& backend,
                                    const std::vector<std::pair<int, Tensor>>& bindings, RunMemory& memory,
                                    std::vector<double>* step_ms) {
  const Device dev = backend.device();
  Tensor& arena = memory.arena;
  if (arena.bytes() < plan.arena_bytes || arena.device() != dev) {
    backend.synchronize();  // queued work may still use the old arena
    arena = Tensor();
    arena = Tensor::empty({static_cast<int64_t>((plan.arena_bytes + 3) / 4)}, DType::f32, dev);
  }

  std::vector<Tensor> bound(g.values.size());
  for (const auto& [v, t] : bindings) {
    GB_CHECK(plan.storage[v] == Storage::input && t.shape() == plan.shapes[v] && t.device() == dev, "internal: '",
             g.values[v].name, "' bound as ", shape_str(t.shape()), " on ", t.device().str(), ", the plan wants ",
             shape_str(plan.shapes[v]), " on ", dev.str());
    bound[v] = t;
  }
  for (size_t v = 0; v < g.values.size(); ++v)
    GB_CHECK(plan.storage[v] != Storage::input || bound[v].defined(), "internal: input '", g.values[v].name,
             "' is not bound");
  auto tensor_of = [&](int v) -> Tensor& {
    Tensor& t = bound[v];
    if (t.defined() && (t.raw() || t.numel() == 0)) return t;
    switch (plan.storage[v]) {
      case Storage::constant: t = device_constant(memory, plan.known[v], dev); break;
      case Storage::arena:
        t = Tensor::wrap(static_cast<char*>(arena.raw()) + plan.offset[v], plan.shapes[v], DType::f32, dev);
        break;
      case Storage::kept: t = Tensor::empty(plan.shapes[v], DType::f32, dev, memory.results); break;
      default: fail("internal: value '", g.values[v].name, "' has no storage");
    }
    return t;
  };

  std::vector<kernels::ConstView> in;
  std::vector<kernels::View> out;
  if (step_ms) {
    step_ms->assign(plan.steps.size(), 0.0);
    backend.synchronize();
  }
  for (size_t si = 0; si < plan.steps.size(); ++si) {
    const Step& s = plan.steps[si];
    if (s.alias()) {
      bound[s.outputs[0]] = tensor_of(s.inputs[0]).reshape(plan.shapes[s.outputs[0]]);
      continue;
    }
    in.clear();
    out.clear();
    for (int v : s.inputs) {
      // Integer inputs (pads, axes, shapes) were consumed at plan time; kernels see float32 data only.
      const Tensor* t = v < 0 ? nullptr : &tensor_of(v);
      in.push_back(t && t->dtype() == DType::f32 ? kernels::view_of(*t) : kernels::ConstView{});
    }
    for (int v : s.outputs) out.push_back(kernels::view_of(tensor_of(v)));
    if (!step_ms) {
      s.run(backend, in, out);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    s.run(backend, in, out);
    backend.synchronize();
    (*step_ms)[si] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  std::map<int, Tensor> kept;
  for (int v : plan.kept) {
    Tensor& t = tensor_of(v);
    // Inputs and constants are returned as copies so a result never aliases caller or model memory.
    const bool owned = plan.storage[v] == Storage::kept;
    kept[v] = owned ? t : t.clone();
  }
  return kept;
}

}  // namespace glassbox
