// Command-line arguments shared by the glassbox commands: positional words, --name value options, --flags.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/model.h"

namespace glassbox::tools {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  bool flag(const std::string& f) const { return std::find(flags.begin(), flags.end(), f) != flags.end(); }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = options.find(k);
    return it == options.end() ? def : it->second;
  }
  long integer(const std::string& k, long def) const {
    auto it = options.find(k);
    if (it == options.end()) return def;
    const std::string& v = it->second;
    GB_CHECK(!v.empty() && v.size() < 12 && v.find_first_not_of("0123456789") == std::string::npos, "--", k,
             ": expected a non-negative integer, got '", v, "'");
    return std::stol(v);
  }
  double number(const std::string& k, double def) const {
    auto it = options.find(k);
    if (it == options.end()) return def;
    const std::string& v = it->second;
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    GB_CHECK(!v.empty() && end && *end == '\0' && std::isfinite(d), "--", k, ": expected a number, got '", v, "'");
    return d;
  }
};

inline Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& flag_names) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      const std::string name = s.substr(2);
      if (std::find(flag_names.begin(), flag_names.end(), name) != flag_names.end()) {
        a.flags.push_back(name);
        continue;
      }
      GB_CHECK(i + 1 < argc, "option ", s, " needs a value");
      a.options[name] = argv[++i];
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

inline SessionOptions session_options(const Args& a) {
  SessionOptions o;
  o.threads = static_cast<int>(a.integer("threads", 0));
  if (!a.get("conv-variant").empty()) o.kernel_variants["conv2d"] = a.get("conv-variant");
  if (!a.get("sgemm-variant").empty()) o.kernel_variants["sgemm"] = a.get("sgemm-variant");
  if (!a.get("device").empty()) o.device = Device::parse(a.get("device"));
  o.profile = a.flag("profile");
  return o;
}

// A comma-separated (or `sep`-separated) list: "1,32,256" -> {"1", "32", "256"}; empty items are dropped.
inline std::vector<std::string> split_list(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

int cmd_bench(const Args& a);          // bench.cpp
int cmd_bench_dataset(const Args& a);  // bench_dataset.cpp: glassbox bench --dataset DIR
int cmd_bench_kernels(const Args& a);  // bench_kernels.cpp: glassbox bench kernels
int cmd_explain_dataset(const Args& a);  // dataset_cmd.cpp: glassbox explain --dataset DIR
int cmd_evaluate(const Args& a);         // evaluate_cmd.cpp: glassbox evaluate

}  // namespace glassbox::tools
