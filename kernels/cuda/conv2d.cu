// Convolution, two kernels written from the definition (kernels.h):
//   y[n,m,oh,ow] = act(bias[m] + sum_{c,kh,kw} x[n, g*Cg + c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw] * w[m,c,kh,kw])
// - direct: a block computes a 16 x 16 tile of output pixels for 8 output channels of one image; for each input
//   channel of the group it stages the input patch the tile needs and the 8 filters' taps in shared memory.
//   Any kernel size, stride, dilation, padding and group count (the patch must fit in 48 KB).
// - depthwise (one input channel per group, any channel multiplier): a block computes a tile of one output
//   channel's plane from an input patch in shared memory; MobileNet's and EfficientNet's 3x3 / 5x5 layers.
// The implicit-GEMM variants are in conv2d_implicit_gemm.cu and conv2d_tf32.cu.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kTile = 16;           // direct: output tile kTile x kTile, one thread per pixel
constexpr int kChannelsPerBlock = 8;
constexpr size_t kMaxSharedBytes = 48 * 1024;

struct ConvShape {
  int N, C, H, W, M, OH, OW, Cg, Mg, KH, KW, sh, sw, pt, pl, dh, dw;
  int PH, PW;  // the input patch of one output tile
};

ConvShape conv_shape(const Conv2dAttrs& a, ConstView x, ConstView w, View y, int tile_h, int tile_w) {
  constexpr int64_t kMax = int64_t(1) << 31;
  GB_CHECK(x.numel() < kMax && y.numel() < kMax, "convolution of ", shape_str(x.shape),
           ": the direct kernels index with 32 bits; split the batch");
  ConvShape s;
  s.N = static_cast<int>(x.dim(0)), s.C = static_cast<int>(x.dim(1)), s.H = static_cast<int>(x.dim(2));
  s.W = static_cast<int>(x.dim(3)), s.M = static_cast<int>(y.dim(1)), s.OH = static_cast<int>(y.dim(2));
  s.OW = static_cast<int>(y.dim(3)), s.Cg = static_cast<int>(w.dim(1)), s.Mg = static_cast<int>(s.M / a.groups);
  s.KH = static_cast<int>(w.dim(2)), s.KW = static_cast<int>(w.dim(3));
  s.sh = static_cast<int>(a.stride_h), s.sw = static_cast<int>(a.stride_w);
  s.pt = static_cast<int>(a.pad_top), s.pl = static_cast<int>(a.pad_left);
  s.dh = static_cast<int>(a.dilation_h), s.dw = static_cast<int>(a.dilation_w);
  s.PH = (tile_h - 1) * s.sh + (s.KH - 1) * s.dh + 1;
  s.PW = (tile_w - 1) * s.sw + (s.KW - 1) * s.dw + 1;
  return s;
}

// Fills patch[PH][PW] with x's plane `plane` at rows ih0.., columns iw0.. (0 outside the image).
__device__ void stage_patch(float* patch, const float* plane, const ConvShape& s, int ih0, int iw0, int tid,
                            int threads) {
  for (int i = tid; i < s.PH * s.PW; i += threads) {
    const int ih = ih0 + i / s.PW, iw = iw0 + i % s.PW;
    patch[i] = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W ? plane[ih * s.W + iw] : 0.f;
  }
}

