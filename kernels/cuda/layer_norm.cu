// LayerNormalization: x viewed as [rows, len] (len = the product of the normalized dimensions), one block of 256
// threads per row: y = (x - mean) / sigma * scale + bias, sigma = sqrt(var + epsilon), the variance biased and
// computed about the mean (two passes over the row, block_reduce for each sum).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/element_formulas.h"

namespace glassbox::kernels::cuda {

namespace {

constexpr int kBlock = 256;

// The row's mean and 1 / sigma, every thread of the block getting both.
__device__ __forceinline__ void row_stats(const float* x, int64_t len, float epsilon, float* scratch, float& mean,
                                          float& inv_sigma) {
  float s = 0.f;
  for (int64_t k = threadIdx.x; k < len; k += kBlock) s += x[k];
  mean = block_reduce<kBlock>(s, scratch, SumOp{}) / float(len);
  s = 0.f;
  for (int64_t k = threadIdx.x; k < len; k += kBlock) s += (x[k] - mean) * (x[k] - mean);
  inv_sigma = 1.f / sqrtf(block_reduce<kBlock>(s, scratch, SumOp{}) / float(len) + epsilon);
}

__global__ void __launch_bounds__(kBlock) layer_norm_kernel(float epsilon, const float* __restrict__ x,
                                                            const float* __restrict__ scale,
                                                            const float* __restrict__ bias, float* __restrict__ y,
                                                            int64_t len) {
  __shared__ float scratch[kBlock];
  const float* xr = x + int64_t(blockIdx.x) * len;
  float* yr = y + int64_t(blockIdx.x) * len;
  float mean, inv_sigma;
  row_stats(xr, len, epsilon, scratch, mean, inv_sigma);
  for (int64_t k = threadIdx.x; k < len; k += kBlock)
    yr[k] = (xr[k] - mean) * inv_sigma * scale[k] + (bias ? bias[k] : 0.f);
}

// dx = (1/sigma) (g - mean(g) - xhat mean(g xhat)), g = dy * scale.
__global__ void __launch_bounds__(kBlock) layer_norm_backward_kernel(float epsilon, const float* __restrict__ x,
                                                                     const float* __restrict__ scale,
                                                                     const float* __restrict__ dy,
                                                                     float* __restrict__ dx, int64_t len) {
  __shared__ float scratch[kBlock];
  const int64_t base = int64_t(blockIdx.x) * len;
  float mean, inv_sigma;
  row_stats(x + base, len, epsilon, scratch, mean, inv_sigma);
  float sg = 0.f, sgx = 0.f;
  for (int64_t k = threadIdx.x; k < len; k += kBlock) {
    const float g = dy[base + k] * scale[k];
    sg += g;
    sgx += g * (x[base + k] - mean) * inv_sigma;
  }
  const float mean_g = block_reduce<kBlock>(sg, scratch, SumOp{}) / float(len);
  const float mean_gx = block_reduce<kBlock>(sgx, scratch, SumOp{}) / float(len);
  for (int64_t k = threadIdx.x; k < len; k += kBlock)
    dx[base + k] = layer_norm_dx(dy[base + k] * scale[k], (x[base + k] - mean) * inv_sigma, mean_g, mean_gx, inv_sigma);
}

int64_t rows_of(ConstView x, ConstView scale) {
  const int64_t len = scale.numel(), rows = len ? x.numel() / len : 0;
  GB_CHECK(rows < (int64_t(1) << 31), "LayerNormalization over ", rows, " rows: too many for one launch");
  return rows;
}

}  // namespace

void layer_norm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, View y) {
  const int64_t rows = rows_of(x, scale);
  if (rows == 0) return;
  GB_LAUNCH(layer_norm_kernel, static_cast<unsigned>(rows), kBlock, 0, ctx.stream())(epsilon, x.data, scale.data,
                                                                                      bias.data, y.data, scale.numel());
  check_launch("layer_norm");
}

void layer_norm_backward(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView dy, View dx) {
  const int64_t rows = rows_of(x, scale);
  if (rows == 0) return;
  GB_LAUNCH(layer_norm_backward_kernel, static_cast<unsigned>(rows), kBlock, 0, ctx.stream())(
      epsilon, x.data, scale.data, dy.data, dx.data, scale.numel());
  check_launch("layer_norm_backward");
}

}  // namespace glassbox::kernels::cuda
