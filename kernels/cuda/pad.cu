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
  const int r = static_cast<int>(y.shape.size());
  GB_CHECK(r <= kMaxRank, "Pad on a rank-", r, " tensor: the CUDA backend supports rank <= ", kMaxRank);
  PadDims d;
  d.rank = r;
  const auto sx = cpu::strides_of(x.shape);
  for (int k = 0; k < r; ++k) {
    d.y_size[k] = y.shape[k];
    d.x_size[k] = x.shape[k];
    d.x_stride[k] = sx[k];
    d.begin[k] = a.pads[k];
  }
  GB_LAUNCH(pad_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(a.mode, a.value, x.data, y.data, n, d);
  check_launch("pad");
}

}  // namespace glassbox::kernels::cuda
