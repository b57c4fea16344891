// BatchNormalization (inference): y = scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + bias[c], c = dim 1.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void batchnorm_kernel(float epsilon, const float* __restrict__ x, const float* __restrict__ scale,
                                 const float* __restrict__ bias, const float* __restrict__ mean,
                                 const float* __restrict__ var, float* __restrict__ y, int64_t n, int64_t channels,
                                 int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / inner) % channels;
    const float k = scale[c] / sqrtf(var[c] + epsilon);  // as the CPU kernel: y = k * x + (bias - k * mean)
    y[i] = k * x[i] + (bias[c] - k * mean[c]);
  }
}

}  // namespace

void batchnorm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, ConstView mean,
               ConstView var, View y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const int64_t channels = x.shape.size() > 1 ? x.dim(1) : 1;
  const int64_t inner = n / (x.dim(0) * channels);
  GB_LAUNCH(batchnorm_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(epsilon, x.data, scale.data, bias.data,
                                                                   mean.data, var.data, y.data, n, channels, inner);
  check_launch("batchnorm");
}

namespace {
__global__ void batchnorm_backward_kernel(float epsilon, const float* __restrict__ scale, const float* __restrict__ var,
                                          const float* __restrict__ dy, float* __restrict__ dx, int64_t n,
                                          int64_t channels, int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / inner) % channels;
    dx[i] = dy[i] * (scale[c] / sqrtf(var[c] + epsilon));
  }
}
}  // namespace

// dx = dy * scale[c] / sqrt(var[c] + epsilon)
void batchnorm_backward(Context& ctx, float epsilon, ConstView scale, ConstView var, ConstView dy, View dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  const int64_t channels = dx.shape.size() > 1 ? dx.dim(1) : 1;
  const int64_t inner = n / (dx.dim(0) * channels);
  GB_LAUNCH(batchnorm_backward_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(epsilon, scale.data, var.data,
                                                                                   dy.data, dx.data, n, channels, inner);
  check_launch("batchnorm_backward");
}

}  // namespace glassbox::kernels::cuda
