// Head fusion of attention matrices on the device: y[n, i, j] = mean, max or min over h of a[n, h, i, j]
// (kernels.h, HeadFusion). One thread per output element, looping over the heads.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cuda {

namespace {

__global__ void fuse_heads_kernel(HeadFusion fusion, const float* __restrict__ a, float* __restrict__ y, int64_t N,
                                  int64_t H, int64_t P) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * P; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P, p = i % P;
    const float* x = a + n * H * P + p;
    float v = x[0];
    for (int64_t h = 1; h < H; ++h) {
      const float u = x[h * P];
      v = fusion == HeadFusion::mean ? v + u : (fusion == HeadFusion::max ? fmaxf(v, u) : fminf(v, u));
    }
    y[i] = fusion == HeadFusion::mean ? v / float(H) : v;
  }
}

}  // namespace

void fuse_heads(Context& ctx, HeadFusion fusion, ConstView a, View y) {
  GB_CHECK(a.shape.size() == 4 && y.shape.size() == 3 && a.dim(0) == y.dim(0) && a.dim(2) == y.dim(1) &&
               a.dim(3) == y.dim(2) && a.dim(1) >= 1,
           "fuse_heads: attention ", shape_str(a.shape), " must be [N, H, T, T'] (H >= 1) and y ", shape_str(y.shape),
           " [N, T, T']");
  const int64_t n = y.numel();
  if (n == 0) return;
  GB_LAUNCH(fuse_heads_kernel, ctx.grid_for(n, 256), 256, 0, ctx.stream())(fusion, a.data, y.data, a.dim(0), a.dim(1),
                                                                           a.dim(2) * a.dim(3));
  check_launch("fuse_heads");
}

}  // namespace glassbox::kernels::cuda
