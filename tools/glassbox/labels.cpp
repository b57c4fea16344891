#include "tools/glassbox/labels.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace fs = std::filesystem;

namespace glassbox::tools {

std::vector<std::string> load_labels(const std::string& path) {
  std::error_code ec;
  GB_CHECK(fs::is_regular_file(path, ec), path, ": expected a labels file (one class name per line)");
  const auto size = fs::file_size(path, ec);
  GB_CHECK(!ec && int64_t(size) <= kMaxLabelsBytes, path, ": the labels file is larger than ", kMaxLabelsBytes,
           " bytes");
  std::ifstream f(path, std::ios::binary);
  GB_CHECK(f, path, ": cannot open the labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    GB_CHECK(int64_t(line.size()) <= kMaxLabelLength, path, ": line ", labels.size() + 1, " is longer than ",
             kMaxLabelLength, " bytes; expected one class name per line");
    labels.push_back(line);
  }
  return labels;
}

std::string labels_path_in(const std::string& model_dir, const std::string& name) {
  const fs::path p(name);
  bool dots = false;
  for (const auto& part : p) dots = dots || part == "..";
  GB_CHECK(!name.empty() && name.find('\0') == std::string::npos && p.is_relative() && !p.has_root_name() && !dots,
           "the model's glassbox.labels '", name.substr(0, 80), "': expected a file name inside the model's folder");
  const fs::path dir = fs::weakly_canonical(model_dir.empty() ? fs::path(".") : fs::path(model_dir));
  const fs::path full = fs::weakly_canonical(dir / p);
  const auto [d, f] = std::mismatch(dir.begin(), dir.end(), full.begin(), full.end());
  GB_CHECK(d == dir.end(), "the model's glassbox.labels '", name.substr(0, 80), "' leads outside the model's folder");
  return full.string();
}

}  // namespace glassbox::tools
