// Einsum of two operands (Backend::einsum), CPU: the labels sorted into one strided GEMM (einsum_as_gemm, shared
// with the CUDA backend) and run by sgemm with strided operands, so a permuted or broadcast operand is read in
// place. Independent products (batch labels) run in parallel, each on one thread, when there are enough of them;
// products over the contracted labels beyond the GEMM's K accumulate into the same output (beta = 1).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"

namespace glassbox::kernels::cpu {

namespace {

// The largest offset the axes address in an operand (stride selects a, b or y) must lie inside its numel elements.
void check_inside(const std::vector<EinsumAxis>& axes, int64_t EinsumAxis::*stride, int64_t numel, const char* what) {
  int64_t last = 0;
  for (const EinsumAxis& x : axes) {
    int64_t span = 0;
    GB_CHECK(x.size >= 0 && x.*stride >= 0, "einsum: negative size or stride of ", what);
    GB_CHECK(!__builtin_mul_overflow(x.size - 1, x.*stride, &span) && !__builtin_add_overflow(last, span, &last),
             "einsum: the strides of ", what, " overflow");
  }
  GB_CHECK(last < numel, "einsum: the axes address element ", last, " of ", what, ", which has ", numel);
}

// The labels with a nonzero y stride must lay y out densely (some order of its dimensions): each element written
// by exactly one index tuple.
void check_dense_output(std::vector<EinsumAxis> axes, int64_t numel) {
  axes.erase(std::remove_if(axes.begin(), axes.end(), [](const EinsumAxis& x) { return x.size == 1 || x.y == 0; }),
             axes.end());
  std::sort(axes.begin(), axes.end(), [](const EinsumAxis& p, const EinsumAxis& q) { return p.y < q.y; });
  int64_t expected = 1;
  for (const EinsumAxis& x : axes) {
    GB_CHECK(x.y == expected, "einsum: the output strides do not lay out the output densely");
    expected *= x.size;
  }
  GB_CHECK(expected == numel, "einsum: the output labels address ", expected, " elements, the output has ", numel);
}

// Adjacent labels of one kind fused where every operand's layout allows: outer p and inner q become one label of
// size p * q with q's strides when p's strides are q's times q's size. `outer_first` orders the labels (outer to
// inner) before fusing.
template <class Less>
std::vector<EinsumAxis> fused(std::vector<EinsumAxis> axes, Less outer_first) {
  std::stable_sort(axes.begin(), axes.end(), outer_first);
  std::vector<EinsumAxis> out;
  for (const EinsumAxis& q : axes) {
    if (!out.empty()) {
      EinsumAxis& p = out.back();
      if (p.a == q.a * q.size && p.b == q.b * q.size && p.y == q.y * q.size) {
        p = {p.size * q.size, q.a, q.b, q.y};
        continue;
      }
    }
    out.push_back(q);
  }
  return out;
}

bool by_y(const EinsumAxis& p, const EinsumAxis& q) { return p.y > q.y; }
bool by_a_then_b(const EinsumAxis& p, const EinsumAxis& q) { return p.a != q.a ? p.a > q.a : p.b > q.b; }

// The largest label of a fused list (the GEMM's dimension); the others move to `rest`.
EinsumAxis take_largest(std::vector<EinsumAxis> axes, std::vector<EinsumAxis>& rest) {
  if (axes.empty()) return {};
  const auto it = std::max_element(axes.begin(), axes.end(),
                                   [](const EinsumAxis& p, const EinsumAxis& q) { return p.size < q.size; });
  const EinsumAxis largest = *it;
  axes.erase(it);
  rest.insert(rest.end(), axes.begin(), axes.end());
  return largest;
}

// Element offsets into a, b and y of index i of the labels `axes` (row-major over them, the last fastest).
void offsets_of(const std::vector<EinsumAxis>& axes, int64_t i, int64_t& oa, int64_t& ob, int64_t& oy) {
  for (int d = static_cast<int>(axes.size()) - 1; d >= 0; --d) {
    const int64_t j = i % axes[d].size;
    i /= axes[d].size;
    oa += j * axes[d].a, ob += j * axes[d].b, oy += j * axes[d].y;
  }
}

int64_t count_of(const std::vector<EinsumAxis>& axes) {
  int64_t n = 1;
  for (const EinsumAxis& x : axes) n *= x.size;
  return n;
}

// y(m, n) = sum_k A(m, k) B(k, n) (+ y with accumulate) at any output strides, a plain loop: the rare products
// whose output has neither m nor n at unit stride.
void gemm_any_layout(const EinsumGemm& g, const float* A, const float* B, float* y, bool accumulate) {
  for (int64_t m = 0; m < g.M; ++m)
    for (int64_t n = 0; n < g.N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < g.K; ++k) s += double(A[m * g.am + k * g.ak]) * B[k * g.bk + n * g.bn];
      float& out = y[m * g.ym + n * g.yn];
      out = accumulate ? out + float(s) : float(s);
    }
}

// One product y = A B (+ y): sgemm straight into y when y's n (or m, computing y^T = B^T A^T) has unit stride.
void product(Context& ctx, bool serial, const EinsumGemm& g, const float* A, const float* B, float* y,
             bool accumulate) {
  const float beta = accumulate ? 1.f : 0.f;
  auto run = [&](int64_t M, int64_t N, MatRef P, MatRef Q, int64_t ldc) {
    if (serial) sgemm_serial(ctx, M, N, g.K, 1.f, P, Q, beta, y, ldc);
    else sgemm(ctx, M, N, g.K, 1.f, P, Q, beta, y, ldc);
  };
  if (g.yn == 1 || g.N == 1) return run(g.M, g.N, {A, g.am, g.ak}, {B, g.bk, g.bn}, g.M == 1 ? g.N : g.ym);
  if (g.ym == 1 || g.M == 1) return run(g.N, g.M, {B, g.bn, g.bk}, {A, g.ak, g.am}, g.yn);
  gemm_any_layout(g, A, B, y, accumulate);
}

}  // namespace

