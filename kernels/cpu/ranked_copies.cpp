// Deletion and insertion copies of one image, CPU (kernels.h: ranked_copies; Petsiuk et al. 2018): copy j takes
// the pixels ranked below (first_step + j) * pixels_per_step from `to`, the others from `from`.
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void ranked_copies(Context& ctx, int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to,
                   ConstView ranks, View y) {
  const auto [M, C, P] = check_ranked_copies(first_step, pixels_per_step, from, to, ranks, y);
  ctx.pool.parallel_for(M * C, 1, [&, C = C, P = P](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t j = r / C, c = r % C;
      const float* f = from.data + c * P;
      const float* t = to.data + c * P;
      float* out = y.data + r * P;
      for (int64_t p = 0; p < P; ++p)
        out[p] = ranked_copy_at(first_step + j, pixels_per_step, ranks.data[p], f[p], t[p]);
    }
  });
}

}  // namespace glassbox::kernels::cpu
