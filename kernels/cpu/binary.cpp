// Add, Sub, Mul, Div with numpy broadcasting, CPU: y[i] = act(a[bcast(i)] op b[bcast(i)]) (act: a fused
// activation epilogue, e.g. the ReLU after a residual Add).
#include <algorithm>

#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  const std::vector<int64_t> st = strides_of(in);
  std::vector<int64_t> r(out.size(), 0);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) r[off + i] = in[i] == 1 ? 0 : st[i];
  return r;
}

namespace {
template <class F>
void apply(Context& ctx, const ActivationAttrs& act, ConstView a, ConstView b, View y, F f) {
  const int64_t n = y.numel();
  const bool fused = act.kind != Activation::none;
  if (a.shape == y.shape && b.shape == y.shape) {
    ctx.pool.parallel_for(n, 1 << 14, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) y.data[i] = f(a.data[i], b.data[i]);
      if (fused) apply_activation(act, y.data + s, y.data + s, e - s);
    });
    return;
  }
  // General case: walk y's index with per-operand strides; the innermost dimension is a tight loop.
  const int r = static_cast<int>(y.shape.size());
  const auto sa = broadcast_strides(a.shape, y.shape), sb = broadcast_strides(b.shape, y.shape);
  const int64_t inner = y.shape[r - 1], rows = n / inner;
  const int64_t ia = sa[r - 1], ib = sb[r - 1];
  ctx.pool.parallel_for(rows, 16, [&](int64_t s, int64_t e) {
    for (int64_t row = s; row < e; ++row) {
      int64_t oa = 0, ob = 0, rem = row;
      for (int d = r - 2; d >= 0; --d) {
        const int64_t idx = rem % y.shape[d];
        rem /= y.shape[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      float* yr = y.data + row * inner;
      for (int64_t j = 0; j < inner; ++j) yr[j] = f(a.data[oa + j * ia], b.data[ob + j * ib]);
      if (fused) apply_activation(act, yr, yr, inner);
    }
  });
}
}  // namespace

void binary(Context& ctx, BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y) {
  if (y.numel() == 0) return;
  switch (op) {
    case BinaryOp::add: return apply(ctx, act, a, b, y, [](float p, float q) { return p + q; });
    case BinaryOp::sub: return apply(ctx, act, a, b, y, [](float p, float q) { return p - q; });
    case BinaryOp::mul: return apply(ctx, act, a, b, y, [](float p, float q) { return p * q; });
    case BinaryOp::div: return apply(ctx, act, a, b, y, [](float p, float q) { return p / q; });
  }
}

// Backward: with g = dy * dy/da (add: 1, sub: 1, mul: b, div: 1/b) and dy * dy/db (add: 1, sub: -1, mul: a,
// div: -a/b^2), da and db are g summed over their broadcast dimensions.
void binary_backward(Context& ctx, BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db) {
  auto grads = [op](float p, float q, float g, float& ga, float& gb) {
    switch (op) {
      case BinaryOp::add: ga = g, gb = g; return;
      case BinaryOp::sub: ga = g, gb = -g; return;
      case BinaryOp::mul: ga = g * q, gb = g * p; return;
      case BinaryOp::div: ga = g / q, gb = -g * p / (q * q); return;
    }
  };
  const int64_t n = dy.numel();
  const bool values = op == BinaryOp::mul || op == BinaryOp::div;  // add and sub need only the shapes
  if (a.shape == dy.shape && b.shape == dy.shape) {
    ctx.pool.parallel_for(n, 1 << 14, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        float ga = 0.f, gb = 0.f;
        grads(values ? a.data[i] : 0.f, values ? b.data[i] : 0.f, dy.data[i], ga, gb);
        if (da.data) da.data[i] = ga;
        if (db.data) db.data[i] = gb;
      }
    });
    return;
  }
  const int r = static_cast<int>(dy.shape.size());
  const auto sa = broadcast_strides(a.shape, dy.shape), sb = broadcast_strides(b.shape, dy.shape);
  auto offset = [&](int64_t i, const std::vector<int64_t>& st) {
    int64_t rem = i, o = 0;
    for (int d = r - 1; d >= 0; --d) {
      o += (rem % dy.shape[d]) * st[d];
      rem /= dy.shape[d];
    }
    return o;
  };
  // The number of elements of s when s (leading 1s dropped) is a suffix of dy's shape (a bias [D] of [N, T, D], a
  // scalar): then element i of dy reads element i mod that number. 0 otherwise.
  auto suffix_size = [&](const Shape& s) -> int64_t {
    size_t k = 0;
    while (k < s.size() && s[k] == 1) ++k;
    const size_t m = s.size() - k;
    if (m > dy.shape.size()) return 0;
    for (size_t j = 0; j < m; ++j)
      if (s[k + j] != dy.shape[dy.shape.size() - m + j]) return 0;
    return numel(s);
  };
  if ((!da.data || a.shape == dy.shape) && (!db.data || b.shape == dy.shape)) {
    // Only gradients of operands of dy's own shape are wanted (a bias or scale is a constant): nothing
    // accumulates, so the elements are independent and run in parallel.
    const int64_t na = suffix_size(a.shape), nb = suffix_size(b.shape);
    ctx.pool.parallel_for(n, 1 << 14, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        float ga = 0.f, gb = 0.f;
        const float p = values ? a.data[na ? i % na : offset(i, sa)] : 0.f;
        const float q = values ? b.data[nb ? i % nb : offset(i, sb)] : 0.f;
        grads(p, q, dy.data[i], ga, gb);
        if (da.data) da.data[i] = ga;
        if (db.data) db.data[i] = gb;
      }
    });
    return;
  }
  if (da.data) std::fill(da.data, da.data + da.numel(), 0.f);
  if (db.data) std::fill(db.data, db.data + db.numel(), 0.f);
  for (int64_t i = 0; i < n; ++i) {  // serial: broadcast operands accumulate from many outputs
    const int64_t oa = offset(i, sa), ob = offset(i, sb);
    float ga = 0.f, gb = 0.f;
    grads(values ? a.data[oa] : 0.f, values ? b.data[ob] : 0.f, dy.data[i], ga, gb);
    if (da.data) da.data[oa] += ga;
    if (db.data) db.data[ob] += gb;
  }
}

}  // namespace glassbox::kernels::cpu
