// One Adam step on the device (kernels/cpu/adam_step.cpp states the source): one thread per element.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cuda {

namespace {
__global__ void adam_step_kernel(float lr, float b1, float b2, float eps, float c1, float c2,
                                 const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                                 float* __restrict__ p, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_at(lr, b1, b2, eps, c1, c2, g[i], m[i], v[i], p[i]);
}
}  // namespace

void adam_step(Context& ctx, float lr, float b1, float b2, float eps, int64_t step, ConstView grad, View m, View v,
               View param) {
  check_adam_step(step, grad, m, v, param);
  if (param.numel() == 0) return;
  // The bias corrections on the host, as the CPU kernel computes them (the same float pow).
  const float c1 = 1.f - std::pow(b1, float(step)), c2 = 1.f - std::pow(b2, float(step));
  GB_LAUNCH(adam_step_kernel, ctx.grid_for(param.numel(), 256), 256, 0, ctx.stream())(
      lr, b1, b2, eps, c1, c2, grad.data, m.data, v.data, param.data, param.numel());
  check_launch("adam_step");
}

}  // namespace glassbox::kernels::cuda
