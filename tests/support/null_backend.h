// A backend whose forward operators do nothing: tests derive from it to build faulty or partial backends.
#pragma once
#include "kernels/kernels.h"

namespace glassbox::test {

struct NullBackend : kernels::Backend {
  using ConstView = kernels::ConstView;
  using View = kernels::View;
  Device device() const override { return Device::cpu(); }
  void conv2d(const kernels::Conv2dAttrs&, ConstView, ConstView, ConstView, View) override {}
  void pool2d(const kernels::Pool2dAttrs&, ConstView, View) override {}
  void global_avg_pool(ConstView, View) override {}
  void batchnorm(float, ConstView, ConstView, ConstView, ConstView, ConstView, View) override {}
  void activation(const kernels::ActivationAttrs&, ConstView, View) override {}
  void binary(kernels::BinaryOp, const kernels::ActivationAttrs&, ConstView, ConstView, View) override {}
  void gemm(const kernels::GemmAttrs&, ConstView, ConstView, ConstView, View) override {}
  void matmul(ConstView, ConstView, View) override {}
  void concat(int, const std::vector<ConstView>&, View) override {}
  void pad(const kernels::PadAttrs&, ConstView, View) override {}
  void softmax(int, ConstView, View) override {}
  void reduce_mean(const std::vector<int>&, ConstView, View) override {}
  void copy(ConstView, View) override {}
  void upload(const float*, View) override {}
  std::vector<std::string> variants(const std::string&) const override { return {}; }
  void select_variant(const std::string&, const std::string&) override {}
  std::string selected_variant(const std::string&) const override { return ""; }
};

}  // namespace glassbox::test
