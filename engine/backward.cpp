#include "engine/backward.h"

#include <algorithm>

#include "engine/error.h"

namespace glassbox {

BackwardPlan make_backward_plan(const Graph& g, const Plan& plan, const std::vector<int>& seeds,
                                const std::vector<int>& stops) {
  const size_t V = g.values.size();
  BackwardPlan bp;
  bp.carries_gradient.assign(V, false);
  for (int v : stops) bp.carries_gradient[v] = true;
  for (const Step& s : plan.steps) {  // downstream of a stop: in forward order
    bool down = false;
    for (int v : s.inputs) down = down || (v >= 0 && bp.carries_gradient[v]);
    if (down)
      for (int o : s.outputs) bp.carries_gradient[o] = true;
  }
  std::vector<bool> reaches_seed(V, false);
  for (int v : seeds) reaches_seed[v] = true;
  for (int si = static_cast<int>(plan.steps.size()) - 1; si >= 0; --si) {  // upstream of a seed: backwards
    const Step& s = plan.steps[si];
    bool up = false;
    for (int o : s.outputs) up = up || reaches_seed[o];
    if (!up) continue;
    bool down = false;
    for (int v : s.inputs) down = down || (v >= 0 && bp.carries_gradient[v]);
    for (int v : s.inputs)
      if (v >= 0) reaches_seed[v] = true;
    if (!down) continue;
    GB_CHECK(s.alias() || s.identity || s.backward, g.nodes[s.node].describe(),
             ": no backward for this operator, and a gradient must flow through it");
    bp.steps.push_back(si);
    auto need = [&](int v) {
      if (v >= 0 && plan.storage[v] != Storage::constant && plan.storage[v] != Storage::input)
        bp.forward_values.push_back(v);
    };
    for (int i : s.backward_inputs)
      if (i < static_cast<int>(s.inputs.size())) need(s.inputs[i]);
    if (s.backward_output) need(s.outputs[0]);
  }
  std::sort(bp.forward_values.begin(), bp.forward_values.end());
  bp.forward_values.erase(std::unique(bp.forward_values.begin(), bp.forward_values.end()), bp.forward_values.end());
  return bp;
}

std::map<int, Tensor> execute_backward(const Graph& g, const Plan& plan, const BackwardPlan& bp,
                                       kernels::Backend& backend, RunMemory& memory,
                                       const std::map<int, Tensor>& forward, std::map<int, Tensor> seeds,
                                       const std::vector<int>& stops, kernels::BackwardRule rule) {
  using kernels::ConstView;
  using kernels::View;
  const Device dev = backend.device();
  std::map<int, Tensor>& grads = seeds;
  auto is_stop = [&](int v) { return std::find(stops.begin(), stops.end(), v) != stops.end(); };
  auto fresh = [&](const Shape& s) { return Tensor::empty(s, DType::f32, dev, memory.results); };

  // A forward value: kept, an input, a constant (its device copy), an alias of one of those, or its shape alone.
  auto value_view = [&](int v) -> ConstView {
    if (v < 0) return {};
    const Shape& shape = plan.shapes[v];
    for (int r = v; r >= 0; r = plan.storage[r] == Storage::alias ? plan.alias_of[r] : -1) {
      auto it = forward.find(r);
      if (it != forward.end() && it->second.dtype() == DType::f32)
        return {it->second.data<float>(), shape, dev};
      if (plan.storage[r] == Storage::constant && plan.known[r].dtype() == DType::f32)
        return {device_constant(memory, plan.known[r], dev).data<float>(), shape, dev};
    }
    return {nullptr, shape, dev};
  };
  auto accumulate = [&](int v, Tensor t) {
    auto it = grads.find(v);
    if (it == grads.end()) {
      grads.emplace(v, std::move(t));
      return;
    }
    backend.binary(kernels::BinaryOp::add, {}, kernels::view_of(it->second), kernels::view_of(t),
                   kernels::view_of(it->second));
  };

  for (int si : bp.steps) {
    const Step& s = plan.steps[si];
    const int out = s.outputs[0];
    auto git = grads.find(out);
    if (git == grads.end()) continue;  // no seed reached this output
    Tensor dy = git->second;
    if (!is_stop(out)) grads.erase(git);
    if (s.alias() || s.identity) {  // the gradient passes through, reshaped
      const int in = s.inputs[0];
      if (bp.carries_gradient[in]) accumulate(in, (is_stop(out) ? dy.clone() : dy).reshape(plan.shapes[in]));
      continue;
    }
    if (s.epilogue && s.epilogue->kind != kernels::Activation::none) {  // undo the fused activation, from y
      Tensor dz = fresh(dy.shape());
      backend.activation_backward(*s.epilogue, {}, value_view(out), kernels::view_of(dy), kernels::view_of(dz), rule);
      dy = dz;
    }
    std::vector<ConstView> in;
    std::vector<Tensor> dx(s.inputs.size());
    std::vector<View> dx_views;
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      const int v = s.inputs[i];
      in.push_back(value_view(v));
      const bool wanted = v >= 0 && bp.carries_gradient[v] && plan.storage[v] != Storage::constant;
      if (wanted) dx[i] = fresh(plan.shapes[v]);
      dx_views.push_back(wanted ? kernels::view_of(dx[i]) : View{nullptr, v >= 0 ? plan.shapes[v] : Shape{}, dev});
    }
    GB_CHECK(s.backward, g.nodes[s.node].describe(), ": no backward for this operator");
    if (rule != kernels::BackwardRule::gradient && s.activation && dx_views[0].data)  // a rectifier under a rule
      backend.activation_backward(*s.activation, in[0], value_view(out), kernels::view_of(dy), dx_views[0], rule);
    else
      s.backward(backend, in, value_view(out), kernels::view_of(dy), dx_views);
    for (size_t i = 0; i < s.inputs.size(); ++i)
      if (dx[i].raw()) accumulate(s.inputs[i], std::move(dx[i]));
  }
  std::map<int, Tensor> result;
  for (int v : stops) {
    auto it = grads.find(v);
    if (it != grads.end()) {
      result[v] = it->second;
    } else {  // no seed depends on this value: its gradient is zero
      Tensor z = Tensor::zeros(plan.shapes[v]);
      result[v] = dev.is_cpu() ? z : z.to(dev);
    }
  }
  return result;
}

}  // namespace glassbox
