// Convolution as an implicit GEMM on the SIMT tiled GEMM (simt_gemm.cuh; problem in conv2d_gemm.cuh):
// fp32 FMA throughout, so results match the CPU reference to fp32 rounding.
#include <cstdint>

#include "kernels/cuda/conv2d_gemm.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

ConvGemm make_conv_gemm(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y, int slot_width) {
  constexpr int64_t kMax = int64_t(1) << 31;
  GB_CHECK(x.numel() < kMax && w.numel() < kMax && y.numel() < kMax, "convolution of ", shape_str(x.shape), " to ",
           shape_str(y.shape), ": the implicit-GEMM kernels index with 32 bits; split the batch");
  ConvGemm p;
  const int64_t G = a.groups;
  p.x = x.data;
  p.w = w.data;
  p.bias = bias.empty() ? nullptr : bias.data;
  p.y = y.data;
  p.C = static_cast<int>(x.dim(1));
  p.H = static_cast<int>(x.dim(2));
  p.W = static_cast<int>(x.dim(3));
  p.Cout = static_cast<int>(y.dim(1));
  p.OW = static_cast<int>(y.dim(3));
  p.P = static_cast<int>(y.dim(2) * y.dim(3));
  p.Cg = static_cast<int>(w.dim(1));
  p.KH = static_cast<int>(w.dim(2));
  p.KW = static_cast<int>(w.dim(3));
  p.sh = static_cast<int>(a.stride_h);
  p.sw = static_cast<int>(a.stride_w);
  p.pt = static_cast<int>(a.pad_top);
  p.pl = static_cast<int>(a.pad_left);
  p.dh = static_cast<int>(a.dilation_h);
  p.dw = static_cast<int>(a.dilation_w);
  p.act = a.act;
  p.M = static_cast<int>(y.dim(1) / G);
  p.N = static_cast<int>(y.dim(0) * p.P);
  p.K = p.Cg * p.KH * p.KW;
  const uintptr_t align = static_cast<uintptr_t>(slot_width >= 4 ? 16 : 4 * slot_width);
  p.a_aligned = p.K % slot_width == 0 && reinterpret_cast<uintptr_t>(w.data) % align == 0;
  return p;
}

void conv2d_implicit_gemm(Context& ctx, int tile, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias,
                          View y) {
  if (y.numel() == 0) return;
  const int groups = static_cast<int>(a.groups);
  if (tile == 0) tile = simt_gemm_tile(y.dim(1) / groups, y.dim(0) * y.dim(2) * y.dim(3), groups, ctx.sm_count());
  if (tile == 128) {
    const ConvGemm p = make_conv_gemm(a, x, w, bias, y, ATileSlot<128, kGemmBK, kGemmThreads>::E);
    launch_simt_gemm<128, 128>(ctx, p, groups, "conv2d implicit_gemm 128x128");
  } else {
    GB_CHECK(tile == 64, "implicit-GEMM tile ", tile, " does not exist (64 or 128)");
    const ConvGemm p = make_conv_gemm(a, x, w, bias, y, ATileSlot<64, kGemmBK, kGemmThreads>::E);
    launch_simt_gemm<64, 64>(ctx, p, groups, "conv2d implicit_gemm 64x64");
  }
}

}  // namespace glassbox::kernels::cuda
