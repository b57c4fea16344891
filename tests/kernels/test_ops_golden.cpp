// Every operator's CPU forward against ONNX Runtime goldens (tests/data/ops, made by
// tools/python/make_op_goldens.py): one case per folder, attribute sweeps and opsets 11..21; convolutions under
// every registered CPU variant.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

struct OpCase {
  std::string dir;
  std::string conv_variant;
};

// Every case with the CPU backend's default convolution; convolution cases with every registered variant.
std::vector<OpCase> all_cases() {
  const auto backend = kernels::make_cpu_backend(1);
  const std::string default_variant = backend->selected_variant("conv2d");
  std::vector<OpCase> cases;
  for (const auto& d : case_dirs(source_dir() + "/tests/data/ops")) {
    if (std::filesystem::path(d).filename().string().rfind("conv", 0) != 0) {
      cases.push_back({d, default_variant});
      continue;
    }
    for (const std::string& v : backend->variants("conv2d")) cases.push_back({d, v});
  }
  return cases;
}

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.dir << " [" << c.conv_variant << "]"; }

class OpGolden : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGolden, MatchesOnnxRuntime) {
  const OpCase& c = GetParam();
  auto model = Model::load(c.dir + "/model.onnx");
  SessionOptions opt;
  opt.threads = 2;
  opt.kernel_variants["conv2d"] = c.conv_variant;
  Session session(model, opt);
  const auto sets = read_test_data(c.dir);
  ASSERT_FALSE(sets.empty()) << c.dir;
  for (const auto& set : sets) {
    std::vector<Tensor> inputs;
    for (const auto& in : set.inputs) inputs.push_back(in.tensor);
    const Result r = session.run(inputs);
    ASSERT_EQ(r.outputs.size(), set.outputs.size());
    for (size_t k = 0; k < set.outputs.size(); ++k) {
      const double ratio = tolerance_ratio(r.outputs[k], set.outputs[k].tensor, 1e-5, 1e-4);
      EXPECT_LE(ratio, 1.0) << c.dir << " output " << k << " (" << set.outputs[k].name << ")";
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string n = std::filesystem::path(info.param.dir).filename().string() + "_" + info.param.conv_variant;
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpGolden, ::testing::ValuesIn(all_cases()), case_name);

TEST(OpGoldenData, IsPresent) { EXPECT_GE(all_cases().size(), 100u) << "tests/data/ops is missing cases"; }

}  // namespace
}  // namespace glassbox::test
