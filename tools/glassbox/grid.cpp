#include "tools/glassbox/grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/error.h"
#include "tools/glassbox/overlay.h"

namespace glassbox::tools {

namespace {

// 3x5 digits, one row per entry, bit 2 = left column.
constexpr unsigned char kDigits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};
constexpr unsigned char kBox = 0, kInk = 255;

void put(Image& im, int x, int y, const unsigned char rgb[3]) {
  if (x < 0 || y < 0 || x >= im.width || y >= im.height) return;
  std::copy_n(rgb, 3, &im.rgb[(size_t(y) * im.width + x) * 3]);
}

Image blank(int width, int height, unsigned char level) {
  Image im;
  im.width = width, im.height = height;
  im.rgb.assign(size_t(width) * height * 3, level);
  return im;
}

// Min and max of the finite values of a[0..n) (0, 0 when there are none).
std::pair<float, float> finite_range(const float* a, int64_t n, std::pair<float, float> r = {1.f, 0.f}) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(a[i])) {
      if (r.first > r.second) r = {a[i], a[i]};
      r.first = std::min(r.first, a[i]), r.second = std::max(r.second, a[i]);
    }
  return r;
}

float max_abs(const float* a, int64_t n) {
  float m = 0.f;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(a[i])) m = std::max(m, std::fabs(a[i]));
  return m;
}

}  // namespace

GridLayout grid_layout(int K, int h, int w, int min_tile, int columns, int sep) {
  GB_CHECK(K >= 1 && h >= 1 && w >= 1, "a grid needs at least one tile of at least 1x1 (got ", K, " tiles of ", h,
           "x", w, ")");
  GridLayout g;
  g.count = K, g.sep = std::max(0, sep);
  g.columns = 1;
  if (columns > 0) g.columns = std::min(columns, K);
  else
    while (g.columns * g.columns < K) ++g.columns;
  g.rows = (K + g.columns - 1) / g.columns;
  const int side = std::max(h, w);
  g.scale = std::max(1, (min_tile + side - 1) / side);
  g.tile_w = w * g.scale, g.tile_h = h * g.scale;
  g.width = g.columns * (g.tile_w + g.sep) + g.sep;
  g.height = g.rows * (g.tile_h + g.sep) + g.sep;
  return g;
}

void check_grid_colormap(const std::string& cmap) {
  GB_CHECK(cmap == "gray" || cmap == "jet" || cmap == "turbo" || cmap == "viridis", "unknown colormap '", cmap,
           "' (available: viridis, gray, jet, turbo)");
}

void grid_color(const std::string& cmap, float v, unsigned char rgb[3]) {
  if (cmap == "gray") {
    v = std::isfinite(v) ? std::clamp(v, 0.f, 1.f) : 0.f;
    rgb[0] = rgb[1] = rgb[2] = static_cast<unsigned char>(std::lround(255.f * v));
    return;
  }
  colormap(cmap, v, rgb);
}

std::pair<int, int> number_box(int n, int scale) {
  const int digits = static_cast<int>(std::to_string(std::max(0, n)).size());
  return {scale * (4 * digits + 1), scale * 7};
}

void draw_number(Image& image, int x, int y, int n, int scale) {
  const std::string s = std::to_string(std::max(0, n));
  const auto [bw, bh] = number_box(n, scale);
  const unsigned char box[3] = {kBox, kBox, kBox}, ink[3] = {kInk, kInk, kInk};
  for (int j = 0; j < bh; ++j)
    for (int i = 0; i < bw; ++i) put(image, x + i, y + j, box);
  for (size_t d = 0; d < s.size(); ++d) {
    const auto& glyph = kDigits[s[d] - '0'];
    const int gx = x + scale * (1 + 4 * int(d)), gy = y + scale;
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 3; ++c)
        if (glyph[r] & (4 >> c))
          for (int dy = 0; dy < scale; ++dy)
            for (int dx = 0; dx < scale; ++dx) put(image, gx + c * scale + dx, gy + r * scale + dy, ink);
  }
}

