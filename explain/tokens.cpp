#include "explain/tokens.h"

#include <algorithm>

namespace glassbox::explain {

TokenGrid token_grid(const Model& model, const Plan& plan, int64_t tokens) {
  const Graph& g = model.graph();
  auto folded = [&](int v) { return v >= 0 && v < int(plan.known.size()) && plan.known[v].defined(); };
  int embedding = -1;  // the patch embedding's output value
  std::string first_3d;
  for (const Node& n : g.nodes) {
    bool makes_3d = false;
    for (int v : n.outputs)
      if (!folded(v) && v < int(plan.shapes.size()) && plan.shapes[v].size() == 3) makes_3d = true;
    if (makes_3d) {
      first_3d = n.describe();
      break;
    }
    if (n.op == "Conv" && !n.outputs.empty() && !folded(n.outputs[0]) && plan.shapes[n.outputs[0]].size() == 4)
      embedding = n.outputs[0];
  }
  GB_CHECK(!first_3d.empty(), "the model has no token activations [N, T, D]: no node makes a 3-D value, so there is "
                              "no patch grid (a transformer is needed)");
  GB_CHECK(embedding >= 0, "the model has no patch embedding: no Conv with a 4-D output comes before ", first_3d,
           ", the first node that makes a 3-D value");
  const Shape& s = plan.shapes[embedding];
  TokenGrid grid;
  grid.height = s[2], grid.width = s[3];
  grid.prefix = tokens - grid.height * grid.width;
  // Fewer tokens than patches: a later stage subsampled the grid (LeViT's attention with stride 2 takes every
  // other row and column: 14 -> 7 -> 4), so the grid is ceil(h / f) x ceil(w / f) for the factor f that gives
  // exactly `tokens` positions, with no prefix.
  for (int64_t f = 2; grid.prefix < 0 && f <= std::max(s[2], s[3]); ++f)
    if (((s[2] + f - 1) / f) * ((s[3] + f - 1) / f) == tokens)
      grid.height = (s[2] + f - 1) / f, grid.width = (s[3] + f - 1) / f, grid.prefix = 0;
  GB_CHECK(grid.prefix >= 0, "the patch embedding '", g.values[embedding].name, "' ", shape_str(s), " makes ",
           grid.height * grid.width, " patches, more than the ", tokens, " tokens asked about, and no subsampling of ",
           "its grid gives ", tokens, " positions");
  return grid;
}

}  // namespace glassbox::explain
