// Tile grids of feature maps and filters (tools/glassbox/grid.h): layout, normalization, the digit font, top-k.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "tools/glassbox/grid.h"
#include "tools/glassbox/overlay.h"
#include "tools/glassbox/plot.h"

namespace gt = glassbox::tools;

namespace {

const unsigned char* pixel(const gt::Image& im, int x, int y) { return &im.rgb[(size_t(y) * im.width + x) * 3]; }

}  // namespace

TEST(Grid, LayoutIsNearSquareWithSeparators) {
  // 8x8 maps are upscaled by 6 to 48x48 tiles; columns = ceil(sqrt(K)).
  const gt::GridLayout one = gt::grid_layout(1, 8, 8);
  EXPECT_EQ(one.scale, 6);
  EXPECT_EQ(one.columns, 1);
  EXPECT_EQ(one.rows, 1);
  EXPECT_EQ(one.width, 50);
  EXPECT_EQ(one.height, 50);
  EXPECT_EQ(one.x(0), 1);
  EXPECT_EQ(one.y(0), 1);

  const gt::GridLayout five = gt::grid_layout(5, 8, 8);
  EXPECT_EQ(five.columns, 3);
  EXPECT_EQ(five.rows, 2);
  EXPECT_EQ(five.width, 3 * 49 + 1);
  EXPECT_EQ(five.height, 2 * 49 + 1);
  EXPECT_EQ(five.x(2), 1 + 2 * 49);
  EXPECT_EQ(five.y(2), 1);
  EXPECT_EQ(five.x(4), 1 + 49);
  EXPECT_EQ(five.y(4), 1 + 49);

  const gt::GridLayout sixteen = gt::grid_layout(16, 8, 8);
  EXPECT_EQ(sixteen.columns, 4);
  EXPECT_EQ(sixteen.rows, 4);
  EXPECT_EQ(sixteen.width, 4 * 49 + 1);
  EXPECT_EQ(sixteen.height, 4 * 49 + 1);
  EXPECT_EQ(sixteen.x(15), 1 + 3 * 49);
  EXPECT_EQ(sixteen.y(15), 1 + 3 * 49);

  // Integer upscaling to at least 48 pixels on the longer side.
  EXPECT_EQ(gt::grid_layout(1, 7, 7).scale, 7);
  EXPECT_EQ(gt::grid_layout(1, 14, 14).scale, 4);
  EXPECT_EQ(gt::grid_layout(1, 112, 112).scale, 1);
  const gt::GridLayout wide = gt::grid_layout(2, 4, 12);
  EXPECT_EQ(wide.scale, 4);
  EXPECT_EQ(wide.tile_w, 48);
  EXPECT_EQ(wide.tile_h, 16);
  EXPECT_THROW(gt::grid_layout(0, 8, 8), glassbox::Error);
}

TEST(Grid, MapGridPlacesTilesWhereTheLayoutSays) {
  // Five constant-free 8x8 maps: tile k shows channel k; left half 0, right half k + 1, per-tile normalized, gray.
  const int K = 5, h = 8, w = 8;
  std::vector<float> maps(K * h * w);
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < h * w; ++i) maps[k * h * w + i] = (i % w) < w / 2 ? 0.f : float(k + 1);
  gt::MapGridOptions o;
  o.colormap = "gray";
  o.numbers = false;
  const gt::Image im = gt::map_grid(maps.data(), h, w, {0, 1, 2, 3, 4}, o);
  const gt::GridLayout g = gt::grid_layout(K, h, w);
  ASSERT_EQ(im.width, g.width);
  ASSERT_EQ(im.height, g.height);
  for (int k = 0; k < K; ++k) {
    EXPECT_EQ(pixel(im, g.x(k) + 2, g.y(k) + 20)[0], 0) << "tile " << k;
    EXPECT_EQ(pixel(im, g.x(k) + g.tile_w - 1, g.y(k) + g.tile_h - 1)[0], 255) << "tile " << k;
    EXPECT_EQ(pixel(im, g.x(k) - 1, g.y(k))[0], gt::kSeparator) << "tile " << k;  // the separator left of it
  }
  EXPECT_EQ(pixel(im, 0, 0)[1], gt::kSeparator);
  EXPECT_EQ(pixel(im, g.x(5) + 10, g.y(5) + 10)[0], gt::kSeparator);  // the empty sixth slot
}

