// The hand-written CUDA convolution variants, in one table used by the CUDA backend (backend.cpp, which adds the
// autotuners and cuDNN) and by its CPU emulation (tests/cuda_emulation/emulated_backend.cpp). Adding a CUDA
// variant = its launcher in ops.h and one entry here: the backend harness (tests/kernels/test_backends.cpp), the
// autotuners and `glassbox bench kernels` pick it up by name. Plain C++ (backend.cpp includes it).
#pragma once
#include <string>
#include <vector>

#include "kernels/cuda/ops.h"
#include "kernels/registry.h"

namespace glassbox::kernels::cuda {

using Conv2dFn = void (*)(Context&, const Conv2dAttrs&, ConstView, ConstView, ConstView, View);

// Depthwise layers go to the dedicated depthwise kernel; every other layer to `General`.
template <Conv2dFn General>
void depthwise_or(Context& c, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) {
  if (is_depthwise(a, x, w)) conv2d_depthwise(c, a, x, w, b, y);
  else General(c, a, x, w, b, y);
}

// The implicit GEMM with a fixed block tile (0: chosen by shape).
template <int Tile>
void implicit_gemm(Context& c, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) {
  conv2d_implicit_gemm(c, Tile, a, x, w, b, y);
}

inline std::vector<VariantTable<Conv2dFn>::Entry> conv2d_variants() {
  return {
      {"implicit_gemm", "fp32 implicit GEMM, 128x128 or 64x64 tiles by shape; depthwise kernel for depthwise",
       depthwise_or<implicit_gemm<0>>},
      {"implicit_gemm_128x128", "fp32 implicit GEMM, 128x128 block tile, 8x8 per thread",
       depthwise_or<implicit_gemm<128>>},
      {"implicit_gemm_64x64", "fp32 implicit GEMM, 64x64 block tile, 4x4 per thread", depthwise_or<implicit_gemm<64>>},
      {"implicit_gemm_tf32", "implicit GEMM on TF32 tensor cores (WMMA), fp32 accumulation",
       depthwise_or<conv2d_implicit_gemm_tf32>},
      {"direct", "tiled direct convolution (patch and filters in shared memory), every layer", conv2d_direct},
  };
}

// TF32 variants compute with 10-bit mantissa operands (looser tolerances; autotune_tf32 only).
inline bool is_tf32_variant(const std::string& name) { return name.find("tf32") != std::string::npos; }

}  // namespace glassbox::kernels::cuda
