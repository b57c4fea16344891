// ReduceMean, ReduceSum, ReduceL1, ReduceL2, ReduceSumSquare, ReduceMax, ReduceMin, ReduceLogSum, ReduceLogSumExp,
// CPU: one output at a time over its reduced elements, accumulated in float64 by the per-kind formulas of
// element_formulas.h (reduce_step ..); y keeps the reduced dimensions as size 1. The backward is per element of dx,
// except max and min, which walk each output's elements to find the one that takes dy.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

ReducedRuns reduced_runs(const Shape& x, const std::vector<int>& axes) {
  const auto sx = strides_of(x);
  ReducedRuns r;
  for (int a : axes) {
    r.count *= x[a];
    if (x[a] == 1) continue;
    if (!r.size.empty() && r.stride.back() == sx[a] * x[a]) {  // continues the previous run
      r.size.back() *= x[a];
      r.stride.back() = sx[a];
    } else {
      r.size.push_back(x[a]);
      r.stride.push_back(sx[a]);
    }
  }
  return r;
}

namespace {

// f(offset) for every reduced element of the output whose first element is at `base`, in row-major order.
template <class F>
void for_each_reduced(const ReducedRuns& r, int64_t base, F f) {
  if (r.count == 0) return;
  const int runs = static_cast<int>(r.size.size());
  if (runs == 0) return f(base);
  const int64_t inner = r.size.back(), step = r.stride.back();
  std::vector<int64_t> idx(runs, 0);
  int64_t outer = base;
  while (true) {
    for (int64_t i = 0; i < inner; ++i) f(outer + i * step);
    int d = runs - 2;  // the odometer over the outer runs
    for (; d >= 0; --d) {
      outer += r.stride[d];
      if (++idx[d] < r.size[d]) break;
      outer -= idx[d] * r.stride[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// The offset in x (strides sx) of output o's first element: o's coordinates in y (x's shape with the reduced
// dimensions as 1).
int64_t first_element(int64_t o, const Shape& y, const std::vector<int64_t>& sx) {
  int64_t base = 0;
  for (int d = static_cast<int>(y.size()) - 1; d >= 0; --d) {
    base += (o % y[d]) * sx[d];
    o /= y[d];
  }
  return base;
}

int64_t outputs_per_chunk(int64_t count) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(count, 1)); }

}  // namespace

void reduce(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, View y) {
  const ReducedRuns runs = reduced_runs(x.shape, axes);
  const auto sx = strides_of(x.shape);
  ctx.pool.parallel_for(y.numel(), outputs_per_chunk(runs.count), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t base = first_element(o, y.shape, sx);
      double shift = 0;
      if (reduce_needs_shift(kind)) {
        double m = reduce_init<double>(ReduceKind::max);
        for_each_reduced(runs, base, [&](int64_t i) { m = reduce_step(ReduceKind::max, m, x.data[i], 0.0); });
        shift = reduce_shift(m);
      }
      double acc = reduce_init<double>(kind);
      for_each_reduced(runs, base, [&](int64_t i) { acc = reduce_step(kind, acc, x.data[i], shift); });
      y.data[o] = reduce_finish(kind, acc, shift, runs.count);
    }
  });
}

void reduce_backward(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y,
                     ConstView dy, View dx) {
  const ReducedRuns runs = reduced_runs(dx.shape, axes);
  if (reduce_passes_to_one(kind)) {  // each output's elements in order: the first equal to y takes dy
    const auto sx = strides_of(dx.shape);
    ctx.pool.parallel_for(dy.numel(), outputs_per_chunk(runs.count), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        bool taken = false;
        for_each_reduced(runs, first_element(o, dy.shape, sx), [&](int64_t i) {
          const bool here = !taken && reduce_picks(x.data[i], y.data[o]);
          dx.data[i] = here ? dy.data[o] : 0.f;
          taken = taken || here;
        });
      }
    });
    return;
  }
  const int r = static_cast<int>(dx.shape.size());
  const auto sy = strides_of(dy.shape);
  const bool reads_x = reduce_backward_reads_x(kind), reads_y = reduce_backward_reads_y(kind);
  ctx.pool.parallel_for(dx.numel(), 1024, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t rem = i, o = 0;
      for (int d = r - 1; d >= 0; --d) {
        o += (rem % dx.shape[d]) % dy.shape[d] * sy[d];  // a reduced dimension has size 1 in dy
        rem /= dx.shape[d];
      }
      dx.data[i] = reduce_dx(kind, reads_x ? x.data[i] : 0.f, reads_y ? y.data[o] : 0.f, dy.data[o], runs.count);
    }
  });
}

}  // namespace glassbox::kernels::cpu
