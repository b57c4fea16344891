// Class activation maps (formulas and papers in kernels.h), min-max normalization and bilinear resizing, CPU.
// One image per task; sums over positions in float64.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void cam(Context& ctx, CamMethod method, int samples, ConstView A, ConstView G, View map) {
  const int64_t S = method == CamMethod::smoothgradcampp ? samples : 1;
  GB_CHECK(A.shape.size() == 4 && G.shape.size() == 4 && map.shape.size() == 3, "cam: A ", shape_str(A.shape),
           " and G ", shape_str(G.shape), " must be [N, C, H, W], maps ", shape_str(map.shape), " [N, H, W]");
  const int64_t M = map.dim(0), K = A.dim(0) > 0 ? G.dim(0) / A.dim(0) : 0;
  GB_CHECK(S >= 1 && K >= 1 && A.dim(0) % S == 0 && G.dim(0) == A.dim(0) * K && M == A.dim(0) / S * K &&
               std::equal(A.shape.begin() + 1, A.shape.end(), G.shape.begin() + 1) && map.dim(1) == A.dim(2) &&
               map.dim(2) == A.dim(3),
           "cam: A ", shape_str(A.shape), ", G ", shape_str(G.shape), " and maps ", shape_str(map.shape),
           " do not fit ", S, " sample(s) per image");
  const int64_t C = A.dim(1), P = A.dim(2) * A.dim(3);
  ctx.pool.parallel_for(map.dim(0), 1, [&](int64_t b, int64_t e) {
    std::vector<double> a(C * P), g1(C * P), g2(C * P), g3(C * P), w(C);
    for (int64_t n = b; n < e; ++n) {
      // Per-image statistics: A and G (and for Smooth Grad-CAM++ the means over the noisy copies of G^2, G^3).
      std::fill(a.begin(), a.end(), 0.0), std::fill(g1.begin(), g1.end(), 0.0);
      std::fill(g2.begin(), g2.end(), 0.0), std::fill(g3.begin(), g3.end(), 0.0);
      for (int64_t k = 0; k < S; ++k) {  // map n = image n / K, target n % K: A row image*S + k, its G row
        const int64_t a_row = (n / K) * S + k;
        const float* ap = A.data + a_row * C * P;
        const float* gp = G.data + (a_row * K + n % K) * C * P;
        for (int64_t i = 0; i < C * P; ++i) {
          const double g = gp[i];
          a[i] += ap[i] / double(S), g1[i] += g / double(S), g2[i] += g * g / double(S), g3[i] += g * g * g / double(S);
        }
      }
      float* out = map.data + n * P;
      const bool elementwise = method == CamMethod::layercam || method == CamMethod::hirescam ||
                               method == CamMethod::gradcam_elementwise;
      if (elementwise) {
        for (int64_t p = 0; p < P; ++p) {
          double s = 0;
          for (int64_t c = 0; c < C; ++c) {
            const double av = a[c * P + p], gv = g1[c * P + p];
            if (method == CamMethod::layercam) s += std::max(gv, 0.0) * av;
            else if (method == CamMethod::hirescam) s += gv * av;
            else s += std::max(gv * av, 0.0);
          }
          out[p] = float(method == CamMethod::hirescam ? s : std::max(s, 0.0));
        }
        continue;
      }
      for (int64_t c = 0; c < C; ++c) {  // channel weights
        const double* ac = &a[c * P];
        const double* gc = &g1[c * P];
        double sum_a = 0, sum_g = 0;
        for (int64_t p = 0; p < P; ++p) sum_a += ac[p], sum_g += gc[p];
        double wc = 0;
        switch (method) {
          case CamMethod::cam: wc = sum_g; break;
          case CamMethod::gradcam: wc = sum_g / double(P); break;
          case CamMethod::xgradcam:
            if (sum_a != 0)
              for (int64_t p = 0; p < P; ++p) wc += ac[p] / sum_a * gc[p];
            break;
          default:  // gradcampp, smoothgradcampp: alpha = G^2 / (2 G^2 + sum(A) G^3) where G^2 != 0
            for (int64_t p = 0; p < P; ++p) {
              const double sq = g2[c * P + p], cu = g3[c * P + p];
              const double denominator = 2 * sq + sum_a * cu;
              if (sq != 0 && denominator != 0) wc += sq / denominator * std::max(gc[p], 0.0);
            }
        }
        w[c] = wc;
      }
      for (int64_t p = 0; p < P; ++p) {
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s += w[c] * a[c * P + p];
        out[p] = float(method == CamMethod::cam ? s : std::max(s, 0.0));
      }
    }
  });
}

void normalize_minmax(Context& ctx, View maps) {
  const int64_t N = maps.dim(0), P = N ? maps.numel() / N : 0;
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      float* m = maps.data + n * P;
      const auto [lo, hi] = std::minmax_element(m, m + P);
      const float low = *lo, range = *hi - *lo;
      for (int64_t p = 0; p < P; ++p) m[p] = range > 0 ? (m[p] - low) / range : 0.f;
    }
  });
}

void fuse_layer_maps(Context& ctx, float gamma, bool first, ConstView map, View fused) {
  const int64_t N = map.dim(0), P = N ? map.numel() / N : 0;
  GB_CHECK(map.shape == fused.shape, "fuse_layer_maps: map ", shape_str(map.shape), " and fused ",
           shape_str(fused.shape), " differ");
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float* m = map.data + n * P;
      float* f = fused.data + n * P;
      const float top = *std::max_element(m, m + P);
      for (int64_t p = 0; p < P; ++p) {
        const float scaled = top > 0.f ? std::tanh(gamma * m[p] / top) : 0.f;
        f[p] = first ? scaled : std::max(f[p], scaled);
      }
    }
  });
}

// y(Y, X) from x at source coordinates ((Y + 0.5) * h / H - 0.5, likewise), clamped to the edge, bilinear
// (bilinear_source in element_formulas.h, shared with CUDA and with RISE's masks).
void resize_bilinear(Context& ctx, ConstView x, View y) {
  const int64_t N = x.dim(0), h = x.dim(1), w = x.dim(2), H = y.dim(1), W = y.dim(2);
  ctx.pool.parallel_for(N * H, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t n = r / H, Y = r % H;
      int64_t y0, y1;
      float ty;
      bilinear_source(Y, h, H, y0, y1, ty);
      const float* row0 = x.data + (n * h + y0) * w;
      const float* row1 = x.data + (n * h + y1) * w;
      for (int64_t X = 0; X < W; ++X) {
        int64_t x0, x1;
        float tx;
        bilinear_source(X, w, W, x0, x1, tx);
        const float top = row0[x0] + (row0[x1] - row0[x0]) * tx, bottom = row1[x0] + (row1[x1] - row1[x0]) * tx;
        y.data[r * W + X] = top + (bottom - top) * ty;
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
