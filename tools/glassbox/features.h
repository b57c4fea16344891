// glassbox features (feature maps of a layer as tile grids, the channel-mean "energy" over the image, batch
// statistics) and glassbox filters (a convolution's weights as pictures): features.cpp.
#pragma once
#include "tools/glassbox/args.h"

namespace glassbox::tools {

int cmd_features(const Args& a);
int cmd_filters(const Args& a);

}  // namespace glassbox::tools
