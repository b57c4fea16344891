// Seeds of activation maximization's unit objectives, CPU: one channel's mean (weight / positions at each position)
// or one position of it (kernels.h: Backend::unit_seed).
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void unit_seed(Context&, int64_t row, int64_t channel, int64_t position, float weight, View seed) {
  check_unit_seed(row, channel, position, seed);
  const int64_t C = seed.dim(1), P = seed.numel() / (seed.dim(0) * C);
  float* plane = seed.data + (row * C + channel) * P;
  if (position >= 0) {
    plane[position] += weight;
    return;
  }
  const float share = weight / float(P);
  for (int64_t p = 0; p < P; ++p) plane[p] += share;
}

}  // namespace glassbox::kernels::cpu
