// The backward executor: gradients of chosen values (the "stops": a layer's activation, the input) from seed
// gradients at other values (the logits), with respect to activations and inputs only, never weights. Only the
// steps that lie between a stop and a seed run: Grad-CAM at the last convolution block touches only the head.
#pragma once
#include <map>
#include <vector>

#include "engine/executor.h"

namespace glassbox {

struct BackwardPlan {
  std::vector<int> steps;              // indices of the forward plan's steps whose backward runs, last step first
  std::vector<int> forward_values;     // values the backward reads from the forward pass (keep them)
  std::vector<bool> carries_gradient;  // per value: downstream of a stop, so its gradient is computed
};

// seeds, stops: value ids. Fails, naming the node, when a step on the way has no backward.
BackwardPlan make_backward_plan(const Graph& g, const Plan& plan, const std::vector<int>& seeds,
                                const std::vector<int>& stops);

// forward: the forward pass's tensors by value id (kept values and inputs); seeds: gradient tensors by value id
// (on the backend's device, each of its value's shape). Returns the gradient of every stop (zeros where no seed
// reaches it). Gradients of values read by several steps are summed.
// rule: how the rectifiers pass gradients back (kernels::BackwardRule: the gradient, Deconvnet, guided
// backpropagation); every other operator takes its gradient.
std::map<int, Tensor> execute_backward(const Graph& g, const Plan& plan, const BackwardPlan& bp,
                                       kernels::Backend& backend, RunMemory& memory,
                                       const std::map<int, Tensor>& forward, std::map<int, Tensor> seeds,
                                       const std::vector<int>& stops,
                                       kernels::BackwardRule rule = kernels::BackwardRule::gradient);

}  // namespace glassbox
