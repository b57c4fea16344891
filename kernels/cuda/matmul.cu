// MatMul: y[b] = a[b] x b[b] for each index b of the broadcast batch dimensions; one GEMM problem per batch
// index (blockIdx.z) of the SIMT tiled GEMM (strided_gemm.cuh).
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/strided_gemm.cuh"

namespace glassbox::kernels::cuda {

void matmul(Context& ctx, ConstView a, ConstView b, View y) {
  if (y.numel() == 0) return;
  if (cpu::fold_batch_into_rows(a, b, y.shape)) return matmul(ctx, a, b, y);  // b read once, not per batch index
  const int r = static_cast<int>(y.shape.size());
  StridedGemm p;
  p.M = static_cast<int>(y.dim(-2));
  p.N = static_cast<int>(y.dim(-1));
  p.K = static_cast<int>(a.dim(-1));
  p.A = a.data;
  p.B = b.data;
  p.y = y.data;
  p.sam = p.K, p.sak = 1, p.sbk = p.N, p.sbn = 1;
  const Shape batch(y.shape.begin(), y.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  GB_CHECK(r - 2 <= kMaxBatchRank, "MatMul with ", r - 2, " batch dimensions: the CUDA backend supports ",
           kMaxBatchRank);
  const auto sa = cpu::broadcast_strides(a_batch, batch), sb = cpu::broadcast_strides(b_batch, batch);
  p.batch_rank = r - 2;
  for (int d = 0; d < r - 2; ++d) {
    p.batch_size[d] = batch[d];
    p.batch_sa[d] = sa[d] * p.M * p.K;  // broadcast_strides counts batch elements; one is an M x K matrix
    p.batch_sb[d] = sb[d] * p.K * p.N;
  }
  const int64_t problems = numel(batch);
  GB_CHECK(problems <= 65535, "MatMul over ", problems, " batch matrices: the CUDA backend supports 65535 per call");
  launch_strided_gemm(ctx, p, static_cast<int>(problems), "matmul");
}

// Backward: da[ia] += dy[i] b[ib]^T and db[ib] += a[ia]^T dy[i] over the broadcast batch indices i, one GEMM
// problem per i accumulating atomically into the (zeroed) gradient of a broadcast operand.
void matmul_backward(Context& ctx, ConstView a, ConstView b, ConstView dy, View da, View db) {
  if (cpu::fold_batch_into_rows(a, b, dy.shape)) {  // one GEMM per gradient instead of one per batch index
    da.shape = a.shape, db.shape = b.shape;
    return matmul_backward(ctx, a, b, dy, da, db);
  }
  const int r = static_cast<int>(dy.shape.size());
  const int M = int(dy.dim(-2)), N = int(dy.dim(-1)), K = int(a.dim(-1));
  const Shape batch(dy.shape.begin(), dy.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  GB_CHECK(r - 2 <= kMaxBatchRank, "MatMul with ", r - 2, " batch dimensions: the CUDA backend supports ", kMaxBatchRank);
  const auto sa = cpu::broadcast_strides(a_batch, batch), sb = cpu::broadcast_strides(b_batch, batch);
  const int64_t problems = numel(batch);
  if (problems == 0) return;
  auto base = [&] {
    StridedGemm p;
    p.batch_rank = r - 2;
    p.custom_y = true;
    p.accumulate = true;
    for (int d = 0; d < r - 2; ++d) p.batch_size[d] = batch[d];
    return p;
  };
  const auto sy = cpu::strides_of(batch);
  if (da.data) {  // [M x K] = dy [M x N] b^T [N x K]
    fill_zero(ctx, da);
    StridedGemm p = base();
    p.M = M, p.N = K, p.K = N, p.A = dy.data, p.sam = N, p.sak = 1, p.B = b.data, p.sbk = 1, p.sbn = N, p.y = da.data;
    for (int d = 0; d < r - 2; ++d)
      p.batch_sa[d] = sy[d] * M * N, p.batch_sb[d] = sb[d] * K * N, p.batch_sy[d] = sa[d] * M * K;
    launch_strided_gemm(ctx, p, int(problems), "matmul_backward (a)");
  }
  if (db.data) {  // [K x N] = a^T [K x M] dy [M x N]
    fill_zero(ctx, db);
    StridedGemm p = base();
    p.M = K, p.N = N, p.K = M, p.A = a.data, p.sam = 1, p.sak = K, p.B = dy.data, p.sbk = N, p.sbn = 1, p.y = db.data;
    for (int d = 0; d < r - 2; ++d)
      p.batch_sa[d] = sa[d] * M * K, p.batch_sb[d] = sy[d] * M * N, p.batch_sy[d] = sb[d] * K * N;
    launch_strided_gemm(ctx, p, int(problems), "matmul_backward (b)");
  }
}

}  // namespace glassbox::kernels::cuda
