// ONNX Resize of H and W on the device (kernels/cpu/resize2d.cpp states the map; the taps are element_formulas.h's
// resize_taps). Forward: one thread per output element. Backward: one thread per input element, a deterministic
// gather (no atomics): along each axis the outputs whose taps read the input index form one contiguous range
// (resize_outputs_reading, binary searches over the monotone taps), and dx is the sum over the two ranges'
// product of dy times both axes' tap weights — the same sum, in a fixed order, on every run.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void resize2d_kernel(Resize2dAttrs a, const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                int64_t H, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % OW, oh = (i / OW) % OH, plane = i / (OH * OW);
    int64_t r0, r1, x0, x1;
    float ty, tx;
    resize_taps(a, a.scale_h, oh, H, OH, r0, r1, ty);
    resize_taps(a, a.scale_w, ow, W, OW, x0, x1, tx);
    const float* in = x + plane * H * W;
    y[i] = resize_blend(in + r0 * W, in + r1 * W, x0, x1, tx, ty);
  }
}

__global__ void resize2d_backward_kernel(Resize2dAttrs a, const float* __restrict__ dy, float* __restrict__ dx,
                                         int64_t n, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % W, ih = (i / W) % H, plane = i / (H * W);
    int64_t oh_lo, oh_hi, ow_lo, ow_hi;
    resize_outputs_reading(a, a.scale_h, ih, H, OH, oh_lo, oh_hi);
    resize_outputs_reading(a, a.scale_w, iw, W, OW, ow_lo, ow_hi);
    const float* g = dy + plane * OH * OW;
    float sum = 0.f;
    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
      int64_t r0, r1;
      float ty;
      resize_taps(a, a.scale_h, oh, H, OH, r0, r1, ty);
      const float wy = resize_tap_weight(ih, r0, r1, ty);
      float row = 0.f;
      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
        int64_t x0, x1;
        float tx;
        resize_taps(a, a.scale_w, ow, W, OW, x0, x1, tx);
        row += resize_tap_weight(iw, x0, x1, tx) * g[oh * OW + ow];
      }
      sum += wy * row;
    }
    dx[i] = sum;
  }
}
}  // namespace

void resize2d(Context& ctx, const Resize2dAttrs& a, ConstView x, View y) {
  const auto s = check_resize2d(a, x, y);
  if (y.numel() == 0) return;
  GB_LAUNCH(resize2d_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(a, x.data, y.data, y.numel(), s.H,
                                                                                 s.W, s.OH, s.OW);
  check_launch("resize2d");
}

void resize2d_backward(Context& ctx, const Resize2dAttrs& a, ConstView dy, View dx) {
  const auto s = check_resize2d(a, dx, dy);
  if (dx.numel() == 0) return;
  GB_LAUNCH(resize2d_backward_kernel, ctx.grid_for(dx.numel(), 256), 256, 0, ctx.stream())(
      a, dy.data, dx.data, dx.numel(), s.H, s.W, s.OH, s.OW);
  check_launch("resize2d_backward");
}

}  // namespace glassbox::kernels::cuda