// grid: x = output tiles of the plane, y = group x channel block, z = image. block: kTile x kTile.
__global__ void conv2d_direct_kernel(const ConvShape s, ActivationAttrs act, const float* __restrict__ x,
                                     const float* __restrict__ w, const float* __restrict__ bias,
                                     float* __restrict__ y) {
  GB_DYNAMIC_SHARED(float, shared);
  float* patch = shared;                         // [PH][PW]
  float* taps = shared + s.PH * s.PW;            // [kChannelsPerBlock][KH][KW]
  const int tiles_w = (s.OW + kTile - 1) / kTile;
  const int oh0 = (blockIdx.x / tiles_w) * kTile, ow0 = (blockIdx.x % tiles_w) * kTile;
  const int blocks_per_group = (s.Mg + kChannelsPerBlock - 1) / kChannelsPerBlock;
  const int g = blockIdx.y / blocks_per_group, m0 = g * s.Mg + (blockIdx.y % blocks_per_group) * kChannelsPerBlock;
  const int m_end = min(m0 + kChannelsPerBlock, (g + 1) * s.Mg);
  const int img = blockIdx.z, tid = threadIdx.y * kTile + threadIdx.x;
  const int oh = oh0 + threadIdx.y, ow = ow0 + threadIdx.x;
  const int ih0 = oh0 * s.sh - s.pt, iw0 = ow0 * s.sw - s.pl;
  const int taps_per_filter = s.KH * s.KW;

  float acc[kChannelsPerBlock] = {};
  for (int c = 0; c < s.Cg; ++c) {
    stage_patch(patch, x + (static_cast<size_t>(img) * s.C + g * s.Cg + c) * s.H * s.W, s, ih0, iw0, tid,
                kTile * kTile);
    for (int i = tid; i < kChannelsPerBlock * taps_per_filter; i += kTile * kTile) {
      const int m = m0 + i / taps_per_filter;
      taps[i] = m < m_end ? w[(static_cast<size_t>(m) * s.Cg + c) * taps_per_filter + i % taps_per_filter] : 0.f;
    }
    __syncthreads();
    for (int kh = 0; kh < s.KH; ++kh)
      for (int kw = 0; kw < s.KW; ++kw) {
        const float v = patch[(threadIdx.y * s.sh + kh * s.dh) * s.PW + threadIdx.x * s.sw + kw * s.dw];
#pragma unroll
        for (int j = 0; j < kChannelsPerBlock; ++j) acc[j] = fmaf(v, taps[j * taps_per_filter + kh * s.KW + kw], acc[j]);
      }
    __syncthreads();
  }
  if (oh >= s.OH || ow >= s.OW) return;
  for (int j = 0; j < kChannelsPerBlock && m0 + j < m_end; ++j) {
    const int m = m0 + j;
    y[((static_cast<size_t>(img) * s.M + m) * s.OH + oh) * s.OW + ow] = act.apply(acc[j] + (bias ? bias[m] : 0.f));
  }
}

// grid: x = output tiles of the plane, y = output channel, z = image. block: 256 threads as tile_h x tile_w.
__global__ void conv2d_depthwise_kernel(const ConvShape s, int tile_h, int tile_w, ActivationAttrs act,
                                        const float* __restrict__ x, const float* __restrict__ w,
                                        const float* __restrict__ bias, float* __restrict__ y) {
  GB_DYNAMIC_SHARED(float, shared);
  float* patch = shared;               // [PH][PW]
  float* taps = shared + s.PH * s.PW;  // [KH][KW]
  const int tiles_w = (s.OW + tile_w - 1) / tile_w;
  const int oh0 = (blockIdx.x / tiles_w) * tile_h, ow0 = (blockIdx.x % tiles_w) * tile_w;
  const int m = blockIdx.y, c = m / s.Mg, img = blockIdx.z, tid = threadIdx.x;
  const int taps_per_filter = s.KH * s.KW;
  stage_patch(patch, x + (static_cast<size_t>(img) * s.C + c) * s.H * s.W, s, oh0 * s.sh - s.pt, ow0 * s.sw - s.pl,
              tid, blockDim.x);
  for (int i = tid; i < taps_per_filter; i += blockDim.x) taps[i] = w[static_cast<size_t>(m) * taps_per_filter + i];
  __syncthreads();
  const int ty = tid / tile_w, tx = tid % tile_w, oh = oh0 + ty, ow = ow0 + tx;
  if (ty >= tile_h || oh >= s.OH || ow >= s.OW) return;
  float acc = bias ? bias[m] : 0.f;
  for (int kh = 0; kh < s.KH; ++kh)
    for (int kw = 0; kw < s.KW; ++kw)
      acc = fmaf(patch[(ty * s.sh + kh * s.dh) * s.PW + tx * s.sw + kw * s.dw], taps[kh * s.KW + kw], acc);
  y[((static_cast<size_t>(img) * s.M + m) * s.OH + oh) * s.OW + ow] = act.apply(acc);
}

}  // namespace

bool is_depthwise(const Conv2dAttrs& a, ConstView x, ConstView w) {
  return a.groups > 1 && a.groups == x.dim(1) && w.dim(1) == 1;
}

