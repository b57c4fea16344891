// The forward executor: runs a plan's steps in order on one backend.
#pragma once
#include <map>
#include <vector>

#include "engine/plan.h"

namespace glassbox {

// Binds the graph inputs (in graph order) and the arena, runs every step, and returns the kept values
// (graph outputs and captures) by value id, each in its own fresh tensor. `arena` is reused across calls and
// grown when the plan needs more.
// With step_ms, the wall time of each step is written there (one entry per plan step; 0 for aliases).
std::map<int, Tensor> execute(const Graph& g, const Plan& plan, kernels::Backend& backend,
                              const std::vector<Tensor>& inputs, Tensor& arena, std::vector<double>* step_ms = nullptr);

}  // namespace glassbox