EinsumGemm einsum_as_gemm(const std::vector<EinsumAxis>& axes, const ConstView& a, const ConstView& b,
                          const View& y) {
  check_inside(axes, &EinsumAxis::a, a.numel(), "operand a");
  check_inside(axes, &EinsumAxis::b, b.numel(), "operand b");
  check_inside(axes, &EinsumAxis::y, y.numel(), "the output");
  check_dense_output(axes, y.numel());
  EinsumGemm g;
  std::vector<EinsumAxis> batch, m, n, k;
  for (const EinsumAxis& x : axes) {
    if (x.size == 1) continue;  // no effect
    if (x.size == 0) g.zero = true;
    if (x.y == 0) k.push_back(x);                  // contracted (a broadcast operand included)
    else if (x.a != 0 && x.b == 0) m.push_back(x);  // a and y only: rows
    else if (x.a == 0 && x.b != 0) n.push_back(x);  // b and y only: columns
    else batch.push_back(x);                        // both operands (or neither: a repeated product)
  }
  const EinsumAxis gm = take_largest(fused(m, by_y), batch), gn = take_largest(fused(n, by_y), batch);
  const EinsumAxis gk = take_largest(fused(k, by_a_then_b), g.summed);
  g.M = gm.size, g.am = gm.a, g.ym = gm.y;
  g.N = gn.size, g.bn = gn.b, g.yn = gn.y;
  g.K = gk.size, g.ak = gk.a, g.bk = gk.b;
  g.batch = fused(batch, by_y);
  g.summed = fused(g.summed, by_a_then_b);
  return g;
}

void einsum(Context& ctx, const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y) {
  if (y.numel() == 0) return;
  const EinsumGemm g = einsum_as_gemm(axes, a, b, y);
  if (g.zero) {  // a contracted label of size 0: empty sums
    std::fill(y.data, y.data + y.numel(), 0.f);
    return;
  }
  const int64_t batches = count_of(g.batch), sums = count_of(g.summed);
  auto products = [&](int64_t i, bool serial) {
    int64_t oa = 0, ob = 0, oy = 0;
    offsets_of(g.batch, i, oa, ob, oy);
    for (int64_t s = 0; s < sums; ++s) {
      int64_t sa = oa, sb = ob, unused = 0;
      offsets_of(g.summed, s, sa, sb, unused);
      product(ctx, serial, g, a.data + sa, b.data + sb, y.data + oy, s > 0);
    }
  };
  // Many (or small) products: one thread each; a few large ones: each on all threads.
  if (batches > 1 && (batches >= ctx.pool.size() || g.M * g.N * g.K < 64 * 64 * 64)) {
    ctx.pool.parallel_for(batches, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) products(i, true);
    });
  } else {
    for (int64_t i = 0; i < batches; ++i) products(i, false);
  }
}

}  // namespace glassbox::kernels::cpu
