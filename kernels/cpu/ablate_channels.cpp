// Ablation-CAM's copies of one feature map (Desai & Ramaswamy 2020), CPU: a [C, h, w] -> y[j] = a with channel
// channels[j] set to 0 (channels [M] as floats; one outside [0, C) zeroes nothing: index_in_range in
// element_formulas.h).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void ablate_channels(Context& ctx, ConstView a, ConstView channels, View y) {
  const int64_t M = channels.numel(), C = a.shape.size() >= 3 ? a.dim(-3) : 0, image = a.numel();
  const int64_t P = C ? image / C : 0;
  GB_CHECK(a.shape.size() >= 3 && C * a.dim(-2) * a.dim(-1) == image && !y.shape.empty() && y.dim(0) == M &&
               y.numel() == M * image,
           "ablate_channels: ", M, " copies of the feature map ", shape_str(a.shape), " [C, h, w] do not fit ",
           shape_str(y.shape));
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
