// Add, Sub, Mul, Div with numpy broadcasting, CPU: y[i] = act(a[bcast(i)] op b[bcast(i)]) (act: a fused
// activation epilogue, e.g. the ReLU after a residual Add).
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

}  // namespace glassbox::kernels::cpu
