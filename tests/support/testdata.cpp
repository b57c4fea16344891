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

void expect_gradients_match_golden(const std::string& model_dir, const std::string& golden_dir, int threads,
                                   bool allow_float32_error) {
  auto model = Model::load(model_dir + "/model.onnx");
  const Tensor input = read_test_data(model_dir).at(0).inputs.at(0).tensor;
  std::ifstream lf(golden_dir + "/layer.txt");
  std::string layer;
  std::getline(lf, layer);
  ASSERT_FALSE(layer.empty()) << golden_dir << "/layer.txt";
  const std::string input_name = model->input_names().at(0);
  // 1e-4, or (allow_float32_error) twice what PyTorch's own float32 autograd misses by where that is more.
  double f32_layer = 0, f32_input = 0;
  std::ifstream ef(golden_dir + "/float32_error.txt");
  ef >> f32_layer >> f32_input;
  const double tol_layer = allow_float32_error ? std::max(1e-4, 2 * f32_layer) : 1e-4;
  const double tol_input = allow_float32_error ? std::max(1e-4, 2 * f32_input) : 1e-4;
  auto error = [](const Tensor& got, const Tensor& want) {  // max |got - want| / max |want|
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      diff = std::max(diff, std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]));
      scale = std::max(scale, std::fabs(double(want.data<float>()[i])));
    }
    return scale > 0 ? diff / scale : diff;
  };
  for (bool fuse : {true, false}) {
    SessionOptions o;
    o.threads = threads;
    o.fuse_activations = fuse;
    Session s(model, o);
    s.track_gradients({layer, input_name});
    const Result r = s.run(input);
    const Shape& z = r.output().shape();
    Tensor seed = Tensor::zeros(z);
    for (int64_t n = 0; n < z[0]; ++n) seed.data<float>()[n * z[1] + (3 * n + 1) % z[1]] = 1.f;
    const auto grads = s.backward({seed});
    const double e_layer = error(grads.at(layer), read_tensor_pb(golden_dir + "/grad_layer.pb").tensor);
    const double e_input = error(grads.at(input_name), read_tensor_pb(golden_dir + "/grad_input.pb").tensor);
    std::printf("%s (fusion %s): gradient error at %s %.2g, at the input %.2g (PyTorch float32: %.2g, %.2g)\n",
                model_dir.c_str(), fuse ? "on" : "off", layer.c_str(), e_layer, e_input, f32_layer, f32_input);
    EXPECT_LE(e_layer, tol_layer) << layer;
    EXPECT_LE(e_input, tol_input) << "input";
  }
}

// The checkout the tests were built from, or $GLASSBOX_SOURCE_DIR (test binaries carried to another machine, as
// tools/gpu_check.sh does).
std::string source_dir() {
  const char* env = std::getenv("GLASSBOX_SOURCE_DIR");
  return env && *env ? env : GLASSBOX_SOURCE_DIR;
}
std::string assets_dir() { return source_dir() + "/build"; }

void expect_rules_match_golden(const std::string& model_path, const std::string& golden_dir, bool local_flips) {
  auto model = Model::load(model_path);
  const Tensor x = read_tensor_pb(golden_dir + "/input.pb").tensor;
  std::ifstream f(golden_dir + "/float32_error.txt");
  double f32[3] = {0, 0, 0};
  f >> f32[0] >> f32[1] >> f32[2];
  const std::pair<kernels::BackwardRule, const char*> rules[] = {{kernels::BackwardRule::gradient, "gradient"},
                                                                 {kernels::BackwardRule::deconvnet, "deconvnet"},
                                                                 {kernels::BackwardRule::guided, "guided"}};
  for (bool fused : {true, false}) {
    SessionOptions o;
    o.fuse_activations = fused;
    Session s(model, o);
    const std::string input = model->input_names()[0];
    s.track_gradients({input});
    const Tensor z = s.run(x).output();
    Tensor seed = Tensor::zeros(z.shape());
    for (int64_t n = 0; n < z.dim(0); ++n) seed.data<float>()[n * z.dim(1) + (3 * n + 1) % z.dim(1)] = 1.f;
    for (int i = 0; i < 3; ++i) {
      const auto [rule, name] = rules[i];
      const Tensor got = s.backward({seed}, rule).at(input).to(Device::cpu());
      const Tensor want = read_tensor_pb(golden_dir + "/grad_" + name + ".pb").tensor;
      ASSERT_EQ(got.shape(), want.shape()) << name;
      double diff = 0, scale = 0;
      for (int64_t j = 0; j < want.numel(); ++j) {
        diff = std::max(diff, std::fabs(double(got.data<float>()[j]) - want.data<float>()[j]));
        scale = std::max(scale, std::fabs(double(want.data<float>()[j])));
      }
      int64_t off = 0;  // elements beyond 1e-5 of the largest value
      for (int64_t j = 0; j < want.numel(); ++j)
        off += std::fabs(double(got.data<float>()[j]) - want.data<float>()[j]) > 1e-5 * scale;
      const double err = scale > 0 ? diff / scale : diff, off_fraction = double(off) / double(want.numel());
      const double bar = std::max(2e-5, 2 * f32[i]);  // deep ReLU networks: masks flip where values round near 0
      std::printf("%s %s (fusion %s): error %.2g (PyTorch float32 %.2g), %.3g%% of the elements beyond 1e-5\n",
                  golden_dir.c_str(), name, fused ? "on" : "off", err, f32[i], 100 * off_fraction);
      EXPECT_TRUE(err <= bar || (local_flips && off_fraction <= 0.01)) << name << ": error " << err << ", "
                                                                       << off << " elements off";
    }
  }
}

}  // namespace glassbox::test
