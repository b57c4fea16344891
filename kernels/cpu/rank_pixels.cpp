// The rank of every pixel of each map, CPU (kernels.h: rank_pixels): descending saliency, ties to the lower index,
// NaN last (ranks_before in element_formulas.h). One std::sort of the indices per map.
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void rank_pixels(Context& ctx, ConstView maps, View ranks) {
  const auto [R, C, P] = check_rank_pixels(maps, ranks);
  (void)C;
  ctx.pool.parallel_for(R, 1, [&, P = P](int64_t b, int64_t e) {
    std::vector<int64_t> order(static_cast<size_t>(P));
    for (int64_t r = b; r < e; ++r) {
      const float* m = maps.data + r * P;
      std::iota(order.begin(), order.end(), int64_t(0));
      std::sort(order.begin(), order.end(),
                [m](int64_t i, int64_t j) { return ranks_before(m[i], i, m[j], j); });
      float* out = ranks.data + r * P;
      for (int64_t k = 0; k < P; ++k) out[order[size_t(k)]] = float(k);
    }
  });
}

}  // namespace glassbox::kernels::cpu
