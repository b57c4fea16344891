// libFuzzer target for the command-line parser: bytes split on NUL into words -> argv = {"glassbox", "run",
// words...} -> parse_args(argc, argv, 2, "run", options like run's and explain's) -> if it parses, what args.h
// promises holds (positional words are not options, every option and flag is declared, none twice), and every
// known option is read the ways the commands read it — Args::integer / number in ranges, list, get, has, flag,
// session_options (--device, --threads, --memory-limit) and Preprocess::parse of --preprocess — each returning a
// value in its range or throwing glassbox::Error. Reading an undeclared name throws glassbox::Error too.
// Any other exception, a crash, a sanitizer report, a leak or a huge allocation is a finding. See docs/fuzzing.md.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/glassbox/args.h"
#include "tools/glassbox/image.h"

#define FUZZ_ASSERT(cond) \
  do {                    \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace {

using glassbox::tools::Args;
using glassbox::tools::CommandOptions;

const CommandOptions& known() {
  static const CommandOptions o{{"top", "batch", "class", "method", "resize", "crop", "mean", "std", "out", "layer",
                                 "preprocess", "max-pixels", "threads", "device", "conv-variant", "sgemm-variant",
                                 "memory-limit", "labels", "samples", "noise-std"},
                                {"json", "probability", "logits", "save-raw", "quiet"}};
  return o;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

template <class F>
void read(F&& f) {
  try {
    f();
  } catch (const glassbox::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::vector<std::string> words;
  std::string w;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) words.push_back(w), w.clear();
    else w += char(data[i]);
  }
  if (size) words.push_back(w);  // n NULs make n + 1 words (empty ones included, as a shell can pass "")
  std::vector<const char*> argv = {"glassbox", "run"};
  for (const auto& s : words) argv.push_back(s.c_str());
  argv.push_back(nullptr);
  const int argc = int(argv.size()) - 1;

  Args a;
  try {
    a = glassbox::tools::parse_args(argc, argv.data(), 2, "run", known());
  } catch (const glassbox::Error&) {
    return 0;
  }
  // What was accepted is what args.h says.
  for (const auto& p : a.positional) FUZZ_ASSERT(p.rfind("--", 0) != 0 || p == "--");
  for (const auto& [k, v] : a.options) FUZZ_ASSERT(contains(known().values, k));
  for (const auto& f : a.flags) FUZZ_ASSERT(contains(known().flags, f));
  FUZZ_ASSERT(a.positional.size() + a.options.size() + a.flags.size() <= words.size());

  // Every option read the ways the commands read it.
  for (const auto& k : known().values) {
    read([&] { (void)a.has(k); });
    read([&] { (void)a.get(k, "x"); });
    read([&] { FUZZ_ASSERT(!a.list(k, "a,b").empty()); });
    read([&] {
      const int64_t n = a.integer(k, 7, 1, 1000);
      FUZZ_ASSERT(n == 7 || (n >= 1 && n <= 1000));
    });
    read([&] {
      const int64_t n = a.integer(k, 0, -5, int64_t(1) << 40);
      FUZZ_ASSERT(n >= -5 && n <= (int64_t(1) << 40));
    });
    read([&] {
      const int64_t n = a.integer(k, 0, INT64_MIN, INT64_MAX);
      (void)n;
    });
    read([&] {
      const int64_t n = a.integer(k, 0);  // the dataset commands' [0, 2^31)
      FUZZ_ASSERT(n >= 0 && n <= INT32_MAX);
    });
    read([&] {
      const double d = a.number(k, 0.5, 0, 1);
      FUZZ_ASSERT(d >= 0 && d <= 1);
    });
    read([&] {
      const double d = a.number(k, 0);
      FUZZ_ASSERT(std::isfinite(d));
    });
  }
  for (const auto& f : known().flags) read([&] { (void)a.flag(f); });
  // Undeclared names are an internal error (glassbox::Error), whatever the command line holds.
  read([&] { (void)a.get("dataset"); FUZZ_ASSERT(false); });
  read([&] { (void)a.flag("overlays"); FUZZ_ASSERT(false); });
  read([&] { (void)glassbox::tools::session_options(a); });
  read([&] {
    const auto p = glassbox::tools::Preprocess::parse(a.get("preprocess"));
    p.validate();
  });
  return 0;
}
