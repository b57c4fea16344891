// The target scores of M outputs on the device: logits [M, C], classes [K] (floats) -> scores[k, column + j] =
// scale * s (accumulate: +=), s = logits[j, classes[k]] or its softmax probability (target_score_at in
// element_formulas.h, in float); a class outside [0, C) scores 0. One block of 256 threads per logits row: the
// softmax's maximum and sum by block reduction, then one thread per class.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void target_scores_kernel(bool probability, float scale, bool accumulate, const float* __restrict__ logits,
                                     const float* __restrict__ classes, float* scores, int64_t C, int64_t K,
                                     int64_t T, int64_t column) {
  __shared__ float total[kThreads];
  const int t = threadIdx.x;
  const int64_t j = blockIdx.x;
  const float* z = logits + j * C;
  float m = 0.f, sum = 1.f;
  if (probability) softmax_stats<kThreads>(z, C, total, m, sum);  // the same branch for the whole block
  for (int64_t k = t; k < K; k += blockDim.x) {
    const int64_t c = index_in_range(classes[k], C);
    const float s = c < 0 ? 0.f : target_score_at<float>(probability, z[c], m, sum);
    float& out = scores[k * T + column + j];
    out = accumulate ? out + scale * s : scale * s;
  }
}

}  // namespace

void target_scores(Context& ctx, bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                   int64_t column, View scores) {
  const auto [M, C, K, T] = check_target_scores(logits, classes, column, scores);
  if (M == 0 || K == 0) return;
  GB_LAUNCH(target_scores_kernel, static_cast<unsigned>(M), kThreads, 0, ctx.stream())(
      probability, scale, accumulate, logits.data, classes.data, scores.data, C, K, T, column);
  check_launch("target_scores");
}

}  // namespace glassbox::kernels::cuda