TEST(Grid, PerChannelAndSharedNormalization) {
  // Two 2x2 maps: {0, 1, 2, 3} and {10, 11, 12, 13}; 2x2 tiles (no upscaling), side by side.
  const std::vector<float> maps = {0, 1, 2, 3, 10, 11, 12, 13};
  gt::MapGridOptions o;
  o.colormap = "gray";
  o.numbers = false;
  o.min_tile = 2;
  const gt::GridLayout g = gt::grid_layout(2, 2, 2, 2);
  ASSERT_EQ(g.columns, 2);
  ASSERT_EQ(g.scale, 1);
  auto at = [&](const gt::Image& im, int k, int r, int c) { return int(pixel(im, g.x(k) + c, g.y(k) + r)[0]); };

  const gt::Image own = gt::map_grid(maps.data(), 2, 2, {0, 1}, o);
  EXPECT_EQ(at(own, 0, 0, 0), 0);
  EXPECT_EQ(at(own, 0, 0, 1), 85);  // 1 / 3
  EXPECT_EQ(at(own, 0, 1, 1), 255);
  EXPECT_EQ(at(own, 1, 0, 0), 0);   // 10 is tile 1's own minimum
  EXPECT_EQ(at(own, 1, 1, 0), 170);  // 2 / 3
  EXPECT_EQ(at(own, 1, 1, 1), 255);

  o.shared = true;
  const gt::Image shared = gt::map_grid(maps.data(), 2, 2, {0, 1}, o);
  EXPECT_EQ(at(shared, 0, 0, 0), 0);
  EXPECT_EQ(at(shared, 0, 1, 1), 59);   // 3 / 13
  EXPECT_EQ(at(shared, 1, 0, 0), 196);  // 10 / 13
  EXPECT_EQ(at(shared, 1, 1, 1), 255);

  // A colormap: the maximum takes the colormap's top colour; a constant tile its bottom one.
  const std::vector<float> flat = {0, 0, 0, 5};
  o.shared = false;
  o.colormap = "viridis";
  const gt::Image col = gt::map_grid(flat.data(), 2, 2, {0}, o);
  unsigned char top[3], bottom[3];
  gt::colormap("viridis", 1.f, top);
  gt::colormap("viridis", 0.f, bottom);
  const gt::GridLayout g1 = gt::grid_layout(1, 2, 2, 2);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(pixel(col, g1.x(0) + 1, g1.y(0) + 1)[c], top[c]);
    EXPECT_EQ(pixel(col, g1.x(0), g1.y(0))[c], bottom[c]);
  }
  EXPECT_THROW(gt::check_grid_colormap("rainbow"), glassbox::Error);
}