void conv2d_direct(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y) {
  if (y.numel() == 0) return;
  const ConvShape s = conv_shape(a, x, w, y, kTile, kTile);
  const size_t shared = (static_cast<size_t>(s.PH) * s.PW + kChannelsPerBlock * s.KH * s.KW) * sizeof(float);
  GB_CHECK(shared <= kMaxSharedBytes, "conv2d direct: a ", s.KH, "x", s.KW, " kernel with stride ", s.sh, "x", s.sw,
           " and dilation ", s.dh, "x", s.dw, " needs ", shared, " bytes of shared memory (48 KB available); use the ",
           "implicit_gemm variant");
  const int tiles = ((s.OH + kTile - 1) / kTile) * ((s.OW + kTile - 1) / kTile);
  const int channel_blocks = static_cast<int>(a.groups) * ((s.Mg + kChannelsPerBlock - 1) / kChannelsPerBlock);
  GB_CHECK(channel_blocks <= 65535 && s.N <= 65535, "conv2d direct: grid too large");
  GB_LAUNCH(conv2d_direct_kernel, dim3(tiles, channel_blocks, s.N), dim3(kTile, kTile), shared, ctx.stream())(
      s, a.act, x.data, w.data, bias.empty() ? nullptr : bias.data, y.data);
  check_launch("conv2d direct");
}

void conv2d_depthwise(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y) {
  if (y.numel() == 0) return;
  // 256 threads; a wide tile for wide planes, a taller one for small planes (7x7, 14x14).
  const int64_t OW = y.dim(3);
  const int tile_w = OW > 16 ? 32 : (OW > 8 ? 16 : 8), tile_h = 256 / tile_w;
  const ConvShape s = conv_shape(a, x, w, y, tile_h, tile_w);
  const size_t shared = (static_cast<size_t>(s.PH) * s.PW + s.KH * s.KW) * sizeof(float);
  GB_CHECK(shared <= kMaxSharedBytes, "conv2d depthwise: a ", s.KH, "x", s.KW, " kernel with stride ", s.sh, "x",
           s.sw, " needs ", shared, " bytes of shared memory (48 KB available); use the direct variant");
  const int tiles = ((s.OH + tile_h - 1) / tile_h) * ((s.OW + tile_w - 1) / tile_w);
  GB_CHECK(s.M <= 65535 && s.N <= 65535, "conv2d depthwise: grid too large");
  GB_LAUNCH(conv2d_depthwise_kernel, dim3(tiles, s.M, s.N), 256, shared, ctx.stream())(
      s, tile_h, tile_w, a.act, x.data, w.data, bias.empty() ? nullptr : bias.data, y.data);
  check_launch("conv2d depthwise");
}

namespace {
// dx[n, c, ih, iw] = sum over (m in c's group, kh, kw) with oh = (ih + pt - kh*dh) / sh exact and in range (likewise
// ow) of dy[n, m, oh, ow] * w[m, c - g*Cg, kh, kw]: one thread per element of dx, gathering (no atomics).
__global__ void conv2d_backward_data_kernel(const ConvShape s, const float* __restrict__ dy, const float* __restrict__ w,
                                            float* __restrict__ dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int iw = int(i % s.W), ih = int((i / s.W) % s.H), c = int((i / (int64_t(s.W) * s.H)) % s.C);
    const int img = int(i / (int64_t(s.W) * s.H * s.C));
    const int g = c / s.Cg, cg = c - g * s.Cg;
    float acc = 0.f;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int th = ih + s.pt - kh * s.dh;
      if (th < 0 || th % s.sh) continue;
      const int oh = th / s.sh;
      if (oh >= s.OH) continue;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int tw = iw + s.pl - kw * s.dw;
        if (tw < 0 || tw % s.sw) continue;
        const int ow = tw / s.sw;
        if (ow >= s.OW) continue;
        for (int m = g * s.Mg; m < (g + 1) * s.Mg; ++m)
          acc = fmaf(dy[((int64_t(img) * s.M + m) * s.OH + oh) * s.OW + ow],
                     w[((int64_t(m) * s.Cg + cg) * s.KH + kh) * s.KW + kw], acc);
      }
    }
    dx[i] = acc;
  }
}
}  // namespace

void conv2d_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView w, View dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  const ConvShape s = conv_shape(a, dx, w, View{const_cast<float*>(dy.data), dy.shape, dy.device}, 1, 1);
  GB_LAUNCH(conv2d_backward_data_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(s, dy.data, w.data, dx.data, n);
  check_launch("conv2d_backward_data");
}

}  // namespace glassbox::kernels::cuda
