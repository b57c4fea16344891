// Convolution, CPU, variant "winograd_f2x3": Winograd's minimal filtering F(2x2, 3x3) for 3x3 convolutions with
// stride 1, dilation 1 and one group (A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016, section 4). Every other convolution runs the default path (conv2d_im2col_gemm).
//
// The output is cut into 2x2 tiles; tile t reads the 4x4 input tile d (zero outside the input) whose corner is
// (2*th - pad_top, 2*tw - pad_left). For one input channel c and filter g = w[m, c] (3x3):
//   Y = A^T [ (G g G^T) . (B^T d B) ] A        (". ": element-wise product of 4x4 matrices)
// with
//   B^T = [ 1  0 -1  0 ]    G = [ 1    0    0  ]    A^T = [ 1  1  1  0 ]
//         [ 0  1  1  0 ]        [ 1/2  1/2  1/2 ]          [ 0  1 -1 -1 ]
//         [ 0 -1  1  0 ]        [ 1/2 -1/2  1/2 ]
//         [ 0  1  0 -1 ]        [ 0    0    1  ]
// Summing over c inside the brackets (the transforms are linear), each of the 16 positions e = (xi, nu) of the
// 4x4 transformed tile is one GEMM (Lavin & Gray, eq. 12):
//   M_e[m, t] = sum_c U_e[m, c] V_e[c, t],   U_e[m, c] = (G w[m, c] G^T)[e],   V_e[c, t] = (B^T d[c, t] B)[e]
// and the output tile is Y[m, t] = A^T M[m, t] A, then bias and the fused activation. The GEMMs do 16 multiplies
// per 2x2 outputs and input channel where the direct form does 36 (2.25x fewer), at the cost of the three
// transforms.
//
// Tiles are processed in chunks whose transformed inputs (V) and products (M) stay in the L2 cache: each thread
// transforms a chunk of tiles, runs the 16 GEMMs on it with the serial sgemm, and writes that chunk's outputs
// before it moves on. The filter transform U is computed once per call (shared by all threads).
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"

namespace glassbox::kernels::cpu {

namespace {

constexpr int64_t kTransformed = 16;  // positions of a 4x4 transformed tile

bool winograd_applies(const Conv2dAttrs& a, const ConstView& w) {
  return w.dim(2) == 3 && w.dim(3) == 3 && a.stride_h == 1 && a.stride_w == 1 && a.dilation_h == 1 &&
         a.dilation_w == 1 && a.groups == 1;
}

struct Tiling {
  int64_t N, C, H, W, M, OH, OW;
  int64_t TH, TW, T;  // 2x2 output tiles per column and row of the output, and in all (over the batch)
};

// u[e * stride] = (G g G^T)[e] for one 3x3 filter g (row-major).
void transform_filter(const float* g, float* u, int64_t stride) {
  float q[4][3];  // G g: rows of g combined
  for (int j = 0; j < 3; ++j) {
    const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    q[0][j] = g0;
    q[1][j] = 0.5f * (g0 + g1 + g2);
    q[2][j] = 0.5f * (g0 - g1 + g2);
    q[3][j] = g2;
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T: columns combined the same way
    const float q0 = q[i][0], q1 = q[i][1], q2 = q[i][2];
    u[(i * 4 + 0) * stride] = q0;
    u[(i * 4 + 1) * stride] = 0.5f * (q0 + q1 + q2);
    u[(i * 4 + 2) * stride] = 0.5f * (q0 - q1 + q2);
    u[(i * 4 + 3) * stride] = q2;
  }
}

// U[e][m][c] for all filters, e-major so that U_e is a row-major M x C matrix.
void transform_filters(Context& ctx, const float* w, int64_t M, int64_t C, float* U) {
  ctx.pool.parallel_for(M, 8, [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m)
      for (int64_t c = 0; c < C; ++c) transform_filter(w + (m * C + c) * 9, U + m * C + c, M * C);
  });
}

// d = the 4x4 input tile of plane x (H x W) with corner (r0, c0), zero outside the plane.
void load_tile(const float* x, int64_t H, int64_t W, int64_t r0, int64_t c0, float d[4][4]) {
  if (r0 >= 0 && c0 >= 0 && r0 + 4 <= H && c0 + 4 <= W) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) d[i][j] = x[(r0 + i) * W + c0 + j];
    return;
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t r = r0 + i, c = c0 + j;
      d[i][j] = r >= 0 && r < H && c >= 0 && c < W ? x[r * W + c] : 0.f;
    }
}

