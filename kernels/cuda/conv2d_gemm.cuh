// Convolution as a GEMM problem (shared by the SIMT and TF32 implicit-GEMM kernels), one problem per group g:
//   M = output channels per group, N = images x output pixels, K = input channels per group x KH x KW;
//   A(m, k) = w[g*M + m, k]                                  (the filters, row-major: contiguous along k)
//   B(k, n) = x[img, g*Cg + c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]  with k = (c, kh, kw), n = (img, oh, ow),
//             0 outside the image                            (gathered on the fly: no im2col buffer)
//   y[img, g*M + m, oh, ow] = act(C(m, n) + bias[g*M + m])   (the fused epilogue)
// Indices are 32-bit: the launcher checks that x, w and y hold fewer than 2^31 elements.
#pragma once
#include "kernels/cuda/simt_gemm.cuh"

namespace glassbox::kernels::cuda {

struct ConvGemm {
  int M = 0, N = 0, K = 0;
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  float* y = nullptr;
  int C = 0, H = 0, W = 0, Cout = 0, OW = 0, P = 0;  // P = OH * OW
  int Cg = 0, KH = 0, KW = 0, sh = 1, sw = 1, pt = 0, pl = 0, dh = 1, dw = 1;
  ActivationAttrs act;
  bool a_aligned = false;  // K is a multiple of the A slot's width: rows of w can be read as float2 / float4

  struct ALoader {
    const float* row;
    int K, k;
    bool valid, aligned;
    template <class Slot>
    __device__ ALoader(const ConvGemm& p, int z, int m0, const Slot& s)
        : row(p.w + static_cast<size_t>(z * p.M + m0 + s.row) * p.K), K(p.K), k(s.k), valid(m0 + s.row < p.M),
          aligned(p.a_aligned) {}
    template <int E>
    __device__ void load(int k0, float (&r)[E]) const {
      const int kk = k0 + k;
      if (valid && aligned && kk + E <= K) return load_contiguous<E>(row + kk, r);
#pragma unroll
      for (int e = 0; e < E; ++e) r[e] = valid && kk + e < K ? __ldg(row + kk + e) : 0.f;
    }
  };

  struct BLoader {
    const float* image;  // x at (img, g*Cg, 0, 0)
    int ih0, iw0, K, k;
    int H, W, KH, KW, dh, dw;
    bool valid;
    template <class Slot>
    __device__ BLoader(const ConvGemm& p, int z, int n0, const Slot& s)
        : K(p.K), k(s.k), H(p.H), W(p.W), KH(p.KH), KW(p.KW), dh(p.dh), dw(p.dw) {
      const int n = n0 + s.col;
      valid = n < p.N;
      const int img = valid ? n / p.P : 0, pix = valid ? n - img * p.P : 0;
      const int oh = pix / p.OW, ow = pix - oh * p.OW;
      ih0 = oh * p.sh - p.pt;
      iw0 = ow * p.sw - p.pl;
      image = p.x + (static_cast<size_t>(img) * p.C + static_cast<size_t>(z) * p.Cg) * p.H * p.W;
    }
    template <int E>
    __device__ void load(int k0, float (&r)[E]) const {
      int kk = k0 + k;
      int c = kk / (KH * KW), rem = kk - c * (KH * KW);
      int kh = rem / KW, kw = rem - kh * KW;
#pragma unroll
      for (int e = 0; e < E; ++e) {
        const int ih = ih0 + kh * dh, iw = iw0 + kw * dw;
        const bool inside = valid && kk < K && ih >= 0 && ih < H && iw >= 0 && iw < W;
        r[e] = inside ? __ldg(image + (c * H + ih) * W + iw) : 0.f;
        ++kk;  // next k: (c, kh, kw) in row-major order
        if (++kw == KW) {
          kw = 0;
          if (++kh == KH) kh = 0, ++c;
        }
      }
    }
  };

  __device__ void store(int z, int m, int n, float acc) const {
    const int channel = z * M + m, img = n / P, pix = n - img * P;
    y[(static_cast<size_t>(img) * Cout + channel) * P + pix] = act.apply(acc + (bias ? bias[channel] : 0.f));
  }
};

// The problem for one convolution; `slot_width`: the A slot's E, for the alignment flag.
ConvGemm make_conv_gemm(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y, int slot_width);

}  // namespace glassbox::kernels::cuda
