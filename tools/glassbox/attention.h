// glassbox attention: attention explanations of vision transformers (explain/attention.h) as pictures.
#pragma once
#include "tools/glassbox/args.h"

namespace glassbox::tools {

// glassbox attention MODEL IMAGE... [--method raw|rollout|grad-rollout] [--head-fusion mean|max|min]
//   [--discard-ratio R] [--block B] [--class K | --top K] [--probability] [--out DIR] [--colormap NAME] [--batch N]
//   [--save-raw] [--device cpu|cuda] [--tensorboard DIR] [preprocessing options as for run]
int cmd_attention(const Args& a);

}  // namespace glassbox::tools
