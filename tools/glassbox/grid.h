// Feature maps and convolution filters as pictures: tile grids of single-channel maps (colormap or gray, per-tile
// or shared min-max), filter grids (symmetric around zero: 0 -> mid gray), channel numbers in a built-in 3x5
// font, top-k channel ranking, batch statistics and a bilinear upsample. Pure functions on host float arrays.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/glassbox/image.h"

namespace glassbox::tools {

// K tiles of tile_w x tile_h pixels in `columns` columns (near-square: ceil(sqrt(K))) and ceil(K / columns) rows,
// tile k at row k / columns, column k % columns, with `sep` separator pixels between tiles and around the border.
struct GridLayout {
  int count = 0, columns = 0, rows = 0;
  int scale = 1;               // integer (nearest) upscaling of each map
  int tile_w = 0, tile_h = 0;  // after upscaling
  int sep = 1;
  int width = 0, height = 0;   // of the whole image
  int x(int k) const { return sep + (k % columns) * (tile_w + sep); }  // top-left of tile k
  int y(int k) const { return sep + (k / columns) * (tile_h + sep); }
};
// The layout for K maps of h x w: the smallest integer scale with max(h, w) * scale >= min_tile (at least 1);
// columns = ceil(sqrt(K)) unless given.
GridLayout grid_layout(int K, int h, int w, int min_tile = 48, int columns = 0, int sep = 1);

// A colormap by name (tools::colormap's jet, turbo, viridis) or "gray"; v in [0, 1]. check_grid_colormap throws,
// listing the names.
void grid_color(const std::string& cmap, float v, unsigned char rgb[3]);
void check_grid_colormap(const std::string& cmap);

struct MapGridOptions {
  bool shared = false;              // one min-max over all drawn tiles instead of each tile's own
  std::string colormap = "viridis";  // or "gray", "jet", "turbo"
  bool numbers = true;              // the channel number in each tile's top-left corner
  int min_tile = 48;
  int columns = 0;                  // 0: ceil(sqrt(K))
};
// Tile k shows the map maps[channels[k] * h * w ...] (h x w, row-major), min-max normalized (a constant tile is 0),
// labelled channels[k]. Separators are dark gray (kSeparator).
Image map_grid(const float* maps, int h, int w, const std::vector<int>& channels, const MapGridOptions& o = {});
constexpr unsigned char kSeparator = 40;

// The 8-bit value of weight v under symmetric normalization: 255 * (v / (2 max_abs) + 0.5), rounded and clamped
// (0 -> 128, max_abs -> 255, -max_abs -> 0; max_abs == 0 -> 128).
unsigned char symmetric_level(float v, float max_abs);

struct FilterGridOptions {
  bool shared = false;  // one max|w| over all drawn filters instead of each filter's own
  int max_filters = 64, max_channels = 32;
  int min_tile = 24;    // small kernels upscaled (nearest) to at least this: 3x3 -> 24x24, 7x7 -> 28x28
};
// Weights [M, C, kh, kw] (row-major). C == 3: one RGB tile per filter (input channels 0, 1, 2 as R, G, B) in a
// near-square grid. C == 1 (depthwise): one gray tile per filter in a near-square grid. Otherwise a grid of
// min(M, max_filters) rows (filters) x min(C, max_channels) columns (input channels) of gray tiles. Each filter is
// normalized by the max|w| over all its C channels (or the shared max), symmetric_level.
Image filter_grid(const float* w, int M, int C, int kh, int kw, const FilterGridOptions& o = {});
GridLayout filter_layout(int M, int C, int kh, int kw, const FilterGridOptions& o = {});

// The box a number takes in the 3x5 font at `scale`: a 1-pixel (x scale) margin around digits 3 wide and 1 apart.
std::pair<int, int> number_box(int n, int scale = 1);  // width, height
// Draws the decimal n (n >= 0) white on a dark box whose top-left is (x, y), clipped to the image.
void draw_number(Image& image, int x, int y, int n, int scale = 1);

// Channel indices for maps [C, hw]: the top k (k <= 0 or k >= C: all) by mean or by max activation, highest
// first, ties and NaN scores (ranked lowest) broken by the lower index. rank: "mean" or "max".
std::vector<int> top_channels(const float* maps, int C, int64_t hw, int k, const std::string& rank = "mean");
// The score top_channels ranks by.
float channel_score(const float* map, int64_t hw, const std::string& rank);

// Statistics of a layer's activations [N, C, hw] accumulated over batches.
struct ActivationStats {
  int64_t channels = 0, values = 0, zeros = 0, images = 0;
  double sum = 0;
  std::vector<float> min, max;  // per channel, over every image so far
  void add(const float* a, int64_t N, int64_t C, int64_t hw);
  double zero_fraction() const { return values ? double(zeros) / double(values) : 0.0; }
  double mean() const { return values ? sum / double(values) : 0.0; }
  std::vector<int> dead() const;      // channels never positive (max <= 0; after a ReLU: always zero)
  std::vector<int> constant() const;  // channels with one value over the whole batch (max == min)
};

// The mean over C channels at each position of maps [C, hw].
std::vector<float> channel_mean(const float* maps, int C, int64_t hw);
// Bilinear resize of an h x w map to H x W (half-pixel centres, clamped to the edge, as the CAM upsample).
std::vector<float> upsample_bilinear(const float* map, int h, int w, int H, int W);
// Min-max to [0, 1] in place (a constant map becomes 0).
void normalize_min_max(std::vector<float>& map);

}  // namespace glassbox::tools
