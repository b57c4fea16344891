// The forward executor: runs a plan's steps in order on one backend.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "engine/plan.h"

namespace glassbox {

// Device memory a session keeps between runs, so that the steady state allocates nothing: the arena (grown to
// the largest plan), device copies of constants (weights uploaded once), and a pool for result tensors.
struct RunMemory {
  Tensor arena;
  std::map<const void*, Tensor> constants;  // device copy by host data pointer (plans and the model own the host)
  std::shared_ptr<CachingAllocator> results;  // kept values (outputs, captures); null: the device allocator
  size_t constant_bytes = 0;
};

// A constant on the backend's device: the host tensor itself on the CPU, else its device copy in `memory`
// (uploaded at its first use, then reused by every run and plan of the session).
Tensor device_constant(RunMemory& memory, const Tensor& host, Device device);

// Binds the graph inputs (in graph order, on the backend's device) and the arena, runs every step, and returns
// the kept values (graph outputs and captures) by value id, each in its own tensor. On CUDA the work is only
// queued: the tensors are ready once the backend synchronizes (a copy to the host waits for them).
// With step_ms, the time of each step is written there (one entry per plan step; 0 for aliases); the backend
// is synchronized around every step for that.
std::map<int, Tensor> execute(const Graph& g, const Plan& plan, kernels::Backend& backend,
                              const std::vector<Tensor>& inputs, RunMemory& memory,
                              std::vector<double>* step_ms = nullptr);
// The same with each Storage::input value of the plan bound to a tensor (a suffix plan's source and outer values).
std::map<int, Tensor> execute_bound(const Graph& g, const Plan& plan, kernels::Backend& backend,
                                    const std::vector<std::pair<int, Tensor>>& bindings, RunMemory& memory,
                                    std::vector<double>* step_ms = nullptr);

}  // namespace glassbox
