// ReciproCAM's copies of one feature map (Byun & Lee 2022), CPU: a [C, h, w], one copy per spatial position
// q = first + j (row-major over h x w): y[j, c, p] = a[c, p] * m_q(p), m_q the one-hot of q or the 3x3 Gaussian
// [1 2 1; 2 4 2; 1 2 1] / 16 centred on q, cut at the borders (spatial_mask_at in element_formulas.h).
#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void spatial_masked_copies(Context& ctx, bool gaussian, int64_t first, ConstView a, View y) {
  const CopySizes sizes = check_spatial_masked_copies(first, a, y);
  const int64_t M = sizes.M, C = sizes.C, P = sizes.P;  // plain variables: the lambdas capture them
  const int64_t w = a.dim(-1);
  ctx.pool.parallel_for(M * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t q = first + r / C;
      const float* in = a.data + (r % C) * P;
      float* out = y.data + r * P;
      for (int64_t p = 0; p < P; ++p) out[p] = in[p] * spatial_mask_at(gaussian, q, p, w);
    }
  });
}

}  // namespace glassbox::kernels::cpu
