// One attention rollout matrix in place, CPU (kernels.h: rollout_step): a = a + I; with normalize, halved and each
// row divided by its sum (Abnar & Zuidema 2020); without, I + Abar for Chefer et al. 2021's R = R + Abar R.
#include "engine/error.h"
#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void rollout_step(Context& ctx, bool normalize, View a) {
  GB_CHECK(a.shape.size() == 3 && a.dim(1) == a.dim(2), "rollout_step: a ", shape_str(a.shape), " must be [N, T, T]");
  const int64_t T = a.dim(1);
  ctx.pool.parallel_for(a.dim(0) * T, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {  // row i = r % T of matrix r / T
      float* row = a.data + r * T;
      row[r % T] += 1.f;
      if (!normalize) continue;
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += 0.5 * double(row[j]);
      for (int64_t j = 0; j < T; ++j) row[j] = float(0.5 * double(row[j]) / sum);
    }
  });
}

}  // namespace glassbox::kernels::cpu
