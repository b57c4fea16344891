// Class activation maps (formulas and papers at CamMethod in kernels.h), bilinear resizing, min-max normalization
// and LayerCAM's fusion on the device. cam runs in two kernels, one block per (map, channel) for the channel weight,
// then one thread per (map, position) summing over channels; both read A and G in place (K maps per image read
// their image's A row). Smooth Grad-CAM++ first averages A, G, G^2, G^3 over the noisy copies into scratch.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

// a, g1, g2, g3 [M, C*P] = means over the S copies of A, G, G^2, G^3: map r (image r / K, target r % K) reads A
// row (r / K) * S + s and its G row ((r / K) * S + s) * K + r % K.
__global__ void cam_stats_kernel(const float* __restrict__ A, const float* __restrict__ G, float* a, float* g1,
                                 float* g2, float* g3, int64_t M, int64_t CP, int S, int64_t K) {
  const int64_t n_all = M * CP;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_all; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / CP, j = i % CP;
    float sa = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    for (int s = 0; s < S; ++s) {
      const int64_t a_row = (r / K) * S + s;
      const float gv = G[(a_row * K + r % K) * CP + j];
      sa += A[a_row * CP + j], s1 += gv, s2 += gv * gv, s3 += gv * gv * gv;
    }
    a[i] = sa / S, g1[i] = s1 / S, g2[i] = s2 / S, g3[i] = s3 / S;
  }
}

// The statistics cam reads: for map n, channel c, position p, the element (n / K * C + c) * P + p of a and
// (n * C + c) * P + p of g1, g2, g3; g2 and g3 are null when they are the powers of g1 (one sample).
struct CamInputs {
  const float* a;
  const float* g1;
  const float* g2;
  const float* g3;
  int64_t K, C, P;
  __device__ float sq(int64_t j) const { return g2 ? g2[j] : g1[j] * g1[j]; }
  __device__ float cube(int64_t j) const { return g3 ? g3[j] : g1[j] * g1[j] * g1[j]; }
  __device__ int64_t a_at(int64_t n, int64_t c, int64_t p) const { return ((n / K) * C + c) * P + p; }
};

// w[n, c]: one block of 256 threads per (map, channel); block sums in shared memory.
__global__ void cam_weights_kernel(CamMethod m, CamInputs in, float* w) {
  __shared__ float scratch[256];
  const int64_t n = blockIdx.x / in.C, c = blockIdx.x % in.C, P = in.P;
  const int64_t gbase = int64_t(blockIdx.x) * P, abase = in.a_at(n, c, 0);
  const float* a = in.a + abase;
  const float* g1 = in.g1 + gbase;
  const int t = threadIdx.x;
  float sa = 0.f, sg = 0.f;
  for (int64_t p = t; p < P; p += blockDim.x) sa += a[p], sg += g1[p];
  sa = block_reduce<256>(sa, scratch, SumOp{});
  sg = block_reduce<256>(sg, scratch, SumOp{});
  float local = 0.f;
  if (m == CamMethod::xgradcam) {
    if (sa != 0.f)
      for (int64_t p = t; p < P; p += blockDim.x) local += a[p] / sa * g1[p];
  } else if (m == CamMethod::gradcampp || m == CamMethod::smoothgradcampp) {
    for (int64_t p = t; p < P; p += blockDim.x) {  // alpha = G^2 / (2 G^2 + sum(A) G^3) where G^2 != 0
      const float sq = in.sq(gbase + p), den = 2.f * sq + sa * in.cube(gbase + p);
      if (sq != 0.f && den != 0.f) local += sq / den * fmaxf(g1[p], 0.f);
    }
  }
  local = block_reduce<256>(local, scratch, SumOp{});
  if (t == 0) w[blockIdx.x] = m == CamMethod::cam ? sg : (m == CamMethod::gradcam ? sg / float(P) : local);
}

__global__ void cam_map_kernel(CamMethod m, CamInputs in, const float* __restrict__ w, float* __restrict__ map,
                               int64_t N) {
  const int64_t C = in.C, P = in.P;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * P; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P, p = i % P;
    float s = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const float a = in.a[in.a_at(n, c, p)], g = in.g1[(n * C + c) * P + p];
      switch (m) {
        case CamMethod::layercam: s += fmaxf(g, 0.f) * a; break;
        case CamMethod::hirescam: s += g * a; break;
        case CamMethod::gradcam_elementwise: s += fmaxf(g * a, 0.f); break;
        default: s += w[n * C + c] * a;
      }
    }
    map[i] = (m == CamMethod::cam || m == CamMethod::hirescam) ? s : fmaxf(s, 0.f);
  }
}

__global__ void resize_bilinear_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t N, int64_t h,
                                       int64_t w, int64_t H, int64_t W) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * H * W; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t X = i % W, Y = (i / W) % H, n = i / (W * H);
    int64_t y0, y1, x0, x1;
    float ty, tx;
    bilinear_source(Y, h, H, y0, y1, ty);
    bilinear_source(X, w, W, x0, x1, tx);
    const float* p = x + n * h * w;
    const float top = p[y0 * w + x0] + (p[y0 * w + x1] - p[y0 * w + x0]) * tx;
    const float bottom = p[y1 * w + x0] + (p[y1 * w + x1] - p[y1 * w + x0]) * tx;
    y[i] = top + (bottom - top) * ty;
  }
}

