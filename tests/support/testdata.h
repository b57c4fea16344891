// Test helpers: ONNX backend-test folders (model.onnx + test_data_set_N/{input,output}_K.pb) and comparisons.
#pragma once
#include <string>
#include <vector>

#include "engine/model.h"

namespace glassbox::test {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Reads a serialized onnx.TensorProto.
NamedTensor read_tensor_pb(const std::string& path);

struct TestDataSet {
  std::vector<NamedTensor> inputs, outputs;
};
// Every test_data_set_* folder of a case, in name order.
std::vector<TestDataSet> read_test_data(const std::string& case_dir);

// Sub-folders of `dir` holding a model.onnx, sorted.
std::vector<std::string> case_dirs(const std::string& dir);

// Maximum of |a - b| / (atol + rtol * |b|) over all elements; <= 1 means within tolerance. NaN/inf mismatches
// give infinity.
double tolerance_ratio(const Tensor& got, const Tensor& want, double atol, double rtol);

// Runs every data set of a backend-test folder and expects each output within 1e-4 of ONNX Runtime's, relative to
// the output's scale where that exceeds 1 (gtest EXPECTs).
void expect_model_matches_golden(const std::string& case_dir, int threads);

// Where make test puts generated assets (build/ at the repository root); both follow $GLASSBOX_SOURCE_DIR.
std::string assets_dir();
std::string source_dir();

}  // namespace glassbox::test
