// Add, Sub, Mul, Div with numpy broadcasting: y[i] = act(a[bcast(i)] op b[bcast(i)]) (act: a fused activation
// epilogue, e.g. the ReLU after a residual Add). Same-shape operands take a flat loop; others walk y's index
// with per-operand strides (0 along broadcast dimensions).
#include "kernels/cpu/ops.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

struct BroadcastStrides {
  int rank = 0;
  int64_t size[kMaxRank] = {};   // y's shape
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
};

__device__ __forceinline__ float binary_op(BinaryOp op, float p, float q) {
  switch (op) {
    case BinaryOp::add: return p + q;
    case BinaryOp::sub: return p - q;
    case BinaryOp::mul: return p * q;
    case BinaryOp::div: return p / q;
  }
  return 0.f;
}

__global__ void binary_flat_kernel(BinaryOp op, ActivationAttrs act, const float* __restrict__ a,
                                   const float* __restrict__ b, float* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = act.apply(binary_op(op, a[i], b[i]));
}

__global__ void binary_broadcast_kernel(BinaryOp op, ActivationAttrs act, const float* __restrict__ a,
                                        const float* __restrict__ b, float* __restrict__ y, int64_t n,
                                        BroadcastStrides s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      const int64_t idx = rem % s.size[d];
      rem /= s.size[d];
      oa += idx * s.sa[d];
      ob += idx * s.sb[d];
    }
    y[i] = act.apply(binary_op(op, a[oa], b[ob]));
  }
}

}  // namespace

void binary(Context& ctx, BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const unsigned grid = ctx.grid_for(n, 256);
  if (a.shape == y.shape && b.shape == y.shape) {
    GB_LAUNCH(binary_flat_kernel, grid, 256, 0, ctx.stream())(op, act, a.data, b.data, y.data, n);
    check_launch("binary");
    return;
  }
  const int r = static_cast<int>(y.shape.size());
  GB_CHECK(r <= kMaxRank, "binary op on rank ", r, " tensors: the CUDA backend supports rank <= ", kMaxRank);
  BroadcastStrides s;
  s.rank = r;
  const auto sa = cpu::broadcast_strides(a.shape, y.shape), sb = cpu::broadcast_strides(b.shape, y.shape);
  for (int d = 0; d < r; ++d) {
    s.size[d] = y.shape[d];
    s.sa[d] = sa[d];
    s.sb[d] = sb[d];
  }
  GB_LAUNCH(binary_broadcast_kernel, grid, 256, 0, ctx.stream())(op, act, a.data, b.data, y.data, n, s);
  check_launch("binary (broadcast)");
}

namespace {
__device__ __forceinline__ void binary_grads(BinaryOp op, float p, float q, float g, float& ga, float& gb) {
  switch (op) {
    case BinaryOp::add: ga = g, gb = g; return;
    case BinaryOp::sub: ga = g, gb = -g; return;
    case BinaryOp::mul: ga = g * q, gb = g * p; return;
    case BinaryOp::div: ga = g / q, gb = -g * p / (q * q); return;
  }
}

// One thread per output element; a broadcast operand gathers several outputs, so its adds are atomic.
__global__ void binary_backward_kernel(BinaryOp op, const float* __restrict__ a, const float* __restrict__ b,
                                       const float* __restrict__ dy, float* da, float* db, int64_t n,
                                       BroadcastStrides s, bool values, bool direct) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t oa = i, ob = i;
    if (!direct) {
      int64_t rem = i;
      oa = 0, ob = 0;
      for (int d = s.rank - 1; d >= 0; --d) {
        const int64_t idx = rem % s.size[d];
        rem /= s.size[d];
        oa += idx * s.sa[d];
        ob += idx * s.sb[d];
      }
    }
    float ga = 0.f, gb = 0.f;
    binary_grads(op, values ? a[oa] : 0.f, values ? b[ob] : 0.f, dy[i], ga, gb);
    if (direct) {
      if (da) da[i] = ga;
      if (db) db[i] = gb;
    } else {
      if (da) atomicAdd(da + oa, ga);
      if (db) atomicAdd(db + ob, gb);
    }
  }
}
}  // namespace

void binary_backward(Context& ctx, BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db) {
  const int64_t n = dy.numel();
  if (n == 0) return;
  const bool direct = a.shape == dy.shape && b.shape == dy.shape;
  const int r = static_cast<int>(dy.shape.size());
  GB_CHECK(r <= kMaxRank, "binary op on rank ", r, " tensors: the CUDA backend supports rank <= ", kMaxRank);
  BroadcastStrides s;
  if (!direct) {
    fill_zero(ctx, da);
    fill_zero(ctx, db);
    s.rank = r;
    const auto sa = cpu::broadcast_strides(a.shape, dy.shape), sb = cpu::broadcast_strides(b.shape, dy.shape);
    for (int d = 0; d < r; ++d) s.size[d] = dy.shape[d], s.sa[d] = sa[d], s.sb[d] = sb[d];
  }
  const bool values = op == BinaryOp::mul || op == BinaryOp::div;
  GB_LAUNCH(binary_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(op, a.data, b.data, dy.data, da.data,
                                                                                db.data, n, s, values, direct);
  check_launch("binary_backward");
}

}  // namespace glassbox::kernels::cuda
