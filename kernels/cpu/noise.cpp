// Noisy copies of images (Smooth Grad-CAM++, SmoothGrad), CPU: y[n*S + s] = x[n] + sigma_n * gaussian_noise(seed,
// s * image size + i) at element i, sigma_n = std_fraction * (max x[n] - min x[n]) (Omeiza et al. 2019 add N(0, sigma^2) noise; the
// scale relative to the image's range is SmoothGrad's, Smilkov et al. 2017).
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cpu {

void noisy_copies(Context& ctx, float std_fraction, uint32_t seed, ConstView x, View y) {
  const int64_t N = x.dim(0), S = N ? y.dim(0) / N : 0, image = N ? x.numel() / N : 0;
  GB_CHECK(N > 0 && S * N == y.dim(0) && y.numel() == S * x.numel(), "noisy_copies: ", shape_str(x.shape),
           " does not make copies of shape ", shape_str(y.shape));
  ctx.pool.parallel_for(N * S, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* in = x.data + (r / S) * image;
      const auto [lo, hi] = std::minmax_element(in, in + image);
      const float sigma = std_fraction * (*hi - *lo);
      float* out = y.data + r * image;
      for (int64_t i = 0; i < image; ++i) out[i] = in[i] + sigma * gaussian_noise(seed, uint64_t((r % S) * image + i));
    }
  });
}

}  // namespace glassbox::kernels::cpu
