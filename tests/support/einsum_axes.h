// Einsum test cases written as terms ("bhqd") and operand shapes, turned into Backend::einsum's labels; shared by
// the backend harness (tests/kernels/test_backends.cpp) and the finite-difference checks (test_cpu_backward.cpp).
#pragma once
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace glassbox::kernels::test {

// Einsum cases from terms ("bhqd") and operand shapes: each label's size (the largest: size 1 broadcasts) and
// strides (0 where an operand lacks it or has it as 1). which = 0: y = einsum(a, b); 1: dA = einsum(dY, B), 2: dB =
// einsum(A, dY) (the backward plan_einsum runs).
inline std::vector<EinsumAxis> einsum_axes(const std::string& ta, const std::string& tb, const std::string& ty,
                                    const Shape& a, const Shape& b, Shape& y) {
  std::map<char, EinsumAxis> labels;
  auto bind = [&](const std::string& t, const Shape& s, int64_t EinsumAxis::*stride) {
    int64_t step = 1;
    for (int d = static_cast<int>(t.size()) - 1; d >= 0; --d) {
      EinsumAxis& x = labels[t[d]];
      x.size = std::max(x.size, s[d]);
      x.*stride = s[d] == 1 ? 0 : step;
      step *= s[d];
    }
  };
  bind(ta, a, &EinsumAxis::a);
  bind(tb, b, &EinsumAxis::b);
  y.clear();
  for (char ch : ty) y.push_back(labels[ch].size);
  bind(ty, y, &EinsumAxis::y);
  std::vector<EinsumAxis> axes;
  for (const auto& entry : labels) axes.push_back(entry.second);
  return axes;
}

inline std::vector<EinsumAxis> einsum_roles(std::vector<EinsumAxis> axes, int which) {
  for (EinsumAxis& x : axes) {
    if (which == 1) x = {x.size, x.y, x.b, x.a};
    if (which == 2) x = {x.size, x.a, x.y, x.b};
  }
  return axes;
}

}  // namespace glassbox::kernels::test