// v[e * stride] = (B^T d B)[e].
void transform_input(const float d[4][4], float* v, int64_t stride) {
  float r[4][4];  // B^T d: rows combined
  for (int j = 0; j < 4; ++j) {
    r[0][j] = d[0][j] - d[2][j];
    r[1][j] = d[1][j] + d[2][j];
    r[2][j] = d[2][j] - d[1][j];
    r[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B: columns combined the same way
    v[(i * 4 + 0) * stride] = r[i][0] - r[i][2];
    v[(i * 4 + 1) * stride] = r[i][1] + r[i][2];
    v[(i * 4 + 2) * stride] = r[i][2] - r[i][1];
    v[(i * 4 + 3) * stride] = r[i][1] - r[i][3];
  }
}

// out[2][2] = A^T m A for the 16 values m[e * stride].
void transform_output(const float* m, int64_t stride, float out[2][2]) {
  float s[2][4];  // A^T m: rows combined
  for (int j = 0; j < 4; ++j) {
    const float m0 = m[j * stride], m1 = m[(4 + j) * stride], m2 = m[(8 + j) * stride], m3 = m[(12 + j) * stride];
    s[0][j] = m0 + m1 + m2;
    s[1][j] = m1 - m2 - m3;
  }
  for (int i = 0; i < 2; ++i) {
    out[i][0] = s[i][0] + s[i][1] + s[i][2];
    out[i][1] = s[i][1] - s[i][2] - s[i][3];
  }
}

// V[e][c][t - t0] for the tiles [t0, t1) (tile t = (n, th, tw), row-major) and every input channel.
void transform_inputs(const Conv2dAttrs& a, const Tiling& s, const float* x, int64_t t0, int64_t t1, float* V) {
  const int64_t tc = t1 - t0, stride = s.C * tc;
  float d[4][4];
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (s.TH * s.TW), th = t / s.TW % s.TH, tw = t % s.TW;
      load_tile(x + (n * s.C + c) * s.H * s.W, s.H, s.W, 2 * th - a.pad_top, 2 * tw - a.pad_left, d);
      transform_input(d, V + c * tc + (t - t0), stride);
    }
}

// y's 2x2 tiles [t0, t1) from Mo[e][m][t - t0]: A^T M A, plus bias, through the activation; tiles at the bottom
// and right edges write only the pixels inside the output.
void transform_outputs(const Conv2dAttrs& a, const Tiling& s, const float* Mo, const float* bias, int64_t t0,
                       int64_t t1, float* y) {
  const int64_t tc = t1 - t0, stride = s.M * tc;
  float out[2][2];
  for (int64_t m = 0; m < s.M; ++m) {
    const float bm = bias ? bias[m] : 0.f;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (s.TH * s.TW), th = t / s.TW % s.TH, tw = t % s.TW;
      transform_output(Mo + m * tc + (t - t0), stride, out);
      float* yp = y + (n * s.M + m) * s.OH * s.OW;
      for (int64_t i = 0; i < 2 && 2 * th + i < s.OH; ++i)
        for (int64_t j = 0; j < 2 && 2 * tw + j < s.OW; ++j)
          yp[(2 * th + i) * s.OW + 2 * tw + j] = a.act.apply(out[i][j] + bm);
    }
  }
}

// Tiles per chunk: V (16 x C x tc) and M (16 x M x tc) together about 1 MiB (an L2 cache), at least 16 tiles,
// a multiple of 16 (the sgemm micro-kernels' column tiles are 16 or 32 wide); fewer when that would leave a
// thread without a chunk.
int64_t chunk_tiles(const Tiling& s, int threads) {
  constexpr int64_t kBudgetFloats = 256 * 1024;
  int64_t tc = kBudgetFloats / (kTransformed * (s.C + s.M));
  tc = std::clamp<int64_t>(tc / 16 * 16, 16, 512);
  const int64_t per_thread = (s.T + threads - 1) / threads;
  return std::max<int64_t>(1, std::min(tc, per_thread));
}

}  // namespace

void conv2d_winograd_f2x3(Context& ctx, const Conv2dAttrs& a, ConstView xv, ConstView wv, ConstView bv, View yv) {
  if (!winograd_applies(a, wv)) {
    conv2d_im2col_gemm(ctx, a, xv, wv, bv, yv);
    return;
  }
  Tiling s{xv.dim(0), xv.dim(1), xv.dim(2), xv.dim(3), wv.dim(0), yv.dim(2), yv.dim(3), 0, 0, 0};
  s.TH = (s.OH + 1) / 2, s.TW = (s.OW + 1) / 2, s.T = s.N * s.TH * s.TW;
  const int threads = ctx.pool.size();
  const int64_t tc = chunk_tiles(s, threads), chunks = (s.T + tc - 1) / tc;
  const int64_t per_slot = kTransformed * (s.C + s.M) * tc;  // one thread's V and M
  float* U = ctx.scratch(kTransformed * s.M * s.C + threads * per_slot);
  transform_filters(ctx, wv.data, s.M, s.C, U);
  const float* bias = bv.empty() ? nullptr : bv.data;
  // One slot per thread (parallel_for makes at most `threads` chunks of [0, threads)), each with its own V and M
  // in the scratch; slot k runs tile chunks k, k + threads, ...
  ctx.pool.parallel_for(threads, 1, [&](int64_t b, int64_t e) {
    for (int64_t slot = b; slot < e; ++slot) {
      float* V = U + kTransformed * s.M * s.C + slot * per_slot;
      float* Mo = V + kTransformed * s.C * tc;
      for (int64_t chunk = slot; chunk < chunks; chunk += threads) {
        const int64_t t0 = chunk * tc, t1 = std::min(s.T, t0 + tc), n = t1 - t0;
        transform_inputs(a, s, xv.data, t0, t1, V);
        for (int64_t p = 0; p < kTransformed; ++p)
          sgemm_serial(ctx, s.M, n, s.C, 1.f, MatRef{U + p * s.M * s.C, s.C, 1}, MatRef{V + p * s.C * n, n, 1}, 0.f,
                       Mo + p * s.M * n, n);
        transform_outputs(a, s, Mo, bias, t0, t1, yv.data);
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