Image map_grid(const float* maps, int h, int w, const std::vector<int>& channels, const MapGridOptions& o) {
  check_grid_colormap(o.colormap);
  const int K = static_cast<int>(channels.size());
  const GridLayout g = grid_layout(K, h, w, o.min_tile, o.columns);
  const int64_t hw = int64_t(h) * w;
  std::pair<float, float> shared{1.f, 0.f};
  if (o.shared)
    for (int c : channels) shared = finite_range(maps + c * hw, hw, shared);
  Image im = blank(g.width, g.height, kSeparator);
  const int font = g.tile_w >= 160 ? 2 : 1;
  for (int k = 0; k < K; ++k) {
    const float* m = maps + channels[k] * hw;
    auto [lo, hi] = o.shared ? shared : finite_range(m, hw);
    const float span = hi > lo ? hi - lo : 0.f;
    for (int ty = 0; ty < g.tile_h; ++ty)
      for (int tx = 0; tx < g.tile_w; ++tx) {
        const float v = m[(ty / g.scale) * w + tx / g.scale];
        unsigned char rgb[3];
        grid_color(o.colormap, span > 0.f ? (v - lo) / span : 0.f, rgb);
        put(im, g.x(k) + tx, g.y(k) + ty, rgb);
      }
    if (o.numbers) {
      const auto [bw, bh] = number_box(channels[k], font);
      if (bw <= g.tile_w && bh <= g.tile_h) draw_number(im, g.x(k), g.y(k), channels[k], font);
    }
  }
  return im;
}

unsigned char symmetric_level(float v, float max_abs) {
  if (!(max_abs > 0.f) || !std::isfinite(v)) return 128;
  const float x = std::clamp(v / (2.f * max_abs) + 0.5f, 0.f, 1.f);
  return static_cast<unsigned char>(std::lround(255.f * x));
}

GridLayout filter_layout(int M, int C, int kh, int kw, const FilterGridOptions& o) {
  GB_CHECK(M >= 1 && C >= 1 && kh >= 1 && kw >= 1, "filters of shape [", M, ", ", C, ", ", kh, ", ", kw,
           "] have nothing to draw");
  const int filters = std::min(M, std::max(1, o.max_filters));
  if (C == 3 || C == 1) return grid_layout(filters, kh, kw, o.min_tile);
  const int channels = std::min(C, std::max(1, o.max_channels));
  return grid_layout(filters * channels, kh, kw, o.min_tile, channels);
}

Image filter_grid(const float* w, int M, int C, int kh, int kw, const FilterGridOptions& o) {
  const GridLayout g = filter_layout(M, C, kh, kw, o);
  const bool per_tile_filter = C == 3 || C == 1;  // one tile per filter; else one row per filter
  const int filters = per_tile_filter ? g.count : g.count / g.columns;
  const int channels = per_tile_filter ? C : g.columns;
  const int64_t k2 = int64_t(kh) * kw, per = int64_t(C) * k2;
  std::vector<float> scale(filters);
  for (int m = 0; m < filters; ++m) scale[m] = max_abs(w + m * per, per);
  if (o.shared) std::fill(scale.begin(), scale.end(), *std::max_element(scale.begin(), scale.end()));
  Image im = blank(g.width, g.height, kSeparator);
  auto at = [&](int m, int c, int r, int s) { return w[m * per + c * k2 + int64_t(r) * kw + s]; };
  for (int m = 0; m < filters; ++m)
    for (int c = 0; c < (per_tile_filter ? 1 : channels); ++c) {
      const int k = per_tile_filter ? m : m * channels + c;
      for (int ty = 0; ty < g.tile_h; ++ty)
        for (int tx = 0; tx < g.tile_w; ++tx) {
          const int r = ty / g.scale, s = tx / g.scale;
          unsigned char rgb[3];
          if (C == 3)
            for (int ch = 0; ch < 3; ++ch) rgb[ch] = symmetric_level(at(m, ch, r, s), scale[m]);
          else
            rgb[0] = rgb[1] = rgb[2] = symmetric_level(at(m, c, r, s), scale[m]);
          put(im, g.x(k) + tx, g.y(k) + ty, rgb);
        }
    }
  return im;
}

