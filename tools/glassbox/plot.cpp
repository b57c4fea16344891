#include "tools/glassbox/plot.h"

#include <algorithm>
#include <cmath>

namespace glassbox::tools {

int PlotLayout::px(double x) const {
  return margin + int(std::lround(std::clamp(x, 0.0, 1.0) * (width - 1 - 2 * margin)));
}
int PlotLayout::py(double y) const {
  return height - 1 - margin - int(std::lround(std::clamp(y, 0.0, 1.0) * (height - 1 - 2 * margin)));
}

namespace {

void blend(Image& im, int x, int y, const std::array<unsigned char, 3>& rgb, float opacity) {
  if (x < 0 || y < 0 || x >= im.width || y >= im.height) return;
  uint8_t* p = &im.rgb[(size_t(y) * im.width + x) * 3];
  for (int c = 0; c < 3; ++c) p[c] = uint8_t(std::lround(p[c] + opacity * (float(rgb[c]) - p[c])));
}

// Marks a segment drawn with a square pen of `t` pixels in `mask` (DDA over the longer axis).
void segment(std::vector<uint8_t>& mask, int W, int H, int x0, int y0, int x1, int y1, int t) {
  const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  for (int i = 0; i <= n; ++i) {
    const int x = n ? int(std::lround(x0 + double(x1 - x0) * i / n)) : x0;
    const int y = n ? int(std::lround(y0 + double(y1 - y0) * i / n)) : y0;
    for (int dy = 0; dy < t; ++dy)
      for (int dx = 0; dx < t; ++dx) {
        const int qx = x + dx - t / 2, qy = y + dy - t / 2;
        if (qx >= 0 && qy >= 0 && qx < W && qy < H) mask[size_t(qy) * W + qx] = 1;
      }
  }
}

}  // namespace

Image line_plot(const std::vector<Series>& series, const PlotLayout& L) {
  Image im;
  im.width = L.width, im.height = L.height;
  im.rgb.assign(size_t(L.width) * L.height * 3, 255);
  const std::array<unsigned char, 3> grid{225, 225, 225}, axis{0, 0, 0};
  for (int q = 1; q <= 4; ++q) {  // grid lines at x, y = 0.25, 0.5, 0.75, 1
    for (int y = L.py(1); y <= L.py(0); ++y) blend(im, L.px(q / 4.0), y, grid, 1.f);
    for (int x = L.px(0); x <= L.px(1); ++x) blend(im, x, L.py(q / 4.0), grid, 1.f);
  }
  for (int y = L.py(1); y <= L.py(0); ++y) blend(im, L.px(0), y, axis, 1.f);
  for (int x = L.px(0); x <= L.px(1); ++x) blend(im, x, L.py(0), axis, 1.f);
  // Each series' pixels are marked first and blended once, so a faint line stays even where it folds back.
  std::vector<uint8_t> mask;
  for (const Series& s : series) {
    mask.assign(size_t(L.width) * L.height, 0);
    const size_t n = s.y.size();
    const int t = std::max(1, s.thickness);
    for (size_t i = 0; i + 1 < n; ++i)
      if (!std::isnan(s.y[i]) && !std::isnan(s.y[i + 1]))
        segment(mask, L.width, L.height, L.px(double(i) / (n - 1)), L.py(s.y[i]), L.px(double(i + 1) / (n - 1)),
                L.py(s.y[i + 1]), t);
    if (n == 1 && !std::isnan(s.y[0])) segment(mask, L.width, L.height, L.px(0), L.py(s.y[0]), L.px(1), L.py(s.y[0]), t);
    for (int y = 0; y < L.height; ++y)
      for (int x = 0; x < L.width; ++x)
        if (mask[size_t(y) * L.width + x]) blend(im, x, y, s.rgb, s.opacity);
  }
  return im;
}

}  // namespace glassbox::tools
