// Einsum of two operands (Backend::einsum), CUDA: the CPU's description of it as one strided GEMM
// (cpu::einsum_as_gemm) run by the SIMT tiled GEMM with strided operands and a strided output (strided_gemm.cuh),
// one problem per index of the batch labels and of the contracted labels beyond K (blockIdx.z). Those last ones
// add into the same outputs, atomically into a zeroed y. Operands are read in place: no copies, no scratch.
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/strided_gemm.cuh"

namespace glassbox::kernels::cuda {

namespace {

constexpr int64_t kMaxProblems = 65535;  // blockIdx.z

// Launches p once per index of dims[first..] (the problems of one launch at most kMaxProblems over at most
// kMaxBatchRank labels): where there are more, the outer labels are looped over here, p's pointers offset.
void launch_products(Context& ctx, StridedGemm p, std::vector<EinsumAxis> dims, size_t first, const char* name) {
  int64_t problems = 1;
  for (size_t d = first; d < dims.size(); ++d) problems *= dims[d].size;
  const size_t rank = dims.size() - first;
  if (problems <= kMaxProblems && rank <= static_cast<size_t>(kMaxBatchRank)) {
    p.batch_rank = static_cast<int>(rank);
    for (size_t d = 0; d < rank; ++d) {
      const EinsumAxis& x = dims[first + d];
      p.batch_size[d] = x.size, p.batch_sa[d] = x.a, p.batch_sb[d] = x.b, p.batch_sy[d] = x.y;
    }
    return launch_strided_gemm(ctx, p, static_cast<int>(problems), name);
  }
  const EinsumAxis outer = dims[first];
  const int64_t rest = problems / outer.size;  // size-1 labels were dropped: outer.size > 1
  const bool chunks = rest <= kMaxProblems && rank <= static_cast<size_t>(kMaxBatchRank);
  const int64_t step = chunks ? kMaxProblems / rest : 1;  // indices of the outer label per launch
  for (int64_t i = 0; i < outer.size; i += step) {
    StridedGemm q = p;
    q.A += i * outer.a, q.B += i * outer.b, q.y += i * outer.y;
    if (chunks) {
      dims[first].size = std::min(step, outer.size - i);
      launch_products(ctx, q, dims, first, name);
    } else {
      launch_products(ctx, q, dims, first + 1, name);
    }
  }
}

}  // namespace

void einsum(Context& ctx, const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y) {
  if (y.numel() == 0) return;
  const cpu::EinsumGemm g = cpu::einsum_as_gemm(axes, a, b, y);
  if (g.zero) return fill_zero(ctx, y);  // a contracted label of size 0: empty sums
  constexpr int64_t kMaxDim = int64_t(1) << 30;
  GB_CHECK(g.M < kMaxDim && g.N < kMaxDim && g.K < kMaxDim, "einsum: a GEMM of ", g.M, " x ", g.N, " x ", g.K,
           ": the CUDA backend supports dimensions below 2^30");
  StridedGemm p;
  // The larger of M and N along the grid's x (2^31 blocks; y allows 65535): y^T = B^T A^T where M is the larger.
  const bool transposed = g.M > g.N;
  p.M = static_cast<int>(transposed ? g.N : g.M);
  p.N = static_cast<int>(transposed ? g.M : g.N);
  p.K = static_cast<int>(g.K);
  p.A = transposed ? b.data : a.data;
  p.B = transposed ? a.data : b.data;
  p.y = y.data;
  p.sam = transposed ? g.bn : g.am, p.sak = transposed ? g.bk : g.ak;
  p.sbk = transposed ? g.ak : g.bk, p.sbn = transposed ? g.am : g.bn;
  p.custom_y = true, p.strided_y = true;
  p.sym = transposed ? g.yn : g.ym, p.syn = transposed ? g.ym : g.yn;
  std::vector<EinsumAxis> dims = g.batch;
  dims.insert(dims.end(), g.summed.begin(), g.summed.end());  // y stride 0: added into the same outputs
  if (transposed)
    for (EinsumAxis& d : dims) std::swap(d.a, d.b);
  if (!g.summed.empty()) {
    fill_zero(ctx, y);
    p.accumulate = true;
  }
  launch_products(ctx, p, dims, 0, "einsum");
}

}  // namespace glassbox::kernels::cuda
