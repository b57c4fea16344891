// Class names: one per line, line i naming class i.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace glassbox::tools {

constexpr int64_t kMaxLabelsBytes = 16 << 20;      // a labels file is at most 16 MiB
constexpr int64_t kMaxLabelLength = 1024;          // and each name at most 1 KiB

// Throws glassbox::Error naming the path if it is not a readable regular file of at most kMaxLabelsBytes, or a
// line is longer than kMaxLabelLength.
std::vector<std::string> load_labels(const std::string& path);

// The labels file a model's "glassbox.labels" metadata names: `name` resolved in `model_dir`, which it must
// stay inside (a relative path without "..", not absolute, not leaving the folder through a link). Throws
// glassbox::Error saying what was expected otherwise.
std::string labels_path_in(const std::string& model_dir, const std::string& name);

}  // namespace glassbox::tools
