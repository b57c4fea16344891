#include "tools/glassbox/args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace glassbox::tools {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Levenshtein distance, the classic dynamic programme over one row.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The name of an option word: "--name" or "--name=value" -> "name".
std::string option_name(const std::string& word) {
  const size_t eq = word.find('=');
  return word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
}

// A word for an error message: at most 40 characters, control characters as '?'.
std::string shown(const std::string& s) {
  std::string o = s.substr(0, 40);
  for (char& c : o)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s.size() > 40 ? o + "..." : o;
}

}  // namespace

CommandOptions& CommandOptions::add(const CommandOptions& more) {
  values.insert(values.end(), more.values.begin(), more.values.end());
  flags.insert(flags.end(), more.flags.begin(), more.flags.end());
  return *this;
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 4;  // more than 3 edits away is no suggestion
  for (const auto& n : names) {
    const size_t d = (n.rfind(word, 0) == 0 && !word.empty()) ? 1 : edit_distance(word, n);
    if (d < best_distance) best_distance = d, best = n;
  }
  return best;
}

Args parse_args(int argc, const char* const* argv, int first, const std::string& command, const CommandOptions& known) {
  Args a;
  a.command = command;
  a.known = known;
  std::vector<std::string> all = known.values;
  all.insert(all.end(), known.flags.begin(), known.flags.end());
  auto is_option = [&](const std::string& word) {  // "--name" or "--name=..." with a name this command knows
    return word.rfind("--", 0) == 0 && contains(all, option_name(word));
  };
  for (int i = first; i < argc; ++i) {
    const std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.positional.push_back(s);
      continue;
    }
    const size_t eq = s.find('=');
    const std::string name = option_name(s);
    if (contains(known.flags, name)) {
      GB_CHECK(eq == std::string::npos, command, ": --", name, " is a flag and takes no value (got '", shown(s), "')");
      if (!contains(a.flags, name)) a.flags.push_back(name);
      continue;
    }
    if (!contains(known.values, name)) {
      const std::string near = nearest_name(name, all);
      GB_CHECK(false, command, ": unknown option --", shown(name),
               near.empty() ? std::string(" (glassbox --help lists the options)") : " (did you mean --" + near + "?)");
    }
    GB_CHECK(!a.options.count(name), command, ": --", name, " is given twice");
    std::string value;
    if (eq != std::string::npos) {
      value = s.substr(eq + 1);
    } else {
      GB_CHECK(i + 1 < argc, command, ": --", name, " needs a value");
      value = argv[++i];
      GB_CHECK(!is_option(value), command, ": --", name, " needs a value, got the option ", shown(value));
    }
    a.options[name] = value;
  }
  return a;
}

void Args::check_declared(const std::string& k, bool is_flag) const {
  // A command reading an option it did not declare is a bug of glassbox, caught by the CLI tests.
  GB_CHECK(contains(is_flag ? known.flags : known.values, k), "internal error: ", command, " reads --", k,
           " but does not declare it");
}

bool Args::flag(const std::string& f) const {
  check_declared(f, true);
  return contains(flags, f);
}

bool Args::has(const std::string& k) const {
  check_declared(k, false);
  return options.count(k) != 0;
}

std::string Args::get(const std::string& k, const std::string& def) const {
  check_declared(k, false);
  auto it = options.find(k);
  return it == options.end() ? def : it->second;
}

int64_t Args::integer(const std::string& k, int64_t def, int64_t lo, int64_t hi) const {
  check_declared(k, false);
  auto it = options.find(k);
  if (it == options.end()) return def;
  const std::string& v = it->second;
  const bool digits = !v.empty() && v.size() <= 19 &&
                      v.find_first_not_of("0123456789", v[0] == '-' && lo < 0 && v.size() > 1 ? 1 : 0) == std::string::npos;
  errno = 0;
  const long long n = digits ? std::strtoll(v.c_str(), nullptr, 10) : 0;
  GB_CHECK(digits && errno == 0 && n >= lo && n <= hi, command, ": --", k, ": expected an integer from ", lo, " to ",
           hi, ", got '", shown(v), "'");
  return n;
}

double Args::number(const std::string& k, double def, double lo, double hi) const {
  check_declared(k, false);
  auto it = options.find(k);
  if (it == options.end()) return def;
  const std::string& v = it->second;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  GB_CHECK(!v.empty() && end && *end == '\0' && std::isfinite(d) && d >= lo && d <= hi, command, ": --", k,
           ": expected a number from ", lo, " to ", hi, ", got '", shown(v), "'");
  return d;
}

std::vector<std::string> Args::list(const std::string& k, const std::string& def) const {
  const std::string v = get(k, def);
  // split_list drops empty items: here one is an error, so there must be one item more than commas.
  std::vector<std::string> items = split_list(v);
  GB_CHECK(items.size() == size_t(std::count(v.begin(), v.end(), ',')) + 1, command, ": --", k,
           ": expected NAME[,NAME...] with no empty name, got '", shown(v), "'");
  return items;
}

SessionOptions session_options(const Args& a) {
  SessionOptions o;
  o.threads = static_cast<int>(a.integer("threads", 0, 0, 1024));
  if (!a.get("conv-variant").empty()) o.kernel_variants["conv2d"] = a.get("conv-variant");
  if (!a.get("sgemm-variant").empty()) o.kernel_variants["sgemm"] = a.get("sgemm-variant");
  if (!a.get("device").empty()) o.device = Device::parse(a.get("device"));
  o.profile = contains(a.known.flags, "profile") && a.flag("profile");
  // --memory-limit GIB: the most memory one plan may need (0: no limit; default: 3/4 of the physical memory).
  if (a.has("memory-limit")) o.memory_limit_bytes = int64_t(a.number("memory-limit", 0, 0, 1 << 20) * double(1LL << 30));
  return o;
}

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace glassbox::tools
