// A backend whose forward operators do nothing: a base for partial backends (the tests' faulty backends, the
// kernel workbench's recorder of the convolutions a plan calls, tools/glassbox/bench_kernels.cpp).
#pragma once
#include "kernels/kernels.h"

namespace glassbox::kernels {

struct NullBackend : Backend {
  Device device() const override { return Device::cpu(); }
  void conv2d(const Conv2dAttrs&, ConstView, ConstView, ConstView, View) override {}
  void pool2d(const Pool2dAttrs&, ConstView, View) override {}
  void global_avg_pool(ConstView, View) override {}
  void batchnorm(float, ConstView, ConstView, ConstView, ConstView, ConstView, View) override {}
  void activation(const ActivationAttrs&, ConstView, View) override {}
  void binary(BinaryOp, const ActivationAttrs&, ConstView, ConstView, View) override {}
  void gemm(const GemmAttrs&, ConstView, ConstView, ConstView, View) override {}
  void matmul(ConstView, ConstView, View, bool) override {}
  void concat(int, const std::vector<ConstView>&, View) override {}
  void pad(const PadAttrs&, ConstView, View) override {}
  void resize2d(const Resize2dAttrs&, ConstView, View) override {}
  void softmax(int, ConstView, View) override {}
  void reduce(ReduceKind, const std::vector<int>&, ConstView, View) override {}
  void einsum(const std::vector<EinsumAxis>&, ConstView, ConstView, View) override {}
  void strided_copy(int64_t, const std::vector<int64_t>&, ConstView, View) override {}
  void layer_norm(float, ConstView, ConstView, ConstView, View) override {}
  void copy(ConstView, View) override {}
  void upload(const float*, View) override {}
  std::vector<std::string> variants(const std::string&) const override { return {}; }
  void select_variant(const std::string&, const std::string&) override {}
  std::string selected_variant(const std::string&) const override { return ""; }
};

}  // namespace glassbox::kernels
