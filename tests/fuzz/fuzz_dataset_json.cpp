// libFuzzer target for dataset.json (glassbox explain --dataset DIR, evaluate, bench --dataset): bytes as the
// file's text -> Dataset::parse_json(text, "/tmp/fuzzroot", "fuzz"). If it parses, what dataset.h promises of the
// result holds: items in order (index = position), each "file" non-empty, relative, without a ".." component or a
// control character, unique, and its path under the root; labels -1 or a class index, a bad_label only without
// one; boxes of four numbers. Nothing is read from disk. glassbox::Error is the expected way to refuse; any other
// exception (nlohmann::json's included), a crash, a sanitizer report, a leak or a huge allocation is a finding.
// See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "tools/dataset/dataset.h"

#define FUZZ_ASSERT(cond) \
  do {                    \
    if (!(cond)) __builtin_trap(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string root = "/tmp/fuzzroot";
  glassbox::tools::dataset::Dataset d;
  try {
    d = glassbox::tools::dataset::Dataset::parse_json(text, root, "fuzz");
  } catch (const glassbox::Error&) {
    return 0;
  }
  FUZZ_ASSERT(d.described && d.root == root);
  std::set<std::string> files;
  for (size_t i = 0; i < d.items.size(); ++i) {
    const auto& item = d.items[i];
    FUZZ_ASSERT(item.index == int64_t(i));
    FUZZ_ASSERT(!item.file.empty() && files.insert(item.file).second);
    for (unsigned char c : item.file) FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
    const std::filesystem::path p(item.file);
    FUZZ_ASSERT(p.is_relative() && !p.has_root_directory());
    for (const auto& part : p) FUZZ_ASSERT(part != "..");
    FUZZ_ASSERT(item.path.rfind(root + "/", 0) == 0);
    FUZZ_ASSERT(item.label >= -1);
    FUZZ_ASSERT(item.bad_label.empty() || item.label == -1);
  }
  return 0;
}
