// A plan: the graph specialised to concrete input shapes and a set of kept values. Shape inference gives every
// value its shape; shape computations (Shape/Gather/Unsqueeze/Concat...) and constant subgraphs are folded on the
// host; the remaining nodes become steps that call the backend; intermediates get arena offsets.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "kernels/kernels.h"

namespace glassbox {

using StepFn = std::function<void(kernels::Backend&, const std::vector<kernels::ConstView>& in,
                                  const std::vector<kernels::View>& out)>;
// The backward of a step: gradients of its inputs (dx, one view per input; an empty view: not wanted) from the
// gradient dy of its output, after any fused activation has been undone. `in` holds the forward inputs (those
// listed in Step::backward_inputs have data; the others carry their shape only) and y the forward output.
using BackwardFn = std::function<void(kernels::Backend&, const std::vector<kernels::ConstView>& in,
                                      kernels::ConstView y, kernels::ConstView dy,
                                      const std::vector<kernels::View>& dx)>;

struct Step {
  int node = -1;             // graph node index (for errors and profiles)
  std::string label;         // e.g. "Conv+Relu"
  std::vector<int> inputs;   // value ids read (-1: omitted optional input)
  std::vector<int> outputs;  // value ids written
  StepFn run;                // empty for an alias step (output = input's memory, another shape)
  bool alias() const { return !run; }
  // Backward (engine/backward.h). Alias and copy steps pass the gradient through; others need `backward`.
  BackwardFn backward;
  std::vector<int> backward_inputs;  // input positions whose forward values the backward reads
  bool backward_output = false;      // the backward reads the forward output (derivatives taken from y)
  bool identity = false;             // a copy step: output = input
  std::shared_ptr<const kernels::ActivationAttrs> epilogue;  // a fused activation to undo first (from y)
  // A standalone pointwise activation: its attributes, so a backward rule (deconvnet, guided) can replace its
  // gradient (kernels::BackwardRule).
  std::shared_ptr<const kernels::ActivationAttrs> activation;
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
  size_t folded_bytes = 0;       // host memory of the constants folded at plan time (not the model's own)
};

struct PlanOptions {
  bool fuse_activations = true;  // Conv followed by its only consumer Relu/Clip/... runs as one kernel
  // For plans that will run backward: fuse only activations whose derivative the output determines (not
  // HardSwish, not LeakyRelu with a negative slope), so that a fused step's backward needs only its output.
  bool fuse_for_backward = false;
  // The most bytes the constants folded at plan time may take together (0: no limit), checked as each is made.
  int64_t memory_limit_bytes = 0;
};

// The default memory limit of a session (SessionOptions::memory_limit_bytes) and of the plans made at load:
// 3/4 of the physical memory (sysconf), 16 GiB where that is unknown.
int64_t default_memory_limit_bytes();

// What running a plan needs, estimated from the plan before anything is allocated: the arena, the kept values
// (outputs, captures, values kept for backward: fresh tensors each run), the constants folded at plan time and, with
// device_copies (a device other than the CPU), the device copies of the inputs and of the constants the steps read.
// Weights on the CPU are the model's own memory, and kernels' prepared forms and scratch are not known here.
struct MemoryEstimate {
  uint64_t bytes = 0;
  int largest = -1;            // the largest value in the arena or kept (-1: none)
  uint64_t largest_bytes = 0;
};
MemoryEstimate estimate_memory(const Plan& p, bool device_copies);

// Fails when e.bytes is over `limit` (0: no limit), naming the largest value and `setting` (the option to change):
// "the plan needs 48.0 GiB (largest value 'expanded' [1, 3, 65536, 65536], 48.0 GiB) but the memory limit is
// 18.0 GiB (SessionOptions::memory_limit_bytes)".
void check_memory_limit(const Graph& g, const Plan& p, const MemoryEstimate& e, int64_t limit, const char* setting);

// "48.0 GiB", "12.5 MiB", "3.0 KiB", "100 bytes".
std::string format_bytes(uint64_t bytes);

// input_shapes: one per graph input (in graph order). keep: value ids to keep readable after the pass.
Plan make_plan(const Graph& g, const std::vector<Shape>& input_shapes, const std::vector<int>& keep,
               const PlanOptions& options = {});

// "Forward from a value": the steps of `full` downstream of value `source` (a layer's activation), which becomes
// an input. `outer` receives the other values those steps read that were computed before the source and are not
// constants (a skip connection around the layer); the caller binds them too, from a run that kept them. Graph
// outputs that depend on the source are kept; intermediates get their own arena layout.
Plan suffix_plan(const Graph& g, const Plan& full, int source, std::vector<int>& outer);

// Arena offsets for a plan's Storage::arena values (make_plan and suffix_plan end with it).
void plan_arena(Plan& p);

}  // namespace glassbox
