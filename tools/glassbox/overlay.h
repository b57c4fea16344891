// Pictures of explanation maps: colormaps, overlays on the image, and raw maps as .npy files.
#pragma once
#include <string>
#include <vector>

#include "tools/glassbox/image.h"

namespace glassbox::tools {

// jet (the classic piecewise-linear blue-cyan-yellow-red), turbo and viridis (matplotlib's, tabulated by
// tools/python/make_colormaps.py). v in [0, 1] -> 8-bit RGB.
void colormap(const std::string& name, float v, unsigned char rgb[3]);
void check_colormap(const std::string& name);  // throws, listing the names

// The map (height x width, values in [0, 1]) in colour over the image of the same size: alpha * colour +
// (1 - alpha) * image.
Image overlay(const Image& image, const float* map, const std::string& cmap, float alpha = 0.5f);

// A float32 array as NumPy's .npy (format 1.0, little-endian, C order).
void save_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace glassbox::tools
