// Class names: one per line, line i naming class i.
#pragma once
#include <string>
#include <vector>

namespace glassbox::tools {

std::vector<std::string> load_labels(const std::string& path);  // throws glassbox::Error if unreadable

}  // namespace glassbox::tools
