#include "tools/glassbox/labels.h"

#include <fstream>

#include "engine/error.h"

namespace glassbox::tools {

std::vector<std::string> load_labels(const std::string& path) {
  std::ifstream f(path);
  GB_CHECK(f, path, ": cannot open the labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  return labels;
}

}  // namespace glassbox::tools
