// A plan: the graph specialised to concrete input shapes and a set of kept values. Shape inference gives every
// value its shape; shape computations (Shape/Gather/Unsqueeze/Concat...) and constant subgraphs are folded on the
// host; the remaining nodes become steps that call the backend; intermediates get arena offsets.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "kernels/kernels.h"

namespace glassbox {

using StepFn = std::function<void(kernels::Backend&, const std::vector<kernels::ConstView>& in,
                                  const std::vector<kernels::View>& out)>;

struct Step {
  int node = -1;             // graph node index (for errors and profiles)
  std::string label;         // e.g. "Conv+Relu"
  std::vector<int> inputs;   // value ids read (-1: omitted optional input)
  std::vector<int> outputs;  // value ids written
  StepFn run;                // empty for an alias step (output = input's memory, another shape)
  bool alias() const { return !run; }
};

enum class Storage { none, constant, input, arena, kept, alias };

struct Plan {
  std::vector<Shape> shapes;     // per value id
  std::vector<Tensor> known;     // per value id: host tensor when known at plan time (constants, folded)
  std::vector<Storage> storage;  // per value id
  std::vector<int> alias_of;     // per value id: the value whose memory an alias step reuses
  std::vector<size_t> offset;    // per value id: arena offset in bytes (Storage::arena)
  size_t arena_bytes = 0;
  std::vector<Step> steps;
  std::vector<int> kept;         // graph outputs and captures: fresh tensors each run
};

struct PlanOptions {
  bool fuse_activations = true;  // Conv followed by its only consumer Relu/Clip/... runs as one kernel
};

// input_shapes: one per graph input (in graph order). keep: value ids to keep readable after the pass.
Plan make_plan(const Graph& g, const std::vector<Shape>& input_shapes, const std::vector<int>& keep,
               const PlanOptions& options = {});

}  // namespace glassbox
