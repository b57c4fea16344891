// Saliency, CPU: y[n, p] = max over channels c of |x[n, c, p]| (Simonyan, Vedaldi & Zisserman 2014: the gradient's
// magnitude, the maximum over colour channels).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void channel_abs_max(Context& ctx, ConstView x, View y) {
  const CopySizes sizes = check_channel_abs_max(x, y);
  const int64_t N = sizes.M, C = sizes.C, P = sizes.P;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      float* out = y.data + n * P;
      std::fill(out, out + P, 0.f);
      for (int64_t c = 0; c < C; ++c) {
        const float* in = x.data + (n * C + c) * P;
        for (int64_t p = 0; p < P; ++p) out[p] = std::max(out[p], std::fabs(in[p]));
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
