// Slow: the model zoo of tools/python/export_zoo.py (every torchvision classifier up to 150M parameters and nine
// timm models, random weights made informative, opset 17, dynamic batch) in build/models/zoo, when exported
// (`make zoo`; needs PyTorch). For each model: the logits of a batch of 2 equal ONNX Runtime's (1e-4 relative to
// the logits' scale), and Grad-CAM at the default layer gives a map that is not constant for each image.
//
//   test_zoo --table FILE   also writes the Markdown table of docs/models.md (model, parameters, operators, max
//                           difference, Grad-CAM layer and map range) for the models it ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "explain/explain.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

std::string g_table;  // --table FILE

struct Row {
  double max_diff = NAN, scale = NAN;
  std::string layer, map, error;
};
std::map<std::string, Row> g_rows;

std::string zoo_dir() { return assets_dir() + "/models/zoo"; }

std::vector<std::string> zoo_models() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(zoo_dir(), ec))
    if (std::filesystem::exists(e.path() / "model.onnx")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("(none exported)");
  return names;
}

class Zoo : public ::testing::TestWithParam<std::string> {};

TEST_P(Zoo, MatchesOnnxRuntimeAndExplains) {
  const std::string dir = zoo_dir() + "/" + GetParam();
  if (!std::filesystem::exists(dir + "/model.onnx"))
    GTEST_SKIP() << zoo_dir() << " has no exported models (run `make zoo`; needs PyTorch)";
  Row& row = g_rows[GetParam()];
  row.error = "failed";
  std::shared_ptr<const Model> model;
  try {
    model = Model::load(dir + "/model.onnx");
  } catch (const std::exception& e) {
    row.error = e.what();
    FAIL() << e.what();
  }
  const auto sets = read_test_data(dir);
  ASSERT_FALSE(sets.empty()) << dir;
  const Tensor& input = sets[0].inputs.at(0).tensor;
  const Tensor& want = sets[0].outputs.at(0).tensor;

  Session session(model, SessionOptions{});
  Tensor got;
  try {
    got = session.run({input}).outputs.at(0).to(Device::cpu());
  } catch (const std::exception& e) {
    row.error = e.what();
    FAIL() << e.what();
  }
  ASSERT_EQ(got.shape(), want.shape());
  float scale = 1.f;
  double diff = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::fabs(want.data<float>()[i]));
    const double d = std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]);
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
  }
  row.max_diff = diff, row.scale = scale;
  EXPECT_LE(diff, 1e-4 * scale) << dir << ": max |glassbox - ONNX Runtime| " << diff << ", logits up to " << scale;

  try {
    explain::Explainer explainer(model);
    row.layer = explainer.layer();
    const explain::Explanation ex = explainer.explain(input, explain::Target{}, {kernels::CamMethod::gradcam});
    const Tensor maps = ex.maps.at(kernels::CamMethod::gradcam).to(Device::cpu());
    const int64_t n = maps.dim(0), hw = maps.numel() / n;
    std::ostringstream ranges;
    for (int64_t i = 0; i < n; ++i) {
      const float* m = maps.data<float>() + i * hw;
      const auto [lo, hi] = std::minmax_element(m, m + hw);
      // Maps are min-max normalized: a non-constant map spans [0, 1]; a constant one is all 0.
      EXPECT_GT(*hi - *lo, 0.5f) << dir << ": Grad-CAM at '" << row.layer << "' is constant for image " << i;
      ranges << (i ? ", " : "") << (*hi - *lo > 0.5f ? "map" : "constant");
    }
    row.map = ranges.str();
    row.error.clear();
  } catch (const std::exception& e) {
    row.error = std::string("Grad-CAM: ") + e.what();
    FAIL() << row.error;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Zoo, ::testing::ValuesIn(zoo_models()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// The parameter count and source from the export's zoo.json (a flat JSON object; only these two fields are read).
std::string json_field(const std::string& text, const std::string& key) {
  const size_t k = text.find("\"" + key + "\"");
  if (k == std::string::npos) return "";
  size_t v = text.find(':', k);
  if (v == std::string::npos) return "";
  ++v;
  while (v < text.size() && (text[v] == ' ' || text[v] == '"')) ++v;
  size_t e = v;
  while (e < text.size() && text[e] != ',' && text[e] != '"' && text[e] != '\n' && text[e] != '}') ++e;
  return text.substr(v, e - v);
}

void write_table() {
  if (g_table.empty()) return;
  std::ofstream out(g_table);
  out << "| model | source | parameters | max abs diff / logits scale | Grad-CAM default layer | maps | error |\n"
      << "|---|---|---|---|---|---|---|\n";
  for (const auto& [name, r] : g_rows) {
    std::ifstream j(zoo_dir() + "/" + name + "/zoo.json");
    std::stringstream text;
    text << j.rdbuf();
    const std::string params = json_field(text.str(), "parameters");
    char p[32] = "", d[64] = "";
    if (!params.empty()) std::snprintf(p, sizeof p, "%.1fM", std::atof(params.c_str()) / 1e6);
    if (!std::isnan(r.max_diff)) std::snprintf(d, sizeof d, "%.2g / %.3g", r.max_diff, r.scale);
    std::string err = r.error;
    std::replace(err.begin(), err.end(), '|', '/');
    if (err.size() > 160) err = err.substr(0, 160) + "...";
    out << "| " << name << " | " << json_field(text.str(), "source") << " | " << p << " | " << d << " | `"
        << r.layer << "` | " << r.map << " | " << err << " |\n";
  }
  std::printf("wrote %s (%zu models)\n", g_table.c_str(), g_rows.size());
}

}  // namespace
}  // namespace glassbox::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--table") == 0) glassbox::test::g_table = argv[i + 1];
  const int rc = RUN_ALL_TESTS();
  glassbox::test::write_table();
  return rc;
}
