// glassbox saliency: pixel-space explanations (explain/pixel.h) as pictures.
#pragma once
#include "tools/glassbox/args.h"

namespace glassbox::tools {

// glassbox saliency MODEL IMAGE... [--method NAME[,NAME...]|all] [--class K | --top K] [--probability] [--layer L]
//   [--samples N] [--noise-std S] [--seed N] [--out DIR] [--colormap NAME] [--batch N] [--tensorboard DIR]
//   [--project-channel C [--peak]]   (Deconvnet's projection of channel C of --layer instead of the methods)
int cmd_saliency(const Args& a);

}  // namespace glassbox::tools