TEST(Grid, TopChannelsRankByMeanOrMax) {
  // Channels of 3 values: 0 {0, 0, 9} mean 3 max 9; 1 {4, 4, 4}; 2 {5, 5, 5}; 3 NaN; 4 {4, 4, 4} (ties channel 1).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> m = {0, 0, 9, 4, 4, 4, 5, 5, 5, nan, nan, nan, 4, 4, 4};
  EXPECT_EQ(gt::top_channels(m.data(), 5, 3, 0, "mean"), (std::vector<int>{2, 1, 4, 0, 3}));
  EXPECT_EQ(gt::top_channels(m.data(), 5, 3, 2, "mean"), (std::vector<int>{2, 1}));
  EXPECT_EQ(gt::top_channels(m.data(), 5, 3, 3, "max"), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(gt::top_channels(m.data(), 5, 3, 9, "max"), (std::vector<int>{0, 2, 1, 4, 3}));
  EXPECT_FLOAT_EQ(gt::channel_score(m.data(), 3, "mean"), 3.f);
  EXPECT_FLOAT_EQ(gt::channel_score(m.data(), 3, "max"), 9.f);
  EXPECT_THROW(gt::top_channels(m.data(), 5, 3, 1, "median"), glassbox::Error);
}

TEST(Grid, SymmetricFilterNormalization) {
  EXPECT_EQ(gt::symmetric_level(0.f, 0.7f), 128);  // 127.5 rounds up
  EXPECT_EQ(gt::symmetric_level(0.7f, 0.7f), 255);
  EXPECT_EQ(gt::symmetric_level(-0.7f, 0.7f), 0);
  EXPECT_EQ(gt::symmetric_level(0.35f, 0.7f), 191);
  EXPECT_EQ(gt::symmetric_level(0.f, 0.f), 128);

  // Two RGB 1x1 filters [2, 3, 1, 1]: (0, 2, -2) and (0.5, 0, 0); tiles of 24x24 side by side.
  const std::vector<float> w = {0, 2, -2, 0.5f, 0, 0};
  gt::FilterGridOptions o;
  const gt::GridLayout g = gt::filter_layout(2, 3, 1, 1, o);
  EXPECT_EQ(g.columns, 2);
  EXPECT_EQ(g.tile_w, 24);
  const gt::Image own = gt::filter_grid(w.data(), 2, 3, 1, 1, o);
  ASSERT_EQ(own.width, g.width);
  const unsigned char* f0 = pixel(own, g.x(0) + 5, g.y(0) + 5);
  EXPECT_EQ(int(f0[0]), 128);
  EXPECT_EQ(int(f0[1]), 255);
  EXPECT_EQ(int(f0[2]), 0);
  const unsigned char* f1 = pixel(own, g.x(1) + 23, g.y(1) + 23);
  EXPECT_EQ(int(f1[0]), 255);  // its own max|w| = 0.5
  EXPECT_EQ(int(f1[1]), 128);
  o.shared = true;
  const gt::Image shared = gt::filter_grid(w.data(), 2, 3, 1, 1, o);
  EXPECT_EQ(int(pixel(shared, g.x(1), g.y(1))[0]), 159);  // 0.5 / 4 + 0.5 of the shared max 2
  EXPECT_EQ(int(pixel(shared, g.x(0), g.y(0))[1]), 255);
}

TEST(Grid, GrayFilterGridsAreFiltersByChannelsAndCapped) {
  // [3, 4, 3, 3]: rows = filters, columns = input channels; 3x3 kernels upscaled by 8 to 24x24.
  const int M = 3, C = 4;
  std::vector<float> w(M * C * 9, 0.f);
  w[(2 * C + 1) * 9 + 4] = 1.f;   // filter 2, channel 1, centre: +max
  w[(2 * C + 3) * 9 + 0] = -1.f;  // filter 2, channel 3, top-left: -max
  gt::FilterGridOptions o;
  const gt::GridLayout g = gt::filter_layout(M, C, 3, 3, o);
  EXPECT_EQ(g.columns, 4);
  EXPECT_EQ(g.rows, 3);
  EXPECT_EQ(g.scale, 8);
  const gt::Image im = gt::filter_grid(w.data(), M, C, 3, 3, o);
  ASSERT_EQ(im.width, 4 * 25 + 1);
  ASSERT_EQ(im.height, 3 * 25 + 1);
  const int k21 = 2 * 4 + 1, k23 = 2 * 4 + 3;
  EXPECT_EQ(int(pixel(im, g.x(k21) + 12, g.y(k21) + 12)[0]), 255);
  EXPECT_EQ(int(pixel(im, g.x(k21) + 0, g.y(k21) + 0)[0]), 128);
  EXPECT_EQ(int(pixel(im, g.x(k23) + 7, g.y(k23) + 7)[1]), 0);
  EXPECT_EQ(int(pixel(im, g.x(0) + 3, g.y(0) + 3)[2]), 128);  // filter 0 is all zero: mid gray

  o.max_filters = 2, o.max_channels = 3;
  const gt::GridLayout capped = gt::filter_layout(M, C, 3, 3, o);
  EXPECT_EQ(capped.columns, 3);
  EXPECT_EQ(capped.rows, 2);
  EXPECT_EQ(gt::filter_grid(w.data(), M, C, 3, 3, o).width, capped.width);

  // Depthwise [9, 1, 3, 3]: a near-square grid of one tile per filter.
  const gt::GridLayout dw = gt::filter_layout(9, 1, 3, 3, {});
  EXPECT_EQ(dw.columns, 3);
  EXPECT_EQ(dw.rows, 3);
}

TEST(Grid, DigitsStayInsideTheirBox) {
  EXPECT_EQ(gt::number_box(7, 1), std::make_pair(5, 7));
  EXPECT_EQ(gt::number_box(1234, 1), std::make_pair(17, 7));
  EXPECT_EQ(gt::number_box(42, 2), std::make_pair(18, 14));
  for (int scale : {1, 2}) {
    gt::Image im;
    im.width = 50, im.height = 24;
    im.rgb.assign(size_t(im.width) * im.height * 3, 100);
    const int x0 = 5, y0 = 4, n = 1234567890 % 100000;  // 67890: every glyph shape differs
    gt::draw_number(im, x0, y0, n, scale);
    const auto [bw, bh] = gt::number_box(n, scale);
    int ink = 0;
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x) {
        const bool inside = x >= x0 && x < x0 + bw && y >= y0 && y < y0 + bh;
        const int v = pixel(im, x, y)[0];
        if (!inside) EXPECT_EQ(v, 100) << "outside the box at " << x << "," << y;
        else EXPECT_TRUE(v == 0 || v == 255) << "inside the box at " << x << "," << y;
        ink += inside && v == 255;
      }
    // Lit pixels of 6: 12, 7: 7, 8: 13, 9: 12, 0: 12 (times scale^2).
    EXPECT_EQ(ink, (12 + 7 + 13 + 12 + 12) * scale * scale);
  }
  // A "1": the middle column lit on every row, the right column only on the bottom row.
  gt::Image one;
  one.width = 5, one.height = 7;
  one.rgb.assign(5 * 7 * 3, 100);
  gt::draw_number(one, 0, 0, 1);
  for (int r = 0; r < 5; ++r) EXPECT_EQ(pixel(one, 2, 1 + r)[0], 255);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(pixel(one, 3, 1 + r)[0], 0);
  EXPECT_EQ(pixel(one, 3, 5)[0], 255);
  // Clipped at the image's edge without writing outside it.
  gt::draw_number(one, 3, 4, 88, 2);
  EXPECT_EQ(one.rgb.size(), size_t(5 * 7 * 3));
}

