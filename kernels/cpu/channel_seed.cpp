// Deconvnet's projection seed, CPU (Zeiler & Fergus 2014, Sec. 2.1: to examine one activation, the other
// activations of the layer are set to zero): y = a on one channel (or only its first maximum per image), 0 elsewhere.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void channel_seed(Context& ctx, bool peak, int64_t channel, ConstView a, View y) {
  const CopySizes sizes = check_channel_seed(channel, a, y);
  const int64_t N = sizes.M, C = sizes.C, P = sizes.P;  // plain variables: the lambdas capture them
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      std::fill(y.data + n * C * P, y.data + (n + 1) * C * P, 0.f);
      const float* in = a.data + (n * C + channel) * P;
      float* out = y.data + (n * C + channel) * P;
      if (!peak) {
        std::copy(in, in + P, out);
        continue;
      }
      if (P > 0) {
        const int64_t at = std::max_element(in, in + P) - in;  // the first maximum
        out[at] = in[at];
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