// One block of 256 threads per map: min and max by block reduction, then the scaling.
__global__ void normalize_minmax_kernel(float* maps, int64_t P) {
  __shared__ float scratch[256];
  float* m = maps + int64_t(blockIdx.x) * P;
  const int t = threadIdx.x;
  float a = INFINITY, b = -INFINITY;
  for (int64_t p = t; p < P; p += blockDim.x) a = fminf(a, m[p]), b = fmaxf(b, m[p]);
  const float low = block_reduce<256>(a, scratch, MinOp{}), range = block_reduce<256>(b, scratch, MaxOp{}) - low;
  for (int64_t p = t; p < P; p += blockDim.x) m[p] = range > 0.f ? (m[p] - low) / range : 0.f;
}

// One block of 256 threads per map: its maximum by block reduction, then fused = max(fused, tanh(gamma m / max)).
__global__ void fuse_layer_maps_kernel(float gamma, bool first, const float* __restrict__ maps, float* fused,
                                       int64_t P) {
  __shared__ float scratch[256];
  const float* m = maps + int64_t(blockIdx.x) * P;
  float* f = fused + int64_t(blockIdx.x) * P;
  const int t = threadIdx.x;
  float b = -INFINITY;
  for (int64_t p = t; p < P; p += blockDim.x) b = fmaxf(b, m[p]);
  const float top = block_reduce<256>(b, scratch, MaxOp{});
  for (int64_t p = t; p < P; p += blockDim.x) {
    const float scaled = top > 0.f ? tanhf(gamma * m[p] / top) : 0.f;
    f[p] = first ? scaled : fmaxf(f[p], scaled);
  }
}

}  // namespace

void cam(Context& ctx, CamMethod method, int samples, ConstView A, ConstView G, View map) {
  const int S = method == CamMethod::smoothgradcampp ? samples : 1;
  GB_CHECK(A.shape.size() == 4 && G.shape.size() == 4 && map.shape.size() == 3, "cam: A ", shape_str(A.shape),
           " and G ", shape_str(G.shape), " must be [N, C, H, W], maps ", shape_str(map.shape), " [N, H, W]");
  const int64_t M = map.dim(0), C = A.dim(1), P = A.dim(2) * A.dim(3);
  const int64_t K = A.dim(0) > 0 ? G.dim(0) / A.dim(0) : 0;
  GB_CHECK(S >= 1 && K >= 1 && A.dim(0) % S == 0 && G.dim(0) == A.dim(0) * K && M == A.dim(0) / S * K &&
               G.dim(1) == C && G.dim(2) == A.dim(2) && G.dim(3) == A.dim(3) && map.dim(1) == A.dim(2) &&
               map.dim(2) == A.dim(3),
           "cam: A ", shape_str(A.shape), ", G ", shape_str(G.shape), " and maps ", shape_str(map.shape),
           " do not fit ", S, " sample(s) per image");
  if (M == 0 || P == 0) return;
  GB_CHECK(M * C < (int64_t(1) << 31), "cam: too many channels");
  // Scratch: the weights [M, C], then for Smooth Grad-CAM++ a, g1, g2, g3 [M, C, P].
  const int64_t stats = S > 1 ? 4 * M * C * P : 0;
  float* w = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(M * C + stats)));
  CamInputs in{A.data, G.data, nullptr, nullptr, K, C, P};
  if (S > 1) {
    float *a = w + M * C, *g1 = a + M * C * P, *g2 = g1 + M * C * P, *g3 = g2 + M * C * P;
    GB_LAUNCH(cam_stats_kernel, ctx.grid_for(M * C * P, 256), 256, 0, ctx.stream())(A.data, G.data, a, g1, g2, g3, M,
                                                                                    C * P, S, K);
    check_launch("cam statistics");
    in = {a, g1, g2, g3, 1, C, P};
  }
  GB_LAUNCH(cam_weights_kernel, static_cast<unsigned>(M * C), 256, 0, ctx.stream())(method, in, w);
  check_launch("cam weights");
  GB_LAUNCH(cam_map_kernel, ctx.grid_for(M * P, 256), 256, 0, ctx.stream())(method, in, w, map.data, M);
  check_launch("cam map");
}

void resize_bilinear(Context& ctx, ConstView x, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  GB_LAUNCH(resize_bilinear_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(x.data, y.data, x.dim(0), x.dim(1),
                                                                                x.dim(2), y.dim(1), y.dim(2));
  check_launch("resize_bilinear");
}

void normalize_minmax(Context& ctx, View maps) {
  const int64_t N = maps.dim(0);
  if (N == 0 || maps.numel() == 0) return;
  GB_LAUNCH(normalize_minmax_kernel, static_cast<unsigned>(N), 256, 0, ctx.stream())(maps.data, maps.numel() / N);
  check_launch("normalize_minmax");
}

void fuse_layer_maps(Context& ctx, float gamma, bool first, ConstView map, View fused) {
  GB_CHECK(map.shape == fused.shape, "fuse_layer_maps: map ", shape_str(map.shape), " and fused ",
           shape_str(fused.shape), " differ");
  const int64_t N = map.dim(0);
  if (N == 0 || map.numel() == 0) return;
  GB_LAUNCH(fuse_layer_maps_kernel, static_cast<unsigned>(N), 256, 0, ctx.stream())(gamma, first, map.data, fused.data,
                                                                                    map.numel() / N);
  check_launch("fuse_layer_maps");
}

}  // namespace glassbox::kernels::cuda
