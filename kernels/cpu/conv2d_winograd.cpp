// Convolution, CPU, variant "winograd_f2x3": Winograd's minimal filtering F(2x2, 3x3) for 3x3 convolutions with
// stride 1, dilation 1 and one group (A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016: the F(2x2, 3x3) matrices of section 4.1, the batched-GEMM formulation of section 4). Every other
// convolution runs the default path (conv2d_im2col_gemm).
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
// 4x4 transformed tile is one GEMM:
//   M_e[m, t] = sum_c U_e[m, c] V_e[c, t],   U_e[m, c] = (G w[m, c] G^T)[e],   V_e[c, t] = (B^T d[c, t] B)[e]
// and the output tile is Y[m, t] = A^T M[m, t] A, then bias and the fused activation. The GEMMs do 16 multiplies
// per 2x2 outputs and input channel where the direct form does 36 (2.25x fewer), at the cost of the three
// transforms.
//
// Schedule: U is computed once per call (shared; the kernel interface has no per-layer state in which to keep it
// between calls, as an engine that transforms weights at load time would). The tiles are cut into chunks sized so
// that re-reading U per chunk costs no more than the chunk's own transforms; a thread transforms a chunk's inputs,
// runs its 16 GEMMs with the serial sgemm and writes its outputs before it moves on (with fewer chunks than
// threads, the output channels are split too). The transforms work on 16 filters or tiles at a time, so that they
// vectorize and write whole cache lines. docs/kernels.md measures it against im2col_gemm.
#include <algorithm>
#include <vector>

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

// The transforms work on groups of kLanes filters or tiles at once, each value of a 3x3 filter or 4x4 tile a row of
// kLanes floats: the arithmetic vectorizes across the group, and every store to U or V (and load from M) is kLanes
// contiguous floats.
constexpr int64_t kLanes = 16;

// u[e * stride + l] = (G g_l G^T)[e] for the 3x3 filters g_l = w[m, c0 + l], l < lanes (<= kLanes).
void transform_filters(const float* w, int64_t C, int64_t m, int64_t c0, int64_t lanes, float* u, int64_t stride) {
  float g[3][3][kLanes] = {};
  for (int64_t l = 0; l < lanes; ++l)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) g[i][j][l] = w[((m * C + c0 + l) * 3 + i) * 3 + j];
  float q[4][3][kLanes];  // G g: rows of g combined
  for (int j = 0; j < 3; ++j)
    for (int64_t l = 0; l < kLanes; ++l) {
      q[0][j][l] = g[0][j][l];
      q[1][j][l] = 0.5f * (g[0][j][l] + g[1][j][l] + g[2][j][l]);
      q[2][j][l] = 0.5f * (g[0][j][l] - g[1][j][l] + g[2][j][l]);
      q[3][j][l] = g[2][j][l];
    }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T: columns combined the same way
    float* u0 = u + (i * 4) * stride;
    for (int64_t l = 0; l < lanes; ++l) {
      u0[l] = q[i][0][l];
      u0[stride + l] = 0.5f * (q[i][0][l] + q[i][1][l] + q[i][2][l]);
      u0[2 * stride + l] = 0.5f * (q[i][0][l] - q[i][1][l] + q[i][2][l]);
      u0[3 * stride + l] = q[i][2][l];
    }
  }
}

// U[e][m][c] for all filters, e-major so that U_e is a row-major M x C matrix.
void transform_all_filters(Context& ctx, const float* w, int64_t M, int64_t C, float* U) {
  ctx.pool.parallel_for(M, 8, [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m)
      for (int64_t c = 0; c < C; c += kLanes)
        transform_filters(w, C, m, c, std::min(kLanes, C - c), U + m * C + c, M * C);
  });
}

// Where the tiles t0 + l (l < count <= kLanes) of a group are: the offset of their image, the top-left corner of
// their 2x2 output tile, and whether their 4x4 input tile lies inside the input (no bounds checks needed). Computed
// once per group, not per channel.
struct TileGroup {
  int64_t count = 0;
  int64_t image[kLanes], row[kLanes], col[kLanes];
  bool inside[kLanes];
};

TileGroup tile_group(const Conv2dAttrs& a, const Tiling& s, int64_t t0, int64_t t1) {
  TileGroup g;
  g.count = std::min(kLanes, t1 - t0);
  for (int64_t l = 0; l < g.count; ++l) {
    const int64_t t = t0 + l;
    g.image[l] = t / (s.TH * s.TW), g.row[l] = 2 * (t / s.TW % s.TH), g.col[l] = 2 * (t % s.TW);
    const int64_t r0 = g.row[l] - a.pad_top, c0 = g.col[l] - a.pad_left;
    g.inside[l] = r0 >= 0 && c0 >= 0 && r0 + 4 <= s.H && c0 + 4 <= s.W;
  }
  return g;
}

