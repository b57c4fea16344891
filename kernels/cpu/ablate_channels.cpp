// Ablation-CAM's copies of one feature map (Desai & Ramaswamy 2020), CPU: a [C, h, w] -> y[j] = a with channel
// channels[j] set to 0 (channels [M] as floats; one outside [0, C) zeroes nothing: index_in_range in
// element_formulas.h).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void ablate_channels(Context& ctx, ConstView a, ConstView channels, View y) {
  const CopySizes sizes = check_ablate_channels(a, channels, y);
  const int64_t M = sizes.M, C = sizes.C, P = sizes.P;  // plain variables: the lambdas capture them
  const int64_t image = a.numel();
  ctx.pool.parallel_for(M, 1, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      float* out = y.data + j * image;
      std::copy(a.data, a.data + image, out);
      const int64_t c = index_in_range(channels.data[j], C);
      if (c >= 0) std::fill(out + c * P, out + (c + 1) * P, 0.f);
    }
  });
}

}  // namespace glassbox::kernels::cpu
