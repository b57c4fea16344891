// MatMul, CPU: y[b] = a[b] x b[b] for each batch index b of the broadcast batch dimensions.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"

namespace glassbox::kernels::cpu {

bool fold_batch_into_rows(ConstView& a, ConstView& b, Shape& y) {
  const int64_t M = y.size() >= 2 ? y[y.size() - 2] : 0, batches = y.size() > 2 ? numel(Shape(y.begin(), y.end() - 2)) : 1;
  if (batches <= 1 || numel(b.shape) != b.dim(-2) * b.dim(-1) || numel(a.shape) != batches * M * a.dim(-1))
    return false;
  a.shape = {batches * M, a.dim(-1)};
  b.shape = {b.dim(-2), b.dim(-1)};
  y = {batches * M, y.back()};
  return true;
}

void matmul(Context& ctx, ConstView a, ConstView b, View y, bool constant_b) {
  if (fold_batch_into_rows(a, b, y.shape)) return matmul(ctx, a, b, y, constant_b);
  const int r = static_cast<int>(y.shape.size());
  const int64_t M = y.dim(-2), N = y.dim(-1), K = a.dim(-1);
  if (constant_b && b.shape.size() == 2 && y.shape.size() == 2) {
    // One product with a constant right operand (a linear layer's weights): B packed once per session.
    const MatRef B{b.data, N, 1};
    sgemm_prepared(ctx, M, N, K, 1.f, MatRef{a.data, K, 1}, nullptr, B, &packed_constant(ctx, Operand::b, N, K, B), 0.f,
                   y.data, N);
    return;
  }
  const Shape batch(y.shape.begin(), y.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  const auto sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  const int64_t batches = numel(batch);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0, rem = i;
    for (int d = r - 3; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    sgemm(ctx, M, N, K, 1.f, MatRef{a.data + oa * M * K, K, 1}, MatRef{b.data + ob * K * N, N, 1}, 0.f,
          y.data + i * M * N, N);
  }
}

// Backward: da[ia] += dy[i] x b[ib]^T and db[ib] += a[ia]^T x dy[i] over the broadcast batch indices i.
void matmul_backward(Context& ctx, ConstView a, ConstView b, ConstView dy, View da, View db) {
  if (fold_batch_into_rows(a, b, dy.shape)) {
    da.shape = a.shape, db.shape = b.shape;
    return matmul_backward(ctx, a, b, dy, da, db);
  }
  const int r = static_cast<int>(dy.shape.size());
  const int64_t M = dy.dim(-2), N = dy.dim(-1), K = a.dim(-1);
  const Shape batch(dy.shape.begin(), dy.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  const auto sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  if (da.data) std::fill(da.data, da.data + da.numel(), 0.f);
  if (db.data) std::fill(db.data, db.data + db.numel(), 0.f);
  for (int64_t i = 0; i < numel(batch); ++i) {
    int64_t oa = 0, ob = 0, rem = i;
    for (int d = r - 3; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    const MatRef g{dy.data + i * M * N, N, 1};
    if (da.data)  // [M, K] += [M, N] x [N, K]
      sgemm(ctx, M, K, N, 1.f, g, MatRef{b.data + ob * K * N, 1, N}, 1.f, da.data + oa * M * K, K);
    if (db.data)  // [K, N] += [K, M] x [M, N]
      sgemm(ctx, K, N, M, 1.f, MatRef{a.data + oa * M * K, 1, K}, g, 1.f, db.data + ob * K * N, N);
  }
}

}  // namespace glassbox::kernels::cpu
