#include "tests/support/testdata.h"

#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace fs = std::filesystem;

namespace glassbox::test {

NamedTensor read_tensor_pb(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GB_CHECK(f, path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  onnx::TensorProto t;
  GB_CHECK(t.ParseFromString(bytes), path, ": not a TensorProto");
  Shape shape(t.dims().begin(), t.dims().end());
  const int64_t n = numel(shape);
  NamedTensor out{t.name(), {}};
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    out.tensor = Tensor::empty(shape);
    if (t.has_raw_data()) {
      GB_CHECK(t.raw_data().size() == size_t(n) * 4, path, ": raw size mismatch");
      std::copy(t.raw_data().begin(), t.raw_data().end(), static_cast<char*>(out.tensor.raw()));
    } else {
      GB_CHECK(t.float_data_size() == n, path, ": float_data size mismatch");
      std::copy(t.float_data().begin(), t.float_data().end(), out.tensor.data<float>());
    }
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    out.tensor = Tensor::empty(shape, DType::i64);
    if (t.has_raw_data()) std::copy(t.raw_data().begin(), t.raw_data().end(), static_cast<char*>(out.tensor.raw()));
    else std::copy(t.int64_data().begin(), t.int64_data().end(), out.tensor.data<int64_t>());
  } else {
    fail(path, ": unsupported test tensor type ", t.data_type());
  }
  return out;
}

std::vector<TestDataSet> read_test_data(const std::string& case_dir) {
  std::vector<std::string> sets;
  for (const auto& e : fs::directory_iterator(case_dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path().string());
  std::sort(sets.begin(), sets.end());
  std::vector<TestDataSet> out;
  for (const auto& s : sets) {
    TestDataSet d;
    for (int k = 0;; ++k) {
      const fs::path p = fs::path(s) / ("input_" + std::to_string(k) + ".pb");
      if (!fs::exists(p)) break;
      d.inputs.push_back(read_tensor_pb(p.string()));
    }
    for (int k = 0;; ++k) {
      const fs::path p = fs::path(s) / ("output_" + std::to_string(k) + ".pb");
      if (!fs::exists(p)) break;
      d.outputs.push_back(read_tensor_pb(p.string()));
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> case_dirs(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

double tolerance_ratio(const Tensor& got, const Tensor& want, double atol, double rtol) {
  GB_CHECK(got.shape() == want.shape(), "shape ", shape_str(got.shape()), " != expected ", shape_str(want.shape()));
  const float* a = got.data<float>();
  const float* b = want.data<float>();
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (std::isnan(b[i]) || std::isinf(b[i])) {
      if (!(std::isnan(a[i]) && std::isnan(b[i])) && a[i] != b[i]) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (!std::isfinite(a[i])) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / (atol + rtol * std::fabs(double(b[i]))));
  }
  return worst;
}

void expect_model_matches_golden(const std::string& dir, int threads) {
  auto model = Model::load(dir + "/model.onnx");
  SessionOptions opt;
  opt.threads = threads;
  Session session(model, opt);
  const auto sets = read_test_data(dir);
  ASSERT_FALSE(sets.empty()) << dir;
  for (size_t s = 0; s < sets.size(); ++s) {
    std::vector<Tensor> inputs;
    for (const auto& in : sets[s].inputs) inputs.push_back(in.tensor);
    const Result r = session.run(inputs);
    ASSERT_EQ(r.outputs.size(), sets[s].outputs.size());
    for (size_t k = 0; k < r.outputs.size(); ++k) {
      const Tensor& want = sets[s].outputs[k].tensor;
      float scale = 1.f;
      for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(want.data<float>()[i]));
      const double ratio = tolerance_ratio(r.outputs[k], want, 1e-4 * scale, 0.0);
      EXPECT_LE(ratio, 1.0) << dir << " set " << s << " output " << k << ": max |diff| = " << ratio * 1e-4 * scale;
      std::printf("%s set %zu output %zu: max |diff| %.3g (tolerance 1e-4 x %.3g)\n", dir.c_str(), s, k,
                  ratio * 1e-4 * scale, scale);
    }
  }
}

// The checkout the tests were built from, or $GLASSBOX_SOURCE_DIR (test binaries carried to another machine, as
// tools/gpu_check.sh does).
std::string source_dir() {
  const char* env = std::getenv("GLASSBOX_SOURCE_DIR");
  return env && *env ? env : GLASSBOX_SOURCE_DIR;
}
std::string assets_dir() { return source_dir() + "/build"; }

}  // namespace glassbox::test
