// The targets of an explanation from a batch's logits, CPU: the classes (given, or the top K of each image) and
// the seed gradients d score / d logits (formulas: Backend::target_seeds in kernels.h, seed_at and ranks_before in
// element_formulas.h). The softmax in float64.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void target_seeds(Context& ctx, bool probability, ConstView logits, ConstView given, View seeds, View classes) {
  const TargetSizes sizes = check_target_seeds(logits, given, seeds, classes);
  const int64_t N = sizes.N, C = sizes.C, K = sizes.K;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    std::vector<int64_t> order(C);
    std::vector<float> p(C);
    for (int64_t n = b; n < e; ++n) {
      const float* z = logits.data + n * C;
      if (given.data) {
        for (int64_t k = 0; k < K; ++k) order[k] = static_cast<int64_t>(given.data[n * K + k]);
      } else {
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + K, order.end(),
                          [&](int64_t i, int64_t j) { return ranks_before(z[i], i, z[j], j); });
      }
      if (probability) {
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < C; ++j) m = std::max(m, double(z[j]));
        for (int64_t j = 0; j < C; ++j) sum += std::exp(double(z[j]) - m);
        for (int64_t j = 0; j < C; ++j) p[j] = float(std::exp(double(z[j]) - m) / sum);
      }
      for (int64_t k = 0; k < K; ++k) {
        const int64_t c = order[k], row = n * K + k;
        const bool valid = c >= 0 && c < C;
        classes.data[row] = float(c);
        float* s = seeds.data + row * C;
        for (int64_t j = 0; j < C; ++j) s[j] = valid ? seed_at(probability, j, c, p[j], p[c]) : 0.f;
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
