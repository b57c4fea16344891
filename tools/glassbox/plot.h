// Line plots as pictures, for curves over [0, 1] x [0, 1] (the deletion and insertion curves of glassbox
// evaluate): a white canvas, a light grid every quarter, the axes, and each series as a polyline of evenly spaced
// points, drawn in order (later series on top). Pure functions on host data.
#pragma once
#include <array>
#include <vector>

#include "tools/glassbox/image.h"

namespace glassbox::tools {

struct Series {
  std::vector<float> y;            // y[i] at x = i / (size - 1), clamped to [0, 1]; NaN points break the line
  std::array<unsigned char, 3> rgb{0, 0, 0};
  float opacity = 1.f;             // blended over what is below
  int thickness = 1;               // pixels (a square pen)
};

struct PlotLayout {
  int width = 320, height = 240;
  int margin = 12;                 // pixels around the plot area
  // The plot area's pixel of (x, y) in [0, 1]^2: x to the right, y up.
  int px(double x) const;
  int py(double y) const;
};

Image line_plot(const std::vector<Series>& series, const PlotLayout& layout = {});

}  // namespace glassbox::tools
