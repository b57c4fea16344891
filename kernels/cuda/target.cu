// The targets of an explanation from a batch's logits, on the device (formulas: Backend::target_seeds in
// kernels.h, seed_at and ranks_before in element_formulas.h). One block of 256 threads per image: K rounds of a
// block arg-max, each over the logits that rank after the previous pick (no list of picks to keep); the softmax's
// maximum and sum by block reduction; then the K seed rows.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void target_seeds_kernel(bool probability, const float* __restrict__ logits,
                                    const float* __restrict__ given, float* seeds, float* classes, int64_t C,
                                    int64_t K) {
  __shared__ float best_value[kThreads];
  __shared__ int64_t best_index[kThreads];
  __shared__ float total[kThreads];
  const int t = threadIdx.x;
  const int64_t n = blockIdx.x;
  const float* z = logits + n * C;

  // The picks: given, or K rounds of arg-max over the logits ranking after the previous pick.
  float prev_value = 0.f;
  int64_t prev_index = -1;
  for (int64_t k = 0; k < K; ++k) {
    int64_t pick;
    if (given) {
      pick = static_cast<int64_t>(given[n * K + k]);
    } else {
      float bv = 0.f;
      int64_t bi = -1;
      for (int64_t j = t; j < C; j += blockDim.x) {
        const bool after = prev_index < 0 || ranks_before(prev_value, prev_index, z[j], j);
        if (after && (bi < 0 || ranks_before(z[j], j, bv, bi))) bv = z[j], bi = j;
      }
      best_value[t] = bv, best_index[t] = bi;
      __syncthreads();
      for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (t < s) {
          const int64_t oi = best_index[t + s];
          if (oi >= 0 && (best_index[t] < 0 || ranks_before(best_value[t + s], oi, best_value[t], best_index[t])))
            best_value[t] = best_value[t + s], best_index[t] = oi;
        }
        __syncthreads();
      }
      pick = best_index[0];
      prev_value = best_value[0], prev_index = pick;
      __syncthreads();
    }
    if (t == 0) classes[n * K + k] = float(pick);
  }
  __syncthreads();

  // Softmax statistics: max, then the sum of exp(z - max).
  float m = 0.f, sum = 1.f;
  if (probability) softmax_stats<kThreads>(z, C, total, m, sum);

  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = static_cast<int64_t>(classes[n * K + k]);
    const bool valid = c >= 0 && c < C;
    const float pc = valid && probability ? expf(z[c] - m) / sum : 0.f;
    float* s = seeds + (n * K + k) * C;
    for (int64_t j = t; j < C; j += blockDim.x)
      s[j] = valid ? seed_at(probability, j, c, probability ? expf(z[j] - m) / sum : 0.f, pc) : 0.f;
  }
}

}  // namespace

void target_seeds(Context& ctx, bool probability, ConstView logits, ConstView given, View seeds, View classes) {
  const auto [N, C, K] = check_target_seeds(logits, given, seeds, classes);
  GB_LAUNCH(target_seeds_kernel, static_cast<unsigned>(N), kThreads, 0, ctx.stream())(
      probability, logits.data, given.data, seeds.data, classes.data, C, K);
  check_launch("target_seeds");
}

}  // namespace glassbox::kernels::cuda
