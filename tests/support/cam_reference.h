// Float64 references shared by the explanation tests: bilinear resizing (half-pixel centres, clamped at the edges:
// PyTorch's interpolate with align_corners=False), min-max normalization, and the softmax probability.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace glassbox::test {

using Maps = std::vector<double>;

// N maps [h, w] -> [H, W].
inline Maps resize_reference(const Maps& m, int64_t N, int64_t h, int64_t w, int64_t H, int64_t W) {
  Maps out(N * H * W);
  auto src = [](int64_t o, int64_t in, int64_t size_out, int64_t& i0, int64_t& i1, double& t) {
    const double s = std::max(0.0, (o + 0.5) * double(in) / double(size_out) - 0.5);
    i0 = std::min<int64_t>(int64_t(s), in - 1), i1 = std::min<int64_t>(i0 + 1, in - 1), t = s - double(i0);
  };
  for (int64_t n = 0; n < N; ++n)
    for (int64_t Y = 0; Y < H; ++Y)
      for (int64_t X = 0; X < W; ++X) {
        int64_t y0, y1, x0, x1;
        double ty, tx;
        src(Y, h, H, y0, y1, ty), src(X, w, W, x0, x1, tx);
        auto at = [&](int64_t yy, int64_t xx) { return m[(n * h + yy) * w + xx]; };
        const double top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * tx;
        const double bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * tx;
        out[(n * H + Y) * W + X] = top + (bottom - top) * ty;
      }
  return out;
}

// Each of the N maps of `m` scaled to [0, 1]; a constant map becomes 0.
inline void normalize_reference(Maps& m, int64_t N) {
  const int64_t P = N ? int64_t(m.size()) / N : 0;
  for (int64_t n = 0; n < N; ++n) {
    const auto [lo, hi] = std::minmax_element(m.begin() + n * P, m.begin() + (n + 1) * P);
    const double low = *lo, range = *hi - *lo;
    for (int64_t p = 0; p < P; ++p) m[n * P + p] = range > 0 ? (m[n * P + p] - low) / range : 0;
  }
}

// softmax(z)_c over C logits.
inline double probability_reference(const float* z, int64_t C, int64_t c) {
  double m = -INFINITY, sum = 0;
  for (int64_t j = 0; j < C; ++j) m = std::max(m, double(z[j]));
  for (int64_t j = 0; j < C; ++j) sum += std::exp(double(z[j]) - m);
  return std::exp(double(z[c]) - m) / sum;
}

}  // namespace glassbox::test
