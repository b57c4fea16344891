// Softmax, CPU: y = exp(x - max) / sum(exp(x - max)) along one axis (max subtracted for stability); rows along the
// last axis vectorized with vec_math.h's exp.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/vec_math.h"

namespace glassbox::kernels::cpu {

namespace {

// Contiguous rows (softmax over the last axis, as attention's): max, exp (vec_math.h) and sum, scale, L lanes at a
// time; the last partial vector of a row goes through a padded copy (-inf past the row: exp gives 0 there).
template <int L>
__attribute__((always_inline)) inline void softmax_rows(const float* x, float* y, int64_t rows, int64_t len) {
  using V = typename VecOf<L>::type;
  for (int64_t r = 0; r < rows; ++r, x += len, y += len) {
    // The row's max (NaN compares false and is skipped; a NaN element still makes the row NaN, through the sum).
    V vm, v;
    int64_t k = 0;
    float m = x[0];
    if (len >= L) {
      load(vm, x);
      for (k = L; k + L <= len; k += L) {
        load(v, x + k);
        vm = v > vm ? v : vm;
      }
      for (int l = 0; l < L; ++l) m = std::max(m, vm[l]);
    }
    for (; k < len; ++k) m = std::max(m, x[k]);
    V sum{};
    for (k = 0; k + L <= len; k += L) {
      load(v, x + k);
      v -= m;
      exp_in_place(v);
      sum += v;
      store(y + k, v);
    }
    if (k < len) {  // the rest through a padded copy (-inf past the row: exp gives 0 there)
      alignas(64) float in[L], out[L];
      for (int64_t l = 0; l < L; ++l) in[l] = k + l < len ? x[k + l] - m : -__builtin_inff();
      load(v, in);
      exp_in_place(v);
      sum += v;
      store(out, v);
      std::copy(out, out + (len - k), y + k);
    }
    float s = 0.f;
    for (int l = 0; l < L; ++l) s += sum[l];
    const float inv = 1.f / s;
    for (int64_t k = 0; k < len; ++k) y[k] *= inv;
  }
}
using SoftmaxRowsFn = void (*)(const float*, float*, int64_t, int64_t);
__attribute__((target("avx512f"))) void softmax_rows_avx512(const float* x, float* y, int64_t rows, int64_t len) {
  softmax_rows<16>(x, y, rows, len);
}
__attribute__((target("avx2,fma"))) void softmax_rows_avx2(const float* x, float* y, int64_t rows, int64_t len) {
  softmax_rows<8>(x, y, rows, len);
}
void softmax_rows_generic(const float* x, float* y, int64_t rows, int64_t len) { softmax_rows<4>(x, y, rows, len); }

}  // namespace

void softmax(Context& ctx, int axis, ConstView x, View y) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t len = x.shape[axis];
  if (inner == 1 && len > 0) {
    const SoftmaxRowsFn fn = ctx.isa == Isa::avx512 ? softmax_rows_avx512
                             : ctx.isa == Isa::avx2 ? softmax_rows_avx2
                                                    : softmax_rows_generic;
    ctx.pool.parallel_for(outer, std::max<int64_t>(1, 4096 / len), [&](int64_t b, int64_t e) {
      fn(x.data + b * len, y.data + b * len, e - b, len);
    });
    return;
  }
  ctx.pool.parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / inner, i = t % inner;
      const float* xp = x.data + o * len * inner + i;
      float* yp = y.data + o * len * inner + i;
      float m = xp[0];
      for (int64_t k = 1; k < len; ++k) m = std::max(m, xp[k * inner]);
      double s = 0.0;
      for (int64_t k = 0; k < len; ++k) s += (yp[k * inner] = std::exp(xp[k * inner] - m));
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t k = 0; k < len; ++k) yp[k * inner] *= inv;
    }
  });
}

// Backward: dx = y * (dy - sum_axis(dy * y)).
void softmax_backward(Context& ctx, int axis, ConstView y, ConstView dy, View dx) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (size_t d = axis + 1; d < y.shape.size(); ++d) inner *= y.shape[d];
  const int64_t len = y.shape[axis];
  ctx.pool.parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t base = (t / inner) * len * inner + t % inner;
      double dot = 0;
      for (int64_t k = 0; k < len; ++k) dot += double(dy.data[base + k * inner]) * y.data[base + k * inner];
      for (int64_t k = 0; k < len; ++k)
        dx.data[base + k * inner] = y.data[base + k * inner] * (dy.data[base + k * inner] - float(dot));
    }
  });
}

}  // namespace glassbox::kernels::cpu