TEST(Grid, MapGridNumbersTheTiles) {
  // 16 constant 8x8 maps in 48x48 tiles: the number box of tile k holds channel k's digits, the rest is the map.
  std::vector<float> maps(16 * 64, 0.f);
  gt::MapGridOptions o;
  o.colormap = "gray";
  std::vector<int> channels;
  for (int k = 0; k < 16; ++k) channels.push_back(15 - k);  // drawn in reverse: tile k is labelled 15 - k
  const gt::Image im = gt::map_grid(maps.data(), 8, 8, channels, o);
  const gt::GridLayout g = gt::grid_layout(16, 8, 8);
  for (int k = 0; k < 16; ++k) {
    const auto [bw, bh] = gt::number_box(15 - k, 1);
    int ink = 0;
    for (int y = 0; y < bh; ++y)
      for (int x = 0; x < bw; ++x) ink += pixel(im, g.x(k) + x, g.y(k) + y)[0] == 255;
    EXPECT_GT(ink, 0) << "tile " << k;
    EXPECT_EQ(pixel(im, g.x(k) + bw, g.y(k) + bh)[0], 0) << "tile " << k;  // the map (constant -> 0) after it
  }
}

TEST(Grid, StatisticsEnergyAndUpsample) {
  // Two images, three channels of 2 values: channel 0 always 0 (dead, constant), channel 1 constant 2,
  // channel 2 negative then positive (alive, varying).
  const std::vector<float> a = {0, 0, 2, 2, -1, -3, 0, 0, 2, 2, 4, 1};
  gt::ActivationStats s;
  s.add(a.data(), 1, 3, 2);
  s.add(a.data() + 6, 1, 3, 2);
  EXPECT_EQ(s.images, 2);
  EXPECT_EQ(s.values, 12);
  EXPECT_EQ(s.zeros, 4);
  EXPECT_DOUBLE_EQ(s.zero_fraction(), 4.0 / 12.0);
  EXPECT_DOUBLE_EQ(s.mean(), 9.0 / 12.0);
  EXPECT_EQ(s.dead(), (std::vector<int>{0}));
  EXPECT_EQ(s.constant(), (std::vector<int>{0, 1}));
  EXPECT_THROW(s.add(a.data(), 1, 2, 3), glassbox::Error);

  const std::vector<float> mean = gt::channel_mean(a.data(), 3, 2);
  EXPECT_FLOAT_EQ(mean[0], 1.f / 3.f);
  EXPECT_FLOAT_EQ(mean[1], -1.f / 3.f);

  // 2x2 -> 4x4, half-pixel centres: the corners keep the source corners, the middle interpolates.
  const std::vector<float> m = {0, 1, 2, 3};
  const std::vector<float> up = gt::upsample_bilinear(m.data(), 2, 2, 4, 4);
  EXPECT_FLOAT_EQ(up[0], 0.f);
  EXPECT_FLOAT_EQ(up[3], 1.f);
  EXPECT_FLOAT_EQ(up[15], 3.f);
  EXPECT_FLOAT_EQ(up[1], 0.25f);
  EXPECT_FLOAT_EQ(up[5], 0.75f);
  std::vector<float> n = up;
  gt::normalize_min_max(n);
  EXPECT_FLOAT_EQ(n[15], 1.f);
  EXPECT_FLOAT_EQ(n[5], 0.25f);
  std::vector<float> flat(4, 7.f);
  gt::normalize_min_max(flat);
  EXPECT_EQ(flat, std::vector<float>(4, 0.f));
}

