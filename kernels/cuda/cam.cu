// Class activation maps (formulas and papers at CamMethod in kernels.h), bilinear resizing and min-max
// normalization on the device. cam runs in three kernels: per-image statistics (the means over Smooth Grad-CAM++'s
// noisy copies; for the other methods a plain copy of A and G), one block per (image, channel) for the channel
// weight, then one thread per (image, position) summing over channels.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

// a, g1, g2, g3 [N, C*P] = means over the S copies of A, G, G^2, G^3.
__global__ void cam_stats_kernel(const float* __restrict__ A, const float* __restrict__ G, float* a, float* g1,
                                 float* g2, float* g3, int64_t N, int64_t CP, int S) {
  const int64_t n_all = N * CP;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_all; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / CP, j = i % CP;
    float sa = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    for (int k = 0; k < S; ++k) {
      const float gv = G[(n * S + k) * CP + j];
      sa += A[(n * S + k) * CP + j], s1 += gv, s2 += gv * gv, s3 += gv * gv * gv;
    }
    a[i] = sa / S, g1[i] = s1 / S, g2[i] = s2 / S, g3[i] = s3 / S;
  }
}

// w[n, c]: one block of 256 threads per (image, channel); block sums in shared memory.
__global__ void cam_weights_kernel(CamMethod m, const float* __restrict__ a, const float* __restrict__ g1,
                                   const float* __restrict__ g2, const float* __restrict__ g3, float* w, int64_t P) {
  __shared__ float part[2][256];
  const int64_t base = int64_t(blockIdx.x) * P;
  const int t = threadIdx.x;
  auto block_sum = [&](float v, int slot) {
    part[slot][t] = v;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
      if (t < s) part[slot][t] += part[slot][t + s];
      __syncthreads();
    }
    const float total = part[slot][0];
    __syncthreads();
    return total;
  };
  float sa = 0.f, sg = 0.f;
  for (int64_t p = t; p < P; p += blockDim.x) sa += a[base + p], sg += g1[base + p];
  sa = block_sum(sa, 0);
  sg = block_sum(sg, 1);
  float local = 0.f;
  if (m == CamMethod::xgradcam) {
    if (sa != 0.f)
      for (int64_t p = t; p < P; p += blockDim.x) local += a[base + p] / sa * g1[base + p];
  } else if (m == CamMethod::gradcampp || m == CamMethod::smoothgradcampp) {
    for (int64_t p = t; p < P; p += blockDim.x) {  // alpha = G^2 / (2 G^2 + sum(A) G^3) where G^2 != 0
      const float sq = g2[base + p], den = 2.f * sq + sa * g3[base + p];
      if (sq != 0.f && den != 0.f) local += sq / den * fmaxf(g1[base + p], 0.f);
    }
  }
  local = block_sum(local, 0);
  if (t == 0) w[blockIdx.x] = m == CamMethod::cam ? sg : (m == CamMethod::gradcam ? sg / float(P) : local);
}

__global__ void cam_map_kernel(CamMethod m, const float* __restrict__ a, const float* __restrict__ g1,
                               const float* __restrict__ w, float* __restrict__ map, int64_t N, int64_t C, int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * P; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P, p = i % P;
    float s = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const int64_t j = (n * C + c) * P + p;
      switch (m) {
        case CamMethod::layercam: s += fmaxf(g1[j], 0.f) * a[j]; break;
        case CamMethod::hirescam: s += g1[j] * a[j]; break;
        case CamMethod::gradcam_elementwise: s += fmaxf(g1[j] * a[j], 0.f); break;
        default: s += w[n * C + c] * a[j];
      }
    }
    map[i] = (m == CamMethod::cam || m == CamMethod::hirescam) ? s : fmaxf(s, 0.f);
  }
}

__global__ void resize_bilinear_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t N, int64_t h,
                                       int64_t w, int64_t H, int64_t W) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * H * W; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t X = i % W, Y = (i / W) % H, n = i / (W * H);
    const float sy = fmaxf(0.f, (float(Y) + 0.5f) * float(h) / float(H) - 0.5f);
    const float sx = fmaxf(0.f, (float(X) + 0.5f) * float(w) / float(W) - 0.5f);
    const int64_t y0 = min(int64_t(sy), h - 1), x0 = min(int64_t(sx), w - 1);
    const int64_t y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1);
    const float ty = sy - float(y0), tx = sx - float(x0);
    const float* p = x + n * h * w;
    const float top = p[y0 * w + x0] + (p[y0 * w + x1] - p[y0 * w + x0]) * tx;
    const float bottom = p[y1 * w + x0] + (p[y1 * w + x1] - p[y1 * w + x0]) * tx;
    y[i] = top + (bottom - top) * ty;
  }
}

// One block of 256 threads per map: min and max by block reduction, then the scaling.
__global__ void normalize_minmax_kernel(float* maps, int64_t P) {
  __shared__ float lo[256], hi[256];
  float* m = maps + int64_t(blockIdx.x) * P;
  const int t = threadIdx.x;
  float a = INFINITY, b = -INFINITY;
  for (int64_t p = t; p < P; p += blockDim.x) a = fminf(a, m[p]), b = fmaxf(b, m[p]);
  lo[t] = a, hi[t] = b;
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) {
    if (t < s) lo[t] = fminf(lo[t], lo[t + s]), hi[t] = fmaxf(hi[t], hi[t + s]);
    __syncthreads();
  }
  const float low = lo[0], range = hi[0] - lo[0];
  for (int64_t p = t; p < P; p += blockDim.x) m[p] = range > 0.f ? (m[p] - low) / range : 0.f;
}

}  // namespace

void cam(Context& ctx, CamMethod method, int samples, ConstView A, ConstView G, View map) {
  const int S = method == CamMethod::smoothgradcampp ? samples : 1;
  const int64_t N = map.dim(0), C = A.dim(1), P = A.dim(2) * A.dim(3);
  GB_CHECK(S >= 1 && A.dim(0) == N * S && A.shape == G.shape, "cam: A ", shape_str(A.shape), ", G ",
           shape_str(G.shape), " and maps ", shape_str(map.shape), " do not fit ", S, " sample(s) per image");
  if (N == 0 || P == 0) return;
  // Scratch: a, g1, g2, g3 [N, C, P] and the weights [N, C].
  float* scratch = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(4 * N * C * P + N * C)));
  float *a = scratch, *g1 = a + N * C * P, *g2 = g1 + N * C * P, *g3 = g2 + N * C * P, *w = g3 + N * C * P;
  GB_LAUNCH(cam_stats_kernel, ctx.grid_for(N * C * P, 256), 256, 0, ctx.stream())(A.data, G.data, a, g1, g2, g3, N,
                                                                                  C * P, S);
  check_launch("cam statistics");
  GB_CHECK(N * C < (int64_t(1) << 31), "cam: too many channels");
  GB_LAUNCH(cam_weights_kernel, static_cast<unsigned>(N * C), 256, 0, ctx.stream())(method, a, g1, g2, g3, w, P);
  check_launch("cam weights");
  GB_LAUNCH(cam_map_kernel, ctx.grid_for(N * P, 256), 256, 0, ctx.stream())(method, a, g1, w, map.data, N, C, P);
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

}  // namespace glassbox::kernels::cuda
