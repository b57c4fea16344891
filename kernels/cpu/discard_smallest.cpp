// Attention rollout's discarding, CPU (kernels.h: discard_smallest): per matrix x[n] [T, T], the k =
// floor(ratio * T * T) smallest entries other than entry 0 (the class token's attention to itself) become 0, ties
// in flat index order. std::nth_element on (value, index) pairs; one matrix per task.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void discard_smallest(Context& ctx, float ratio, View x) {
  GB_CHECK(x.shape.size() == 3 && x.dim(1) == x.dim(2), "discard_smallest: x ", shape_str(x.shape),
           " must be [N, T, T]");
  GB_CHECK(ratio >= 0.f && ratio <= 1.f, "discard_smallest: the ratio ", ratio, " is outside [0, 1]");
  const int64_t N = x.dim(0), P = x.dim(1) * x.dim(2);
  const int64_t k = std::min<int64_t>(static_cast<int64_t>(std::floor(double(ratio) * double(P))), P - 1);
  if (k <= 0) return;
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    std::vector<int64_t> order(P - 1);
    for (int64_t n = b; n < e; ++n) {
      float* m = x.data + n * P;
      std::iota(order.begin(), order.end(), int64_t(1));  // every entry but (0, 0)
      std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), [m](int64_t i, int64_t j) {
        return m[i] < m[j] || (m[i] == m[j] && i < j);
      });
      for (int64_t i = 0; i < k; ++i) m[order[i]] = 0.f;
    }
  });
}

}  // namespace glassbox::kernels::cpu
