// y [N * K, ...] = x [N, ...] with each row repeated K times (row n*K + k of y is row n of x), CPU.
#include <algorithm>

#include "engine/error.h"
#include "kernels/cpu/ops.h"

namespace glassbox::kernels::cpu {

void repeat_rows(Context& ctx, ConstView x, View y) {
  const int64_t N = x.dim(0), K = N ? y.dim(0) / N : 0, row = N ? x.numel() / N : 0;
  GB_CHECK(N > 0 && K * N == y.dim(0) && y.numel() == K * x.numel(), "repeat_rows: ", shape_str(x.shape),
           " does not repeat into ", shape_str(y.shape));
  ctx.pool.parallel_for(N * K, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) std::copy(x.data + (r / K) * row, x.data + (r / K + 1) * row, y.data + r * row);
  });
}

}  // namespace glassbox::kernels::cpu
