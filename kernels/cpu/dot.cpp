// out = scale * <a, b> (+ out), CPU: activation maximization's objective values. Summed in double.
#include "kernels/cpu/ops.h"
#include "kernels/shape_checks.h"

namespace glassbox::kernels::cpu {

void dot(Context&, float scale, bool accumulate, ConstView a, ConstView b, View out) {
  check_same_size("dot", a, b);
  GB_CHECK(out.numel() == 1, "dot: the output is one number, not ", shape_str(out.shape));
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += double(a.data[i]) * double(b.data[i]);
  const float v = float(double(scale) * s);
  out.data[0] = accumulate ? out.data[0] + v : v;
}

}  // namespace glassbox::kernels::cpu
