// Pad, any rank up to 8: y[i] = x[source(i)] or the constant; the per-dimension index map pad_source_index
// (element_formulas.h) is shared with the CPU kernel. One thread per output element.
#include "kernels/cpu/ops.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

struct PadDims {
  int rank = 0;
  int64_t y_size[kMaxRank] = {}, x_size[kMaxRank] = {}, x_stride[kMaxRank] = {}, begin[kMaxRank] = {};
};

PadDims pad_dims(const PadAttrs& a, const Shape& x, const Shape& y) {
  const int r = static_cast<int>(y.size());
  GB_CHECK(r <= kMaxRank, "Pad on a rank-", r, " tensor: the CUDA backend supports rank <= ", kMaxRank);
  PadDims d;
  d.rank = r;
  const auto sx = cpu::strides_of(x);
  for (int k = 0; k < r; ++k) d.y_size[k] = y[k], d.x_size[k] = x[k], d.x_stride[k] = sx[k], d.begin[k] = a.pads[k];
  return d;
}

__global__ void pad_kernel(PadMode mode, float value, const float* __restrict__ x, float* __restrict__ y, int64_t n,
                           PadDims d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    bool constant = false;
    for (int k = d.rank - 1; k >= 0; --k) {
      const int64_t s = pad_source_index(rem % d.y_size[k], d.begin[k], d.x_size[k], mode);
      rem /= d.y_size[k];
      if (s < 0) constant = true;
      else off += s * d.x_stride[k];
    }
    y[i] = constant ? value : x[off];
  }
}

}  // namespace

void pad(Context& ctx, const PadAttrs& a, ConstView x, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const PadDims d = pad_dims(a, x.shape, y.shape);
  GB_LAUNCH(pad_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a.mode, a.value, x.data, y.data, n, d);
  check_launch("pad");
}

namespace {
// dx[source(i)] += dy[i]: one thread per output element; reflect/edge/wrap read inputs several times (atomic adds).
__global__ void pad_backward_kernel(PadMode mode, const float* __restrict__ dy, float* dx, int64_t n, PadDims d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    bool reads = true;
    for (int k = d.rank - 1; k >= 0 && reads; --k) {
      const int64_t s = pad_source_index(rem % d.y_size[k], d.begin[k], d.x_size[k], mode);
      rem /= d.y_size[k];
      reads = s >= 0;
      off += s * d.x_stride[k];
    }
    if (reads) atomicAdd(dx + off, dy[i]);
  }
}
}  // namespace

void pad_backward(Context& ctx, const PadAttrs& a, ConstView dy, View dx) {
  fill_zero(ctx, dx);
  const int64_t n = dy.numel();
  if (n == 0) return;
  const PadDims d = pad_dims(a, dx.shape, dy.shape);
  GB_LAUNCH(pad_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a.mode, dy.data, dx.data, n, d);
  check_launch("pad_backward");
}

}  // namespace glassbox::kernels::cuda
