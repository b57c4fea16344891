// Gemm (the classifier head): y = act(alpha * op(A) op(B) + beta * C), C unidirectionally broadcast to [M, N].
// The SIMT tiled GEMM with strided operands (strided_gemm.cuh); bias, scaling and activation in its epilogue.
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/strided_gemm.cuh"

namespace glassbox::kernels::cuda {

void gemm(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y) {
  if (y.numel() == 0) return;
  StridedGemm p;
  p.M = static_cast<int>(y.dim(0));
  p.N = static_cast<int>(y.dim(1));
  p.K = static_cast<int>(a.trans_a ? A.dim(0) : A.dim(1));
  p.A = A.data;
  p.B = B.data;
  p.y = y.data;
  // A is [M, K] (or [K, M] transposed), B is [K, N] (or [N, K]).
  p.sam = a.trans_a ? 1 : p.K, p.sak = a.trans_a ? p.M : 1;
  p.sbk = a.trans_b ? 1 : p.N, p.sbn = a.trans_b ? p.K : 1;
  p.alpha = a.alpha;
  p.act = a.act;
  if (!C.empty() && a.beta != 0.f) {
    const auto sc = cpu::broadcast_strides(C.shape, y.shape);
    p.C = C.data;
    p.beta = a.beta;
    p.scm = sc[0], p.scn = sc[1];
  }
  launch_strided_gemm(ctx, p, 1, "gemm");
}

// Backward, with op(A) (M x K) and op(B) (K x N) as strides: d op(A) = alpha dy op(B)^T, d op(B) = alpha op(A)^T dy,
// each computed in its operand's own layout (a transposed operand's gradient as the transposed product).
void gemm_backward(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB) {
  const int64_t M = dy.dim(0), N = dy.dim(1), K = a.trans_a ? A.dim(0) : A.dim(1);
  // op(A)(m, k) = A[m * am + k * ak], op(B)(k, n) = B[k * bk + n * bn], dy(m, n) = dy[m * N + n].
  const int64_t am = a.trans_a ? 1 : K, ak = a.trans_a ? M : 1, bk = a.trans_b ? 1 : N, bn = a.trans_b ? K : 1;
  auto problem = [&](int64_t rows, int64_t cols, int64_t depth, const float* P, int64_t p_r, int64_t p_d, const float* Q,
                     int64_t q_d, int64_t q_c, float* out) {
    StridedGemm p;  // out[rows x cols] = alpha * P (rows x depth) Q (depth x cols)
    p.M = int(rows), p.N = int(cols), p.K = int(depth);
    p.A = P, p.sam = p_r, p.sak = p_d, p.B = Q, p.sbk = q_d, p.sbn = q_c, p.y = out, p.alpha = a.alpha;
    launch_strided_gemm(ctx, p, 1, "gemm_backward");
  };
  if (dA.data) {
    if (!a.trans_a) problem(M, K, N, dy.data, N, 1, B.data, bn, bk, dA.data);  // dy [M x N] op(B)^T [N x K]
    else problem(K, M, N, B.data, bk, bn, dy.data, 1, N, dA.data);            // op(B) [K x N] dy^T [N x M]
  }
  if (dB.data) {
    if (!a.trans_b) problem(K, N, M, A.data, ak, am, dy.data, N, 1, dB.data);  // op(A)^T [K x M] dy [M x N]
    else problem(N, K, M, dy.data, 1, N, A.data, am, ak, dB.data);            // dy^T [N x M] op(A) [M x K]
  }
}

}  // namespace glassbox::kernels::cuda
