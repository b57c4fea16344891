// The patch grid of a vision transformer's tokens: which of the T tokens of an [N, T, D] activation are image
// patches, and where each lies. Used by the attention explanations (explain/attention.h) and by the CAM family on
// token activations.
#pragma once
#include <cstdint>

#include "engine/model.h"

namespace glassbox::explain {

// T = prefix + height * width tokens: `prefix` leading tokens that are not patches (class, distillation, register
// tokens), then the patches in row-major order: patch (i, j) is token prefix + i * width + j.
struct TokenGrid {
  int64_t prefix = 0, height = 0, width = 0;
  int64_t tokens() const { return prefix + height * width; }
};

// The patch grid of a transformer's [N, T, D] tokens at a plan's input shapes. The rule, on the graph in
// topological order (values the plan folds on the host skipped): the patch embedding is the last Conv with a 4-D
// output [N, D, h, w] before the first node that makes a 3-D value (the flattened patches [N, D, h*w], or the
// tokens themselves); the grid is its spatial shape (h, w), and the prefix = T - h*w leading tokens (class,
// distillation) are not patches. With T < h*w (a stage that subsampled the grid, as LeViT's), the grid is
// ceil(h/f) x ceil(w/f) for the factor f that makes it T positions, with no prefix. Errors (naming the layer and the
// shapes) when the model has no such Conv or no grid fits T.
TokenGrid token_grid(const Model& model, const Plan& plan, int64_t tokens);

}  // namespace glassbox::explain
