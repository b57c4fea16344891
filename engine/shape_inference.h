// Per-operator planning rules (shape inference + the kernel call), used by make_plan. Internal to the engine.
#pragma once
#include <memory>
#include <optional>

#include "engine/error.h"
#include "engine/plan.h"

namespace glassbox {

struct NodeCtx {
  const Graph& g;
  const Node& n;
  const std::vector<Shape>& shapes;
  const std::vector<Tensor>& known;

  bool has(size_t i) const { return i < n.inputs.size() && n.inputs[i] >= 0; }
  const Shape& shape(size_t i) const;
  const Tensor* known_input(size_t i) const;  // nullptr unless input i is known at plan time
  std::vector<int64_t> ints_input(size_t i, const char* what) const;  // a known integer tensor
  float scalar_input(size_t i, const char* what, float def) const;   // a known scalar, or def if omitted
  template <class... P>
  [[noreturn]] void error(const P&... parts) const {
    fail(n.describe(), ": ", parts...);
  }
  void expect_inputs(size_t lo, size_t hi) const;
};

struct OpPlan {
  std::vector<Shape> shapes;  // one per output
  StepFn run;                 // the kernel call (empty for alias or folded results)
  bool alias = false;         // output 0 is input 0's memory with another shape
  std::vector<Tensor> folded; // host results computed at plan time (shape computations)
  std::string label;
  // Ops that accept a fused activation epilogue expose it here; the run function reads it when it runs.
  std::shared_ptr<kernels::ActivationAttrs> epilogue;
  // Pointwise activation ops describe themselves, so the planner can fuse them into the producer's epilogue.
  std::optional<kernels::ActivationAttrs> pointwise;
  // The backward (see Step in plan.h); empty for operators no gradient flows through.
  BackwardFn backward;
  std::vector<int> backward_inputs;
  bool backward_output = false;
  // Operators whose outputs are computed independently (Split): one step per output, each reading input 0, with
  // its run and backward; `run` stays empty.
  std::vector<std::pair<StepFn, BackwardFn>> per_output;
};

OpPlan plan_op(const NodeCtx& c);

// The ONNX operators glassbox runs, sorted by name: those plan_op has a rule for, and Constant (also declared in
// onnx_import.h, whose importer refuses any other).
const std::vector<std::string>& supported_operators();

// Whether an activation's derivative is a function of its output (all but HardSwish and LeakyRelu with a
// negative slope): such an activation can be fused into a step that will run backward.
bool derivative_from_output(const kernels::ActivationAttrs& a);

// Negative axes count from the back; checks the range and names the node.
int normalize_axis(const NodeCtx& c, int64_t axis, int rank);

}  // namespace glassbox
