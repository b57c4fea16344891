// The target scores of M outputs, CPU: logits [M, C], classes [K] (floats) -> scores[k, column + j] = scale * s
// (accumulate: +=), s = logits[j, classes[k]] or its softmax probability (target_score_at in element_formulas.h;
// the softmax in float64); a class outside [0, C) scores 0. scores is [K, T], column + M <= T.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void target_scores(Context& ctx, bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                   int64_t column, View scores) {
  const ScoreSizes sizes = check_target_scores(logits, classes, column, scores);
  const int64_t M = sizes.M, C = sizes.C, K = sizes.K, T = sizes.T;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(M, 1, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const float* z = logits.data + j * C;
      double m = 0, sum = 1;
      if (probability) {
        m = -INFINITY, sum = 0;
        for (int64_t i = 0; i < C; ++i) m = std::max(m, double(z[i]));
        for (int64_t i = 0; i < C; ++i) sum += std::exp(double(z[i]) - m);
      }
      for (int64_t k = 0; k < K; ++k) {
        const int64_t c = index_in_range(classes.data[k], C);
        const float s = c < 0 ? 0.f : float(target_score_at<double>(probability, z[c], m, sum));
        float& out = scores.data[k * T + column + j];
        out = accumulate ? out + scale * s : scale * s;
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
