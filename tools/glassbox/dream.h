// glassbox dream: activation maximization (explain/ascent.h) as pictures.
#pragma once
#include "tools/glassbox/args.h"

namespace glassbox::tools {

// glassbox dream MODEL (--layer L --channel C [--neuron] | --layer L --energy | --class K [--probability])
//   [--steps N] [--size S] [--param pixel|fourier] [--lr X] [--seed N] [--out DIR] [--batch-classes K1,K2,...]
//   [--l2 X] [--tv X] [--blur-every N] [--no-transforms] [--labels FILE] (+ the preprocessing and session options)
// Writes DIR/dream_<what>.png per objective (one batch row each), prints the objective every 32 steps and the final
// class probabilities. Flags for parse_args: probability, neuron, energy, no-transforms.
int cmd_dream(const Args& a);

}  // namespace glassbox::tools
