// Test helpers: ONNX backend-test folders (model.onnx + test_data_set_N/{input,output}_K.pb) and comparisons.
#pragma once
#include <gtest/gtest.h>

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

// The backward pass of the model in model_dir against make_gradient_goldens.py's files in golden_dir: gradients
// at the input and at golden_dir/layer.txt's layer for L = sum_n logits[n, (3n + 1) mod classes], on
// test_data_set_0's input, with and without activation fusion, within 1e-4 of float64 autograd (relative to the
// largest gradient); with allow_float32_error, within twice PyTorch's own float32 error where that is larger
// (golden_dir/float32_error.txt: deep networks' input gradients are ill-conditioned in float32, ~1e-2 for
// resnet50, as ReLU/clip masks flip where pre-activations round across 0). gtest EXPECTs.
void expect_gradients_match_golden(const std::string& model_dir, const std::string& golden_dir, int threads,
                                   bool allow_float32_error = false);

// The backward rules (gradient, Deconvnet, guided backpropagation) of the model at model_path against
// make_pixel_goldens.py's files in golden_dir (input.pb, grad_<rule>.pb, float32_error.txt): the gradient at the
// input for L = sum_n logits[n, (3n + 1) mod classes] under each rule, with and without activation fusion, within
// 2e-5 of float64 autograd (relative to the largest value), or twice PyTorch's own float32 error where larger.
// With local_flips (full-size networks), a rule may instead differ beyond 1e-5 of the largest value on at most 1%
// of the elements: a single gate ([y > 0], or guided's [dy > 0]) whose value rounds across 0 in float32 changes
// that unit's receptive field only, and which unit that is depends on the order of the float32 sums.
void expect_rules_match_golden(const std::string& model_path, const std::string& golden_dir, bool local_flips = false);

// Where make test puts generated assets (build/ at the repository root); both follow $GLASSBOX_SOURCE_DIR.
std::string assets_dir();
std::string source_dir();

// The message of the glassbox::Error that f throws; a test failure for no throw or any other exception.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-glassbox exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

}  // namespace glassbox::test
