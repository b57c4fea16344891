// Helpers shared by the bench commands (bench.cpp: whole models; bench_kernels.cpp: the kernel workbench).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model.h"

namespace glassbox::tools {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

inline double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string json_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// "resnet50" for .../resnet50/model.onnx, else the file's stem.
inline std::string model_label(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  if (file == "model.onnx" && slash != std::string::npos) {
    const std::string dir = path.substr(0, slash);
    const size_t up = dir.find_last_of('/');
    return up == std::string::npos ? dir : dir.substr(up + 1);
  }
  return file.substr(0, file.rfind(".onnx"));
}

// The model's (first) input shape with the batch dimension set to `batch`; an error where it is not concrete.
inline Shape input_shape_at(const Model& model, long batch) {
  Shape shape = model.input_shape();
  GB_CHECK(!shape.empty(), "the model's input declares no shape");
  shape[0] = batch;
  for (int64_t d : shape) GB_CHECK(d > 0, "the input shape ", shape_str(model.input_shape()), " is not concrete");
  return shape;
}

// A host float32 tensor of uniform values in [-1, 1) from a linear congruential generator (reproducible).
inline Tensor random_tensor(const Shape& shape, uint32_t seed) {
  Tensor x = Tensor::empty(shape);
  uint32_t state = seed;
  for (int64_t i = 0; i < x.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    x.data<float>()[i] = float(state >> 8) / float(1 << 24) * 2.f - 1.f;
  }
  return x;
}

}  // namespace glassbox::tools
