// The target scores of M outputs, CPU: logits [M, C], classes [K] (floats) -> scores[k, column + j] = scale * s
// (accumulate: +=), s = logits[j, classes[k]] or its softmax probability (target_score_at in element_formulas.h;
// the softmax in float64); a class outside [0, C) scores 0. scores is [K, T], column + M <= T.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void target_scores(Context& ctx, bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                   int64_t column, View scores) {
  const bool shaped = logits.shape.size() == 2 && scores.shape.size() == 2;
  const int64_t M = shaped ? logits.dim(0) : 0, C = shaped ? logits.dim(1) : 0, K = classes.numel();
  GB_CHECK(shaped && scores.dim(0) == K && column >= 0 && column + M <= scores.dim(1), "target_scores: logits ",
           shape_str(logits.shape), " for ", K, " classes do not fit scores ", shape_str(scores.shape),
           " at column ", column);
  const int64_t T = scores.dim(1);
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
