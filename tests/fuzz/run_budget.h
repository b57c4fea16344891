// Running a fuzzed model, within a budget: an input of its declared shape (symbolic dimensions = 1), run only when
// the inputs, the plan's memory and a rough operation count are small, so that each fuzz iteration stays well under
// a second under ASan. Shared by the libFuzzer target and test_fuzz_smoke. Header-only: the fuzz build does not
// build tests/.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/model.h"

namespace glassbox::fuzz {

constexpr int64_t kMaxInputElements = int64_t(1) << 16;
constexpr size_t kMaxArenaBytes = size_t(8) << 20;
constexpr double kMaxOperations = 5e7;  // multiply-adds (or element visits), summed over the steps

// Multiply-adds (or element visits) of the plan's steps, roughly: reductions (Conv, Gemm, MatMul, pooling windows)
// count their length per output element, every step its input and output sizes, every MatMul batch a call.
inline double plan_operations(const Graph& g, const Plan& plan) {
  double total = 0;
  for (const Step& s : plan.steps) {
    if (s.node < 0 || s.outputs.empty()) continue;
    const Node& n = g.nodes[s.node];
    const double out = static_cast<double>(numel(plan.shapes[s.outputs[0]]));
    double per_output = 1;
    auto in_shape = [&](size_t i) -> const Shape& {
      static const Shape none;
      return i < s.inputs.size() && s.inputs[i] >= 0 ? plan.shapes[s.inputs[i]] : none;
    };
    if (n.op == "Conv" && in_shape(1).size() == 4) {
      const Shape& w = in_shape(1);
      per_output = static_cast<double>(w[1]) * static_cast<double>(w[2]) * static_cast<double>(w[3]);
    } else if ((n.op == "Gemm" || n.op == "MatMul") && !in_shape(0).empty()) {
      const Shape& a = in_shape(0);
      per_output = static_cast<double>(n.op == "Gemm" && n.attrs.i("transA", 0) ? a.front() : a.back());
      const Shape& y = plan.shapes[s.outputs[0]];
      if (y.size() > 2) total += 1e3 * static_cast<double>(numel(Shape(y.begin(), y.end() - 2)));  // calls
    } else if (n.op == "MaxPool" || n.op == "AveragePool") {
      for (int64_t k : n.attrs.ints("kernel_shape")) per_output *= static_cast<double>(k);
    }
    total += out * per_output;
    for (size_t i = 0; i < s.inputs.size(); ++i) total += static_cast<double>(numel(in_shape(i)));
  }
  return total;
}

// Runs `model` once on a deterministic input of its declared shape. Returns false (without running) when an input
// declares no shape or the run is over budget; glassbox::Error propagates.
inline bool run_declared_shape(const std::shared_ptr<const Model>& model) {
  const Graph& g = model->graph();
  std::vector<Shape> shapes;
  for (int id : g.inputs) {
    const Value& v = g.values[id];
    if (!v.has_shape) return false;
    Shape s = v.shape;
    int64_t total = 1;
    for (int64_t& d : s) {
      if (d < 0) d = 1;
      if (d > kMaxInputElements || total * d > kMaxInputElements) return false;
      total *= d;
    }
    shapes.push_back(s);
  }
  SessionOptions opt;
  opt.threads = 1;
  Session session(model, opt);
  const Plan& plan = session.plan_for(shapes);
  if (plan.arena_bytes > kMaxArenaBytes) return false;
  for (int v : plan.kept)
    if (numel(plan.shapes[v]) > int64_t(kMaxArenaBytes / 4)) return false;
  if (plan_operations(g, plan) > kMaxOperations) return false;
  std::vector<Tensor> inputs;
  for (const Shape& s : shapes) {
    Tensor t = Tensor::empty(s);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>((i * 37) % 17) * 0.125f - 1.f;
    inputs.push_back(t);
  }
  session.run(inputs);
  return true;
}

}  // namespace glassbox::fuzz