float channel_score(const float* map, int64_t hw, const std::string& rank) {
  if (rank == "max") {
    float m = -std::numeric_limits<float>::infinity();
    bool any = false;
    for (int64_t i = 0; i < hw; ++i)
      if (!std::isnan(map[i])) m = any ? std::max(m, map[i]) : map[i], any = true;
    return any ? m : std::numeric_limits<float>::quiet_NaN();
  }
  GB_CHECK(rank == "mean", "unknown ranking '", rank, "' (available: mean, max)");
  double s = 0;
  for (int64_t i = 0; i < hw; ++i) s += map[i];
  return hw ? static_cast<float>(s / double(hw)) : 0.f;
}

std::vector<int> top_channels(const float* maps, int C, int64_t hw, int k, const std::string& rank) {
  std::vector<float> key(C);
  for (int c = 0; c < C; ++c) {
    const float s = channel_score(maps + c * hw, hw, rank);
    key[c] = std::isnan(s) ? -std::numeric_limits<float>::infinity() : s;
  }
  std::vector<int> order(C);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key[a] > key[b]; });
  if (k > 0 && k < C) order.resize(k);
  return order;
}

void ActivationStats::add(const float* a, int64_t N, int64_t C, int64_t hw) {
  if (images == 0) {
    channels = C;
    min.assign(C, std::numeric_limits<float>::infinity());
    max.assign(C, -std::numeric_limits<float>::infinity());
  }
  GB_CHECK(C == channels, "statistics of ", channels, " channels cannot take a batch of ", C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float* m = a + (n * C + c) * hw;
      float lo = min[c], hi = max[c];
      double s = 0;
      int64_t z = 0;
      for (int64_t i = 0; i < hw; ++i) {
        lo = std::min(lo, m[i]), hi = std::max(hi, m[i]);
        s += m[i];
        z += m[i] == 0.f;
      }
      min[c] = lo, max[c] = hi, sum += s, zeros += z;
    }
  values += N * C * hw;
  images += N;
}

std::vector<int> ActivationStats::dead() const {
  std::vector<int> out;
  for (int64_t c = 0; c < channels; ++c)
    if (max[c] <= 0.f) out.push_back(int(c));
  return out;
}

std::vector<int> ActivationStats::constant() const {
  std::vector<int> out;
  for (int64_t c = 0; c < channels; ++c)
    if (max[c] == min[c]) out.push_back(int(c));
  return out;
}

std::vector<float> channel_mean(const float* maps, int C, int64_t hw) {
  std::vector<double> s(hw, 0.0);
  for (int c = 0; c < C; ++c)
    for (int64_t i = 0; i < hw; ++i) s[i] += maps[c * hw + i];
  std::vector<float> out(hw);
  for (int64_t i = 0; i < hw; ++i) out[i] = C ? static_cast<float>(s[i] / C) : 0.f;
  return out;
}

std::vector<float> upsample_bilinear(const float* map, int h, int w, int H, int W) {
  auto source = [](int o, int in, int out, int& i0, int& i1, float& t) {
    const float s = std::max(0.f, (float(o) + 0.5f) * float(in) / float(out) - 0.5f);
    i0 = std::min(static_cast<int>(s), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    t = s - float(i0);
  };
  std::vector<float> out(size_t(H) * W);
  for (int Y = 0; Y < H; ++Y) {
    int y0, y1;
    float ty;
    source(Y, h, H, y0, y1, ty);
    for (int X = 0; X < W; ++X) {
      int x0, x1;
      float tx;
      source(X, w, W, x0, x1, tx);
      const float* r0 = map + size_t(y0) * w;
      const float* r1 = map + size_t(y1) * w;
      const float top = r0[x0] + (r0[x1] - r0[x0]) * tx, bottom = r1[x0] + (r1[x1] - r1[x0]) * tx;
      out[size_t(Y) * W + X] = top + (bottom - top) * ty;
    }
  }
  return out;
}

void normalize_min_max(std::vector<float>& map) {
  const auto [lo, hi] = finite_range(map.data(), int64_t(map.size()));
  for (float& v : map) v = hi > lo && std::isfinite(v) ? (v - lo) / (hi - lo) : 0.f;
}

}  // namespace glassbox::tools
