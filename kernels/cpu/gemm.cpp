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
  sgemm(ctx, M, N, K, a.alpha, ar, br, beta, y.data, N);
  if (a.act.kind != Activation::none) apply_activation(a.act, y.data, y.data, M * N);
}

}  // namespace glassbox::kernels::cpu
