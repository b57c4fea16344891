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

}  // namespace glassbox::kernels::cuda