// d[i][j][l] = the 4x4 input tile of channel c for the group's tile l, zero outside the input and past its count.
void load_tiles(const Conv2dAttrs& a, const Tiling& s, const float* x, int64_t c, const TileGroup& g,
                float d[4][4][kLanes]) {
  for (int64_t l = 0; l < kLanes; ++l) {
    if (l >= g.count) {
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j][l] = 0.f;
      continue;
    }
    const int64_t r0 = g.row[l] - a.pad_top, c0 = g.col[l] - a.pad_left;
    const float* p = x + (g.image[l] * s.C + c) * s.H * s.W;
    if (g.inside[l]) {
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j][l] = p[(r0 + i) * s.W + c0 + j];
      continue;
    }
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int64_t r = r0 + i, q = c0 + j;
        d[i][j][l] = r >= 0 && r < s.H && q >= 0 && q < s.W ? p[r * s.W + q] : 0.f;
      }
  }
}

// v[e * stride + l] = (B^T d_l B)[e] for the kLanes tiles l.
void transform_inputs(const float d[4][4][kLanes], float* v, int64_t stride) {
  float r[4][4][kLanes];  // B^T d: rows combined
  for (int j = 0; j < 4; ++j)
    for (int64_t l = 0; l < kLanes; ++l) {
      r[0][j][l] = d[0][j][l] - d[2][j][l];
      r[1][j][l] = d[1][j][l] + d[2][j][l];
      r[2][j][l] = d[2][j][l] - d[1][j][l];
      r[3][j][l] = d[1][j][l] - d[3][j][l];
    }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B: columns combined the same way
    float* v0 = v + (i * 4) * stride;
    for (int64_t l = 0; l < kLanes; ++l) {
      v0[l] = r[i][0][l] - r[i][2][l];
      v0[stride + l] = r[i][1][l] + r[i][2][l];
      v0[2 * stride + l] = r[i][2][l] - r[i][1][l];
      v0[3 * stride + l] = r[i][1][l] - r[i][3][l];
    }
  }
}

// out[i][j][l] = (A^T m_l A)[i][j] for the kLanes tiles l, m_l[e] = m[e * stride + l].
void transform_outputs(const float* m, int64_t stride, float out[2][2][kLanes]) {
  float s[2][4][kLanes];  // A^T m: rows combined
  for (int j = 0; j < 4; ++j)
    for (int64_t l = 0; l < kLanes; ++l) {
      const float m0 = m[j * stride + l], m1 = m[(4 + j) * stride + l], m2 = m[(8 + j) * stride + l],
                  m3 = m[(12 + j) * stride + l];
      s[0][j][l] = m0 + m1 + m2;
      s[1][j][l] = m1 - m2 - m3;
    }
  for (int i = 0; i < 2; ++i)
    for (int64_t l = 0; l < kLanes; ++l) {
      out[i][0][l] = s[i][0][l] + s[i][1][l] + s[i][2][l];
      out[i][1][l] = s[i][1][l] - s[i][2][l] - s[i][3][l];
    }
}

// Output channel m of the group's 2x2 tiles: out + bias through the activation (one vectorized pass per tile
// position), then stored; tiles at the bottom and right edges write only the pixels inside the output.
void store_tiles(const Conv2dAttrs& a, const Tiling& s, const TileGroup& g, float out[2][2][kLanes], float bias,
                 int64_t m, float* y) {
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) apply_activation(a.act, out[i][j], out[i][j], kLanes, bias);
  for (int64_t l = 0; l < g.count; ++l) {
    float* yp = y + (g.image[l] * s.M + m) * s.OH * s.OW;
    for (int64_t i = 0; i < 2 && g.row[l] + i < s.OH; ++i)
      for (int64_t j = 0; j < 2 && g.col[l] + j < s.OW; ++j) yp[(g.row[l] + i) * s.OW + g.col[l] + j] = out[i][j][l];
  }
}

// One thread's buffers for a chunk of tc tiles (tc a multiple of kLanes): V [16][C][tc] and M [16][M][tc], each
// position e a row-major matrix; consecutive positions one cache line further apart than the matrix size, so that
// the 16 streams of a transform do not fall into the same cache sets.
struct ChunkBuffers {
  float *V, *Mo;
  int64_t v_stride, m_stride;
  static int64_t floats(const Tiling& s, int64_t tc) { return kTransformed * ((s.C + s.M) * tc + 32); }
  ChunkBuffers(float* p, const Tiling& s, int64_t tc)
      : V(p), Mo(p + kTransformed * (s.C * tc + 16)), v_stride(s.C * tc + 16), m_stride(s.M * tc + 16) {}
};

