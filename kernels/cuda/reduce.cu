// ReduceMean .. ReduceLogSumExp (ReduceKind in kernels.h), CUDA, with the CPU kernel's per-kind formulas
// (element_formulas.h: reduce_step ..) and its runs of reduced dimensions (cpu::reduced_runs): one warp per output
// where an output reads at least 32 elements (lanes stride through them, then join by shuffles), else one thread
// per output. The backward: one thread per element of dx, except max and min, one thread per output walking its
// elements in order to find the one that takes dy (the CPU's tie rule).
#include "kernels/cpu/ops.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

// Where an output's elements are in x: its first element from its coordinates in y (x's shape with the reduced
// dimensions as 1) and x's strides; its r-th element (row-major over the reduced dimensions) from the runs.
struct ReduceLayout {
  int rank = 0, runs = 0;
  int64_t count = 1;
  int64_t x_size[kMaxRank] = {}, x_stride[kMaxRank] = {}, y_size[kMaxRank] = {}, y_stride[kMaxRank] = {};
  int64_t run_size[kMaxRank] = {}, run_stride[kMaxRank] = {};

  // sum_d digit_d(i) * stride[d], digit_d the mixed-radix digits of i over size[0..n) (row-major).
  __device__ static int64_t unravel_dot(int64_t i, int n, const int64_t* size, const int64_t* stride) {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
  __device__ int64_t first(int64_t o) const { return unravel_dot(o, rank, y_size, x_stride); }
  __device__ int64_t element(int64_t r) const { return unravel_dot(r, runs, run_size, run_stride); }
  // The output that element i of x (row-major) belongs to (y_stride is 0 along the reduced dimensions).
  __device__ int64_t output_of(int64_t i) const { return unravel_dot(i, rank, x_size, y_stride); }
};

ReduceLayout layout_of(const Shape& x, const std::vector<int>& axes) {
  const int r = static_cast<int>(x.size());
  GB_CHECK(r <= kMaxRank, "a reduction over a rank-", r, " tensor: the CUDA backend supports rank <= ", kMaxRank);
  ReduceLayout l;
  l.rank = r;
  Shape y = x;
  for (int a : axes) y[a] = 1;
  const auto sx = cpu::strides_of(x), sy = cpu::strides_of(y);
  for (int d = 0; d < r; ++d) l.x_size[d] = x[d], l.x_stride[d] = sx[d], l.y_size[d] = y[d], l.y_stride[d] = sy[d];
  for (int a : axes) l.y_stride[a] = 0;
  const cpu::ReducedRuns runs = cpu::reduced_runs(x, axes);
  l.runs = static_cast<int>(runs.size.size());
  l.count = runs.count;
  for (int d = 0; d < l.runs; ++d) l.run_size[d] = runs.size[d], l.run_stride[d] = runs.stride[d];
  return l;
}

__device__ float warp_join(ReduceKind kind, float v) {
  for (int o = 16; o > 0; o >>= 1) v = reduce_join(kind, v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One warp per output (8 per block): the lanes stride through its elements.
__global__ void reduce_warp_kernel(ReduceKind kind, const float* __restrict__ x, float* __restrict__ y,
                                   int64_t outputs, ReduceLayout l) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.y) + threadIdx.y; o < outputs; o += int64_t(gridDim.x) * blockDim.y) {
    const float* p = x + l.first(o);
    float shift = 0.f;
    if (reduce_needs_shift(kind)) {
      float m = reduce_init<float>(ReduceKind::max);
      for (int64_t r = threadIdx.x; r < l.count; r += 32) m = reduce_step(ReduceKind::max, m, p[l.element(r)], 0.f);
      shift = reduce_shift(warp_join(ReduceKind::max, m));
    }
    float acc = reduce_init<float>(kind);
    for (int64_t r = threadIdx.x; r < l.count; r += 32) acc = reduce_step(kind, acc, p[l.element(r)], shift);
    acc = warp_join(kind, acc);
    if (threadIdx.x == 0) y[o] = reduce_finish(kind, acc, shift, l.count);
  }
}

// One thread per output (outputs of fewer than 32 elements).
__global__ void reduce_thread_kernel(ReduceKind kind, const float* __restrict__ x, float* __restrict__ y,
                                     int64_t outputs, ReduceLayout l) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < outputs; o += int64_t(gridDim.x) * blockDim.x) {
    const float* p = x + l.first(o);
    float shift = 0.f;
    if (reduce_needs_shift(kind)) {
      float m = reduce_init<float>(ReduceKind::max);
      for (int64_t r = 0; r < l.count; ++r) m = reduce_step(ReduceKind::max, m, p[l.element(r)], 0.f);
      shift = reduce_shift(m);
    }
    float acc = reduce_init<float>(kind);
    for (int64_t r = 0; r < l.count; ++r) acc = reduce_step(kind, acc, p[l.element(r)], shift);
    y[o] = reduce_finish(kind, acc, shift, l.count);
  }
}

// dx[i] = reduce_dx at i's output.
__global__ void reduce_backward_kernel(ReduceKind kind, const float* __restrict__ x, const float* __restrict__ y,
                                       const float* __restrict__ dy, float* __restrict__ dx, int64_t n,
                                       ReduceLayout l) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = l.output_of(i);
    dx[i] = reduce_dx(kind, x ? x[i] : 0.f, y ? y[o] : 0.f, dy[o], l.count);
  }
}

// Max and min: one thread per output; its first element equal to y takes dy, the others 0.
__global__ void reduce_pick_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                            const float* __restrict__ dy, float* __restrict__ dx, int64_t outputs,
                                            ReduceLayout l) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < outputs; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = l.first(o);
    bool taken = false;
    for (int64_t r = 0; r < l.count; ++r) {
      const int64_t i = base + l.element(r);
      const bool here = !taken && reduce_picks(x[i], y[o]);
      dx[i] = here ? dy[o] : 0.f;
      taken = taken || here;
    }
  }
}

}  // namespace

void reduce(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, View y) {
  const int64_t outputs = y.numel();
  if (outputs == 0) return;
  const ReduceLayout l = layout_of(x.shape, axes);
  if (l.count >= 32) {
    GB_LAUNCH(reduce_warp_kernel, ctx.grid_for(outputs, 8), dim3(32, 8), 0, ctx.stream())(kind, x.data, y.data,
                                                                                         outputs, l);
  } else {
    GB_LAUNCH(reduce_thread_kernel, ctx.grid_for(outputs, 256), 256, 0, ctx.stream())(kind, x.data, y.data, outputs,
                                                                                     l);
  }
  check_launch("reduce");
}

void reduce_backward(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y,
                     ConstView dy, View dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  const ReduceLayout l = layout_of(dx.shape, axes);
  if (reduce_passes_to_one(kind)) {
    const int64_t outputs = dy.numel();
    GB_LAUNCH(reduce_pick_backward_kernel, ctx.grid_for(outputs, 256), 256, 0, ctx.stream())(
        x.data, y.data, dy.data, dx.data, outputs, l);
  } else {
    GB_LAUNCH(reduce_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(
        kind, reduce_backward_reads_x(kind) ? x.data : nullptr, reduce_backward_reads_y(kind) ? y.data : nullptr,
        dy.data, dx.data, n, l);
  }
  check_launch("reduce_backward");
}

}  // namespace glassbox::kernels::cuda
