// Noisy copies of images on the device: y[n*S + s] = x[n] + sigma_n * gaussian_noise(seed, s * image + i), sigma_n =
// std_fraction * (max x[n] - min x[n]) (kernels/cpu/noise.cpp states the sources). One block per image finds its
// range; then one thread per output element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void image_sigma_kernel(const float* __restrict__ x, float* sigma, int64_t image, float std_fraction) {
  __shared__ float scratch[256];
  const float* p = x + int64_t(blockIdx.x) * image;
  float a = INFINITY, b = -INFINITY;
  for (int64_t i = threadIdx.x; i < image; i += blockDim.x) a = fminf(a, p[i]), b = fmaxf(b, p[i]);
  a = block_reduce<256>(a, scratch, MinOp{});
  b = block_reduce<256>(b, scratch, MaxOp{});
  if (threadIdx.x == 0) sigma[blockIdx.x] = std_fraction * (b - a);
}

__global__ void noisy_copies_kernel(const float* __restrict__ x, const float* __restrict__ sigma, float* y,
                                    int64_t n, int64_t image, int64_t S, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / (image * S);
    y[i] = x[img * image + i % image] + sigma[img] * gaussian_noise(seed, uint64_t(i % (image * S)));
  }
}

}  // namespace

void noisy_copies(Context& ctx, float std_fraction, uint32_t seed, ConstView x, View y) {
  const int64_t N = x.dim(0), S = N ? y.dim(0) / N : 0, image = N ? x.numel() / N : 0;
  GB_CHECK(N > 0 && S * N == y.dim(0) && y.numel() == S * x.numel(), "noisy_copies: ", shape_str(x.shape),
           " does not make copies of shape ", shape_str(y.shape));
  if (y.numel() == 0) return;
  float* sigma = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(N)));
  GB_LAUNCH(image_sigma_kernel, static_cast<unsigned>(N), 256, 0, ctx.stream())(x.data, sigma, image, std_fraction);
  check_launch("noisy_copies (range)");
  GB_LAUNCH(noisy_copies_kernel, ctx.grid_for(y.numel(), 256), 256, 0, ctx.stream())(x.data, sigma, y.data,
                                                                                     y.numel(), image, S, seed);
  check_launch("noisy_copies");
}

}  // namespace glassbox::kernels::cuda