// One piece of work: the tiles [t0, t1) (at most tc of them) for the output channels [m0, m1): V = B^T d B, the 16
// GEMMs M_e = U_e V_e on those rows of U_e, y = A^T M A (+ bias, act).
struct Work {
  int64_t t0, t1, m0, m1;
};

void run_work(const Context& ctx, const Conv2dAttrs& a, const Tiling& s, const float* x, const float* U,
              const float* bias, const Work& w, int64_t tc, const ChunkBuffers& b, float* y) {
  const int64_t n = w.t1 - w.t0, rows = w.m1 - w.m0;
  float d[4][4][kLanes], out[2][2][kLanes];
  for (int64_t k = 0; k < n; k += kLanes) {
    const TileGroup g = tile_group(a, s, w.t0 + k, w.t1);
    for (int64_t c = 0; c < s.C; ++c) {
      load_tiles(a, s, x, c, g, d);
      transform_inputs(d, b.V + c * tc + k, b.v_stride);
    }
  }
  for (int64_t e = 0; e < kTransformed; ++e)
    sgemm_serial(ctx, rows, n, s.C, 1.f, MatRef{U + e * s.M * s.C + w.m0 * s.C, s.C, 1},
                 MatRef{b.V + e * b.v_stride, tc, 1}, 0.f, b.Mo + e * b.m_stride, tc);
  for (int64_t k = 0; k < n; k += kLanes) {
    const TileGroup g = tile_group(a, s, w.t0 + k, w.t1);
    for (int64_t m = w.m0; m < w.m1; ++m) {
      transform_outputs(b.Mo + (m - w.m0) * tc + k, b.m_stride, out);
      store_tiles(a, s, g, out, bias ? bias[m] : 0.f, m, y);
    }
  }
}

// Tiles per chunk. Each chunk's 16 GEMMs pack (read) all of U, 16 x M x C floats, and its transforms write and
// read 16 x (C + M) floats per tile: with about 2MC / (C + M) tiles per chunk (the channel count when C = M) the
// two costs are equal, so U's share stays small. A multiple of kLanes, at least 32 (the widest micro-kernel's
// column tile), at most 512; fewer when that would leave a thread without a chunk.
int64_t chunk_tiles(const Tiling& s, int threads) {
  const int64_t balance = (2 * s.M * s.C / (s.M + s.C) + kLanes - 1) / kLanes * kLanes;
  const int64_t per_thread = ((s.T + threads - 1) / threads + kLanes - 1) / kLanes * kLanes;
  return std::min(std::clamp<int64_t>(balance, 32, 512), per_thread);
}

// The work list: every chunk of tiles; when there are fewer chunks than threads (small planes), each chunk's output
// channels are also split (whole micro-tile rows of 12), so that every thread has work. A split repeats the chunk's
// input transform, a small part of the work.
std::vector<Work> work_list(const Tiling& s, int64_t tc, int threads) {
  const int64_t chunks = (s.T + tc - 1) / tc;
  const int64_t splits = std::clamp<int64_t>(threads / chunks, 1, (s.M + 11) / 12);
  const int64_t rows = ((s.M + splits - 1) / splits + 11) / 12 * 12;
  std::vector<Work> list;
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t m0 = 0; m0 < s.M; m0 += rows)
      list.push_back({k * tc, std::min(s.T, k * tc + tc), m0, std::min(s.M, m0 + rows)});
  return list;
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
  const int64_t tc = chunk_tiles(s, threads), per_slot = ChunkBuffers::floats(s, tc);
  const std::vector<Work> work = work_list(s, tc, threads);
  float* U = ctx.scratch(kTransformed * s.M * s.C + threads * per_slot);
  transform_all_filters(ctx, wv.data, s.M, s.C, U);
  const float* bias = bv.empty() ? nullptr : bv.data;
  // One slot per thread (parallel_for makes at most `threads` chunks of [0, threads)), each with its own buffers
  // in the scratch; slot k runs the work items k, k + threads, ...
  ctx.pool.parallel_for(threads, 1, [&](int64_t b, int64_t e) {
    for (int64_t slot = b; slot < e; ++slot) {
      const ChunkBuffers buffers(U + kTransformed * s.M * s.C + slot * per_slot, s, tc);
      for (size_t i = size_t(slot); i < work.size(); i += size_t(threads))
        run_work(ctx, a, s, xv.data, U, bias, work[i], tc, buffers, yv.data);
    }
  });
}

}  // namespace glassbox::kernels::cpu
