// A deterministic, bounded mutation test of the importer (no libFuzzer needed; see tests/fuzz for the real
// fuzzer and docs/fuzzing.md). Every op-golden model (and each fuzzing seed in tests/fuzz/seeds) is mutated 50
// ways at the byte level (bit flips, byte insertions and deletions, truncations, varint bytes set to 0xff) and 50
// ways at the field level (tests/fuzz/onnx_mutator.h: attributes, dimensions, shape constants, names, operator
// types, opsets). Loading a mutant must either succeed or throw glassbox::Error, and a mutant that loads must run
// on an input of its declared shape or throw glassbox::Error. Under ASan+UBSan (make test) any memory error or
// undefined behaviour on the way is a failure too.
//
// GLASSBOX_FUZZ_SMOKE_VERBOSE=1 prints each case and mutation before it runs, to find one that crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "tests/fuzz/onnx_mutator.h"
#include "tests/fuzz/run_budget.h"
#include "tests/support/testdata.h"

namespace glassbox::test {
namespace {

constexpr int kMutationsPerModel = 50;  // of each kind: bytes, fields
using fuzz::run_declared_shape;         // tests/fuzz/run_budget.h: skips inputs and plans over budget

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One mutation of `bytes`, described in `what` (for reproducing a failure). rng() % n keeps the sequence the same
// on every standard library.
void mutate_once(std::string& bytes, std::mt19937& rng, std::ostringstream& what) {
  const size_t n = bytes.size();
  switch (rng() % 5) {
    case 0: {  // flip 1..4 bits
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips && n; ++i) {
        const size_t at = rng() % n;
        const int bit = static_cast<int>(rng() % 8);
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
        what << " flip@" << at << ":" << bit;
      }
      break;
    }
    case 1: {  // insert 1..8 random bytes
      const size_t at = rng() % (n + 1), len = 1 + rng() % 8;
      std::string ins(len, '\0');
      for (char& ch : ins) ch = static_cast<char>(rng());
      bytes.insert(at, ins);
      what << " insert@" << at << "+" << len;
      break;
    }
    case 2: {  // delete 1..16 bytes
      if (!n) break;
      const size_t at = rng() % n, len = std::min<size_t>(n - at, 1 + rng() % 16);
      bytes.erase(at, len);
      what << " erase@" << at << "-" << len;
      break;
    }
    case 3: {  // truncate
      const size_t len = rng() % (n + 1);
      bytes.resize(len);
      what << " truncate@" << len;
      break;
    }
    default: {  // 1..10 bytes of 0xff: huge or negative varints (lengths, dims, attribute values)
      if (!n) break;
      const size_t at = rng() % n, len = std::min<size_t>(n - at, 1 + rng() % 10);
      for (size_t i = 0; i < len; ++i) bytes[at + i] = static_cast<char>(0xff);
      what << " ff@" << at << "x" << len;
      break;
    }
  }
}

// One mutant: byte-level for k < kMutationsPerModel, field-level after.
std::string mutant(const std::string& original, size_t ci, int k, std::ostringstream& what) {
  std::mt19937 rng(static_cast<uint32_t>(ci * 1000003u + static_cast<uint32_t>(k)));
  const int rounds = 1 + static_cast<int>(rng() % 3);
  std::string bytes = original;
  if (k < kMutationsPerModel) {
    for (int r = 0; r < rounds; ++r) mutate_once(bytes, rng, what);
    return bytes;
  }
  onnx::ModelProto m;
  if (!m.ParseFromString(original)) return bytes;
  for (int r = 0; r < rounds; ++r) fuzz::mutate_model(m, rng, what);
  return m.SerializeAsString();
}

TEST(fuzz_smoke, MutatedOpModelsFailCleanly) {
  std::vector<std::string> models;
  for (const auto& d : case_dirs(source_dir() + "/tests/data/ops")) models.push_back(d + "/model.onnx");
  ASSERT_GE(models.size(), 100u) << "tests/data/ops is missing cases";
  const size_t op_models = models.size();
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/tests/fuzz/seeds"))
    if (e.path().extension() == ".onnx") models.push_back(e.path().string());
  std::sort(models.begin() + static_cast<std::ptrdiff_t>(op_models), models.end());
  const bool verbose = std::getenv("GLASSBOX_FUZZ_SMOKE_VERBOSE") != nullptr;
  const auto start = std::chrono::steady_clock::now();
  int loaded = 0, ran = 0, rejected = 0, failed_runs = 0, total = 0;
  for (size_t ci = 0; ci < models.size(); ++ci) {
    const std::filesystem::path path(models[ci]);
    const std::string name = (ci < op_models ? path.parent_path().filename() : path.filename()).string();
    const std::string original = read_file(models[ci]);
    ASSERT_FALSE(original.empty()) << name;
    for (int k = 0; k < 2 * kMutationsPerModel; ++k) {
      std::ostringstream what;
      const std::string bytes = mutant(original, ci, k, what);
      const std::string where = name + " mutation " + std::to_string(k) + ":" + what.str();
      if (verbose) std::cerr << where << std::endl;
      ++total;
      std::shared_ptr<const Model> model;
      try {
        model = Model::from_bytes(bytes.data(), bytes.size(), {}, name);
      } catch (const Error& e) {
        ++rejected;
        EXPECT_NE(std::string(e.what()), "") << where;
        continue;
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": loading threw a non-glassbox exception: " << e.what();
        continue;
      }
      ++loaded;
      try {
        ran += run_declared_shape(model) ? 1 : 0;
      } catch (const Error&) {
        ++failed_runs;
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": running threw a non-glassbox exception: " << e.what();
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << total << " mutants of " << models.size() << " models: " << rejected << " rejected at load, " << loaded
            << " loaded, " << ran << " ran, " << failed_runs << " rejected at run time (" << secs << " s)\n";
  // The mutations must exercise both paths: most mutants are rejected, some still load and run.
  EXPECT_GT(rejected, 0);
  EXPECT_GT(ran, 0);
}

// Inputs the fuzzer once crashed on (tests/fuzz/regressions, one file each): loading and running them must end in
// success or glassbox::Error.
TEST(fuzz_smoke, RegressionInputs) {
  const std::string dir = source_dir() + "/tests/fuzz/regressions";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 4u);
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const std::string bytes = read_file(f);
    try {
      auto model = Model::from_bytes(bytes.data(), bytes.size(), {}, f);
      run_declared_shape(model);
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw a non-glassbox exception: " << e.what();
    }
  }
}

}  // namespace
}  // namespace glassbox::test
