// Head fusion of attention matrices, CPU: y[n, i, j] = mean, max or min over h of a[n, h, i, j] (kernels.h,
// HeadFusion). One image per task.
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void fuse_heads(Context& ctx, HeadFusion fusion, ConstView a, View y) {
  GB_CHECK(a.shape.size() == 4 && y.shape.size() == 3 && a.dim(0) == y.dim(0) && a.dim(2) == y.dim(1) &&
               a.dim(3) == y.dim(2) && a.dim(1) >= 1,
           "fuse_heads: attention ", shape_str(a.shape), " must be [N, H, T, T'] (H >= 1) and y ", shape_str(y.shape),
           " [N, T, T']");
  const int64_t N = a.dim(0), H = a.dim(1), P = a.dim(2) * a.dim(3);
  ctx.pool.parallel_for(N, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float* x = a.data + n * H * P;
      float* out = y.data + n * P;
      for (int64_t p = 0; p < P; ++p) {
        float v = x[p];
        if (fusion == HeadFusion::mean) {
          double s = 0;
          for (int64_t h = 0; h < H; ++h) s += x[h * P + p];
          v = float(s / double(H));
        } else {
          for (int64_t h = 1; h < H; ++h)
            v = fusion == HeadFusion::max ? std::max(v, x[h * P + p]) : std::min(v, x[h * P + p]);
        }
        out[p] = v;
      }
    }
  });
}

}  // namespace glassbox::kernels::cpu