// Line plots (plot.h): where the points land, pen thickness, opacity over white, NaN gaps.
TEST(Plot, SeriesLandWhereTheLayoutSays) {
  gt::PlotLayout L;
  L.width = 101, L.height = 51, L.margin = 0;
  EXPECT_EQ(L.px(0), 0);
  EXPECT_EQ(L.px(1), 100);
  EXPECT_EQ(L.py(0), 50);  // y up
  EXPECT_EQ(L.py(1), 0);
  EXPECT_EQ(L.py(0.5), 25);
  auto at = [&](const gt::Image& im, int x, int y) {
    const uint8_t* p = &im.rgb[(size_t(y) * im.width + x) * 3];
    return std::array<int, 3>{p[0], p[1], p[2]};
  };
  // A rising line from (0, 0) to (1, 1) through (0.5, 0.5), red, 1 pixel.
  gt::Series up{{0.f, 0.5f, 1.f}, {255, 0, 0}, 1.f, 1};
  const gt::Image a = gt::line_plot({up}, L);
  ASSERT_EQ(a.width, 101);
  ASSERT_EQ(a.height, 51);
  EXPECT_EQ(at(a, 0, 50), (std::array<int, 3>{255, 0, 0}));
  EXPECT_EQ(at(a, 50, 25), (std::array<int, 3>{255, 0, 0}));
  EXPECT_EQ(at(a, 100, 0), (std::array<int, 3>{255, 0, 0}));
  EXPECT_EQ(at(a, 100, 50)[1], 0);                             // the x axis (black) at the bottom
  EXPECT_EQ(at(a, 30, 5), (std::array<int, 3>{255, 255, 255}));  // off the line and the grid: white
  // A flat line at 0.8 in black at opacity 0.25 over white: 255 + 0.25 (0 - 255) = 191.25 -> 191; thickness 3
  // covers rows py - 1 .. py + 1 only. A NaN point leaves the second half undrawn.
  gt::Series flat{{0.8f, 0.8f, std::nanf(""), 0.8f}, {0, 0, 0}, 0.25f, 3};
  const gt::Image b = gt::line_plot({flat}, L);
  const int y = L.py(0.8);
  EXPECT_EQ(at(b, 10, y), (std::array<int, 3>{191, 191, 191}));
  EXPECT_EQ(at(b, 10, y - 1)[0], 191);
  EXPECT_EQ(at(b, 10, y + 1)[0], 191);
  EXPECT_GT(at(b, 10, y - 2)[0], 200);  // white, or a grid line's 225
  EXPECT_GT(at(b, 10, y + 2)[0], 200);
  EXPECT_EQ(at(b, 80, y)[0], 255);  // x = 0.8 lies between the NaN point and the last one
  // Values outside [0, 1] are clamped to the plot area.
  const gt::Image c = gt::line_plot({{{2.f, 2.f}, {0, 0, 255}, 1.f, 1}}, L);
  EXPECT_EQ(at(c, 50, 0), (std::array<int, 3>{0, 0, 255}));
}
