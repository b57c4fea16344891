// Gemm, CPU: y = act(alpha * op(A) op(B) + beta * C), C broadcast to [M, N] (ONNX unidirectional broadcasting).
#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"

namespace glassbox::kernels::cpu {

void gemm(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y) {
  const int64_t M = y.dim(0), N = y.dim(1);
  const int64_t K = a.trans_a ? A.dim(0) : A.dim(1);
  const MatRef ar = a.trans_a ? MatRef{A.data, 1, M} : MatRef{A.data, K, 1};
  const MatRef br = a.trans_b ? MatRef{B.data, 1, K} : MatRef{B.data, N, 1};
  float beta = 0.f;
  if (!C.empty() && a.beta != 0.f) {
    // Broadcast C into y, then accumulate the product onto it.
    const auto sc = broadcast_strides(C.shape, y.shape);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) y.data[i * N + j] = a.beta * C.data[i * sc[0] + j * sc[1]];
    beta = 1.f;
  }
  // A constant B (a fully connected layer's weights) is packed once per session.
  const PackedOperand* pb = a.constant_b ? &packed_constant(ctx, Operand::b, N, K, br) : nullptr;
  sgemm_prepared(ctx, M, N, K, a.alpha, ar, nullptr, br, pb, beta, y.data, N);
  if (a.act.kind != Activation::none) apply_activation(a.act, y.data, y.data, M * N);
}

// Backward, with op(A) (M x K) and op(B) (K x N) as strided views (a transpose is a swap of strides):
//   d op(A) = alpha dy op(B)^T,  d op(B) = alpha op(A)^T dy;  a transposed operand's gradient is computed
//   transposed, so it lands in the operand's own layout.
void gemm_backward(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB) {
  const int64_t M = dy.dim(0), N = dy.dim(1), K = a.trans_a ? A.dim(0) : A.dim(1);
  auto T = [](MatRef r) { return MatRef{r.p, r.cs, r.rs}; };
  const MatRef oa = a.trans_a ? MatRef{A.data, 1, M} : MatRef{A.data, K, 1};
  const MatRef ob = a.trans_b ? MatRef{B.data, 1, K} : MatRef{B.data, N, 1};
  const MatRef g{dy.data, N, 1};
  if (dA.data) {
    if (!a.trans_a) sgemm(ctx, M, K, N, a.alpha, g, T(ob), 0.f, dA.data, K);  // [M, K]
    else sgemm(ctx, K, M, N, a.alpha, ob, T(g), 0.f, dA.data, M);            // [K, M]
  }
  if (dB.data) {
    if (!a.trans_b) sgemm(ctx, K, N, M, a.alpha, T(oa), g, 0.f, dB.data, N);  // [K, N]
    else sgemm(ctx, N, K, M, a.alpha, T(g), oa, 0.f, dB.data, K);            // [N, K]
  }
}

}  // namespace glassbox::kernels::cpu
