// ONNX's own operator conformance suite: the backend node tests shipped in the onnx Python package
// (onnx/backend/test/data/node: one folder per case with model.onnx and test_data_set_N/{input,output}_K.pb), run
// on glassbox's CPU backend. A case is "supported" when glassbox has a planning rule for every operator of its graph
// (engine/shape_inference.h supported_operators(); Constant too, which the importer folds); each supported case is
// imported, planned for its inputs' shapes, run, and every output compared with the expected one at the suite's
// tolerances (onnx/backend/test/loader: rtol 1e-3, atol 1e-7; numpy's assert_allclose: |got - want| <= atol +
// rtol * |want|, NaN equal to NaN, same element type and shape). A supported case may fail only where
// tests/conformance/exclusions.txt names it with a reason; an excluded case that passes is reported too, so the
// list stays true.
//
// Integer (int64) graph inputs -- the shapes, axes, pads, splits and indices that glassbox takes as plan-time
// constants -- are bound as initializers with the data set's values before import; any other non-float32 input
// stays an input (and the importer refuses it).
//
//   test_onnx_conformance [--node-tests DIR] [--write-table docs/onnx_conformance.md] [--list] [gtest flags]
//   (--list: every case with its status and why, after the tests)
//
// The folder comes from the CMake cache variable GLASSBOX_ONNX_NODE_TESTS (the Makefile sets it from build/venv's
// onnx package); the tests skip where it is empty.
#include <fnmatch.h>
#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/shape_inference.h"
#include "tests/support/testdata.h"

namespace fs = std::filesystem;

namespace glassbox::conformance {
namespace {

// onnx/backend/test/loader/__init__.py: the defaults of every node test (none of them has a data.json).
constexpr double kRtol = 1e-3, kAtol = 1e-7;

std::string g_node_tests = GLASSBOX_ONNX_NODE_TESTS;  // --node-tests overrides

// ---- the cases ---------------------------------------------------------------------------------------------------

struct Exclusion {
  std::string pattern;  // a case name or an fnmatch(3) glob
  std::string reason;
  int line = 0;
};

struct Case {
  std::string name, dir;
  std::vector<std::string> ops;          // distinct operators of the graph's nodes ("domain.Op" outside ai.onnx)
  std::vector<std::string> unsupported;  // those glassbox has no rule for
  const Exclusion* exclusion = nullptr;  // the first line that names the case (supported cases only)
  bool supported() const { return unsupported.empty(); }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GB_CHECK(f, path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

onnx::ModelProto read_model(const std::string& path) {
  onnx::ModelProto m;
  GB_CHECK(m.ParseFromString(read_file(path)), path, ": not a ModelProto");
  return m;
}

onnx::TensorProto read_tensor(const std::string& path) {
  onnx::TensorProto t;
  GB_CHECK(t.ParseFromString(read_file(path)), path, ": not a TensorProto");
  return t;
}

// The operators glassbox plans, and Constant (the importer turns it into a constant value).
const std::set<std::string>& supported_set() {
  static const std::set<std::string> ops = [] {
    const std::vector<std::string> rules = glassbox::supported_operators();
    std::set<std::string> s(rules.begin(), rules.end());
    s.insert("Constant");
    return s;
  }();
  return ops;
}

// "# comment" and blank lines skipped; otherwise "<case name or glob> <reason>", the reason required.
std::vector<Exclusion> read_exclusions(const std::string& path) {
  std::vector<Exclusion> out;
  std::ifstream f(path);
  GB_CHECK(f, path, ": cannot open");
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t end = line.find_first_of(" \t", start);
    const size_t reason = end == std::string::npos ? end : line.find_first_not_of(" \t", end);
    GB_CHECK(reason != std::string::npos, path, ":", n, ": '", line.substr(start), "' has no reason");
    out.push_back({line.substr(start, end - start), line.substr(reason), n});
  }
  return out;
}

bool matches(const Exclusion& e, const std::string& name) { return fnmatch(e.pattern.c_str(), name.c_str(), 0) == 0; }

struct Suite {
  std::vector<Case> cases;
  std::vector<Exclusion> exclusions;
};

// Every case folder, its operators and its exclusion (read once per process).
const Suite& suite() {
  static const Suite s = [] {
    Suite out;
    out.exclusions = read_exclusions(test::source_dir() + "/tests/conformance/exclusions.txt");
    for (const std::string& dir : test::case_dirs(g_node_tests)) {
      Case c;
      c.dir = dir;
      c.name = fs::path(dir).filename().string();
      const onnx::ModelProto m = read_model(dir + "/model.onnx");
      std::set<std::string> ops;
      for (const auto& n : m.graph().node())
        ops.insert(n.domain().empty() || n.domain() == "ai.onnx" ? n.op_type() : n.domain() + "." + n.op_type());
      c.ops.assign(ops.begin(), ops.end());
      for (const auto& op : c.ops)
        if (!supported_set().count(op)) c.unsupported.push_back(op);
      if (c.supported())
        for (const Exclusion& e : out.exclusions)
          if (matches(e, c.name)) {
            c.exclusion = &e;
            break;
          }
      out.cases.push_back(std::move(c));
    }
    return out;
  }();
  return s;
}

// ---- running one case --------------------------------------------------------------------------------------------

std::string type_name(int data_type) {
  if (!onnx::TensorProto::DataType_IsValid(data_type)) return "type " + std::to_string(data_type);
  std::string s = onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(data_type));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

// An expected output: its ONNX element type, shape and values (float32, float64 and int64 are what glassbox
// returns; other types are kept by name only).
struct Expected {
  std::string name;
  int data_type = 0;
  Shape shape;
  std::vector<double> values;
};

// Copies n elements of T from the raw bytes or the typed field of a TensorProto.
template <class T, class Field>
std::vector<double> elements(const onnx::TensorProto& t, const Field& typed, int64_t n, const std::string& what) {
  std::vector<double> out;
  if (t.has_raw_data()) {
    GB_CHECK(t.raw_data().size() == size_t(n) * sizeof(T), what, ": ", t.raw_data().size(), " raw bytes for ", n,
             " elements of ", sizeof(T), " bytes");
    std::vector<T> v(static_cast<size_t>(n));
    if (n > 0) std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    out.assign(v.begin(), v.end());
  } else {
    GB_CHECK(typed.size() == n, what, ": ", typed.size(), " values for ", n, " elements");
    out.assign(typed.begin(), typed.end());
  }
  return out;
}

Expected read_expected(const std::string& path) {
  const onnx::TensorProto t = read_tensor(path);
  Expected e;
  e.name = t.name();
  e.data_type = t.data_type();
  e.shape.assign(t.dims().begin(), t.dims().end());
  const int64_t n = numel(e.shape);
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: e.values = elements<float>(t, t.float_data(), n, path); break;
    case onnx::TensorProto::DOUBLE: e.values = elements<double>(t, t.double_data(), n, path); break;
    case onnx::TensorProto::INT64: e.values = elements<int64_t>(t, t.int64_data(), n, path); break;
    default: break;  // compared by type only: glassbox never returns it
  }
  return e;
}

int onnx_type_of(DType t) {
  switch (t) {
    case DType::f32: return onnx::TensorProto::FLOAT;
    case DType::f64: return onnx::TensorProto::DOUBLE;
    case DType::i64: return onnx::TensorProto::INT64;
  }
  return onnx::TensorProto::UNDEFINED;
}

double element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::f32: return t.data<float>()[i];
    case DType::f64: return t.data<double>()[i];
    case DType::i64: return static_cast<double>(t.data<int64_t>()[i]);
  }
  return 0;
}

// numpy.testing.assert_allclose(got, want, rtol, atol) with equal_nan: NaN matches NaN, an infinity only itself.
bool close(double got, double want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= kAtol + kRtol * std::fabs(want);
}

// Empty when `got` matches; otherwise what differs first (type, shape, or the first element out of tolerance).
std::string compare(const Tensor& got, const Expected& want) {
  std::ostringstream os;
  if (onnx_type_of(got.dtype()) != want.data_type) {
    os << "element type " << dtype_name(got.dtype()) << ", expected " << type_name(want.data_type);
    return os.str();
  }
  if (got.shape() != want.shape) {
    os << "shape " << shape_str(got.shape()) << ", expected " << shape_str(want.shape);
    return os.str();
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = element(got, i), w = want.values[size_t(i)];
    if (close(g, w)) continue;
    int64_t bad = 0;
    for (int64_t j = i; j < got.numel(); ++j) bad += !close(element(got, j), want.values[size_t(j)]);
    os.precision(9);
    os << "index " << i << " of " << got.numel() << ": got " << g << ", expected " << w << " (" << bad
       << " elements out of tolerance)";
    return os.str();
  }
  return "";
}

// The graph inputs that are not initializers, in order: the data set's input_K is the K-th.
std::vector<int> runtime_inputs(const onnx::GraphProto& g) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  std::vector<int> out;
  for (int i = 0; i < g.input_size(); ++i)
    if (!inits.count(g.input(i).name())) out.push_back(i);
  return out;
}

bool declared_int64(const onnx::ValueInfoProto& v) {
  return v.type().has_tensor_type() && v.type().tensor_type().elem_type() == onnx::TensorProto::INT64;
}

// Runs one data set; empty when every output matches, else the first problem.
std::string run_data_set(const Case& c, const fs::path& set) {
  onnx::ModelProto m = read_model(c.dir + "/model.onnx");
  onnx::GraphProto& g = *m.mutable_graph();
  const std::vector<int> inputs = runtime_inputs(g);
  std::vector<int> bound;  // positions in g.input() of the int64 inputs made initializers
  std::vector<fs::path> fed;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const fs::path pb = set / ("input_" + std::to_string(k) + ".pb");
    GB_CHECK(fs::exists(pb), pb.string(), ": missing (the model has ", inputs.size(), " inputs)");
    const onnx::ValueInfoProto& in = g.input(inputs[k]);
    if (!declared_int64(in)) {
      fed.push_back(pb);
      continue;
    }
    onnx::TensorProto t = read_tensor(pb.string());
    GB_CHECK(t.data_type() == onnx::TensorProto::INT64, pb.string(), ": ", type_name(t.data_type()),
             " data for the int64 input '", in.name(), "'");
    t.set_name(in.name());
    *g.add_initializer() = std::move(t);
    bound.push_back(inputs[k]);
  }
  for (auto it = bound.rbegin(); it != bound.rend(); ++it) g.mutable_input()->DeleteSubrange(*it, 1);

  const std::string bytes = m.SerializeAsString();
  const auto model = Model::from_bytes(bytes.data(), bytes.size(), {}, c.name);
  std::vector<Tensor> feeds;
  for (const fs::path& pb : fed) {
    const onnx::TensorProto t = read_tensor(pb.string());
    GB_CHECK(t.data_type() == onnx::TensorProto::FLOAT, pb.string(), ": ", type_name(t.data_type()),
             " data; glassbox's graph inputs are float32");
    feeds.push_back(test::read_tensor_pb(pb.string()).tensor);
  }
  SessionOptions options;
  options.threads = 1;
  Session session(model, options);
  const Result r = session.run(feeds);
  size_t expected = 0;
  while (fs::exists(set / ("output_" + std::to_string(expected) + ".pb"))) ++expected;
  GB_CHECK(r.outputs.size() == expected, r.outputs.size(), " outputs, expected ", expected);
  for (size_t k = 0; k < expected; ++k) {
    const Expected want = read_expected((set / ("output_" + std::to_string(k) + ".pb")).string());
    const std::string diff = compare(r.outputs[k].to(Device::cpu()), want);
    if (!diff.empty()) return "output " + std::to_string(k) + " '" + r.output_names[k] + "': " + diff;
  }
  return "";
}

struct Outcome {
  bool passed = false;
  std::string message;  // why not
};

// Every data set of the case (memoized: a case runs at most once per process).
const Outcome& outcome(const Case& c) {
  static std::map<std::string, Outcome> done;
  auto it = done.find(c.name);
  if (it != done.end()) return it->second;
  Outcome o;
  try {
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(c.dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    GB_CHECK(!sets.empty(), c.dir, ": no test_data_set_*");
    for (const fs::path& s : sets) {
      o.message = run_data_set(c, s);
      if (!o.message.empty()) {
        if (sets.size() > 1) o.message = s.filename().string() + ": " + o.message;
        break;
      }
    }
    o.passed = o.message.empty();
  } catch (const std::exception& e) {
    o.message = e.what();
  }
  return done[c.name] = o;
}

// ---- the table ---------------------------------------------------------------------------------------------------

enum class Status { passed, failed, excluded, unsupported };

// Unsupported cases are not run; excluded ones are not run unless asked (ExclusionsAreCurrent runs them).
Status status_of(const Case& c) {
  if (!c.supported()) return Status::unsupported;
  if (c.exclusion) return Status::excluded;
  return outcome(c).passed ? Status::passed : Status::failed;
}

struct Row {
  int cases = 0, passed = 0, failed = 0, excluded = 0, unsupported = 0;
  void add(Status s) {
    ++cases;
    (s == Status::passed ? passed : s == Status::failed ? failed : s == Status::excluded ? excluded : unsupported)++;
  }
};

struct Table {
  std::map<std::string, Row> supported;  // every supported operator (rows with no case too)
  std::map<std::string, int> unsupported;  // unsupported operator -> cases it appears in
  Row total;                               // each case once
  int blocked_cases = 0;                   // cases with an unsupported operator
};

// A case counts in the row of every operator of its graph.
Table make_table() {
  Table t;
  for (const auto& op : supported_set()) t.supported[op];
  for (const Case& c : suite().cases) {
    const Status s = status_of(c);
    t.total.add(s);
    for (const auto& op : c.ops) {
      if (supported_set().count(op)) t.supported[op].add(s);
      else ++t.unsupported[op];
    }
  }
  t.blocked_cases = t.total.unsupported;
  return t;
}

std::string onnx_version() {
  // <site-packages>/onnx/backend/test/data/node -> <site-packages>/onnx/version.py: version = "1.17.0"
  std::ifstream f(fs::path(g_node_tests).lexically_normal().parent_path().parent_path().parent_path().parent_path() /
                  "version.py");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("version = ", 0) == 0) {
      const size_t a = line.find('"'), b = line.rfind('"');
      if (a != std::string::npos && b > a) return line.substr(a + 1, b - a - 1);
    }
  return "unknown";
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

void print_table(const Table& t) {
  std::printf("%-22s %6s %6s %6s %8s %11s\n", "operator", "cases", "passed", "failed", "excluded", "unsupported");
  for (const auto& [op, r] : t.supported)
    std::printf("%-22s %6d %6d %6d %8d %11d\n", op.c_str(), r.cases, r.passed, r.failed, r.excluded, r.unsupported);
  std::printf("%-22s %6d %6d %6d %8d %11d\n", "all cases", t.total.cases, t.total.passed, t.total.failed,
              t.total.excluded, t.total.unsupported);
  std::printf("%zu operators glassbox does not support appear in %d cases\n", t.unsupported.size(), t.blocked_cases);
}

std::string markdown(const Table& t) {
  const Suite& s = suite();
  int bound = 0;  // supported cases run with int64 inputs bound as initializers
  for (const Case& c : s.cases) {
    if (!c.supported()) continue;
    const onnx::ModelProto m = read_model(c.dir + "/model.onnx");
    for (int i : runtime_inputs(m.graph()))
      if (declared_int64(m.graph().input(i))) {
        ++bound;
        break;
      }
  }
  std::ostringstream md;
  md << "# ONNX operator conformance\n\n"
     << "Made by `build-asan/bin/test_onnx_conformance --write-table docs/onnx_conformance.md` "
     << "(tests/conformance/test_onnx_conformance.cpp) on " << today() << ": the backend node tests of onnx "
     << onnx_version() << " (`onnx/backend/test/data/node` in build/venv, " << s.cases.size()
     << " cases) on the CPU backend. A case runs when glassbox supports every operator of its graph "
     << "(`supported_operators()` in engine/shape_inference.h, and Constant); each output must match the expected "
     << "one as the suite's own runner asks (numpy's `assert_allclose`, rtol 1e-3, atol 1e-7, NaN equal to NaN, "
     << "the same element type and shape). int64 graph inputs (shapes, axes, pads, splits, indices: operands "
     << "glassbox takes as plan-time constants) are bound as initializers with the data set's values (" << bound
     << " of the supported cases); other non-float32 inputs stay inputs, which the importer refuses. A supported "
     << "case may fail only where tests/conformance/exclusions.txt names it with a reason; `make test` fails on any "
     << "other failure, and on an excluded case that passes.\n\n"
     << "A case counts in the row of every operator of its graph (the `_expanded` cases are function bodies built "
     << "of several operators), so the rows add up to more than the cases; *unsupported*: the case also has an "
     << "operator glassbox does not support.\n\n"
     << "| Operator | Cases | Passed | Failed | Excluded | Unsupported |\n|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [op, r] : t.supported)
    md << "| " << op << " | " << r.cases << " | " << r.passed << " | " << r.failed << " | " << r.excluded << " | "
       << r.unsupported << " |\n";
  md << "| **all cases** | " << t.total.cases << " | " << t.total.passed << " | " << t.total.failed << " | "
     << t.total.excluded << " | " << t.total.unsupported << " |\n\n";

  std::vector<const Case*> failed;
  for (const Case& c : s.cases)
    if (status_of(c) == Status::failed) failed.push_back(&c);
  if (!failed.empty()) {
    md << "## Failures\n\n";
    for (const Case* c : failed) md << "- `" << c->name << "`: " << outcome(*c).message << "\n";
    md << "\n";
  }

  md << "## Exclusions\n\nSupported cases that fail for a documented limit of glassbox "
     << "(tests/conformance/exclusions.txt; a pattern is a case name or a glob):\n\n"
     << "| Pattern | Cases | Reason |\n|---|---:|---|\n";
  for (const Exclusion& e : s.exclusions) {
    int n = 0;
    for (const Case& c : s.cases) n += c.exclusion == &e;
    md << "| `" << e.pattern << "` | " << n << " | " << e.reason << " |\n";
  }

  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& [op, n] : t.unsupported) by_count.push_back({-n, op});
  std::sort(by_count.begin(), by_count.end());
  md << "\n## Unsupported\n\n" << t.unsupported.size() << " operators that glassbox does not support appear in "
     << t.blocked_cases << " of the " << s.cases.size() << " cases (those cases are not run). By the number of "
     << "cases they appear in: ";
  for (size_t i = 0; i < by_count.size(); ++i)
    md << (i ? ", " : "") << by_count[i].second << " " << -by_count[i].first;
  md << ".\n";
  return md.str();
}

// ---- the tests ---------------------------------------------------------------------------------------------------

#define SKIP_WITHOUT_NODE_TESTS()                                                                           \
  if (g_node_tests.empty())                                                                                 \
    GTEST_SKIP() << "GLASSBOX_ONNX_NODE_TESTS is empty: configure with "                                    \
                    "-DGLASSBOX_ONNX_NODE_TESTS=<onnx package>/backend/test/data/node (make build does it "  \
                    "from build/venv)"

TEST(OnnxConformance, SupportedCasesMatchExpectedOutputs) {
  SKIP_WITHOUT_NODE_TESTS();
  ASSERT_TRUE(fs::is_directory(g_node_tests)) << g_node_tests << " is not a folder";
  const Suite& s = suite();
  ASSERT_FALSE(s.cases.empty()) << g_node_tests << " holds no case (no <case>/model.onnx)";
  for (const Case& c : s.cases)
    if (status_of(c) == Status::failed) ADD_FAILURE() << c.name << ": " << outcome(c).message;
  print_table(make_table());
}

// Every exclusion names at least one case, and every excluded case still fails (else the line is stale).
TEST(OnnxConformance, ExclusionsAreCurrent) {
  SKIP_WITHOUT_NODE_TESTS();
  ASSERT_TRUE(fs::is_directory(g_node_tests)) << g_node_tests << " is not a folder";
  const Suite& s = suite();
  for (const Exclusion& e : s.exclusions) {
    const bool used = std::any_of(s.cases.begin(), s.cases.end(), [&](const Case& c) { return matches(e, c.name); });
    EXPECT_TRUE(used) << "exclusions.txt:" << e.line << ": '" << e.pattern << "' names no case";
  }
  for (const Case& c : s.cases) {
    if (!c.exclusion) continue;
    const Outcome& o = outcome(c);
    EXPECT_FALSE(o.passed) << c.name << " passes but exclusions.txt:" << c.exclusion->line << " ('"
                           << c.exclusion->pattern << "': " << c.exclusion->reason << ") excludes it";
  }
}

}  // namespace
}  // namespace glassbox::conformance

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string table_path;
  bool list = false;  // every case with its status, after the tests
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--list") {
      list = true;
    } else if ((a == "--write-table" || a == "--node-tests") && i + 1 < argc) {
      (a == "--write-table" ? table_path : glassbox::conformance::g_node_tests) = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--node-tests DIR] [--write-table FILE.md] [--list] [gtest flags]\n", argv[0]);
      return 2;
    }
  }
  const int rc = RUN_ALL_TESTS();
  if (list) {
    using namespace glassbox::conformance;
    for (const Case& c : suite().cases) {
      const Status st = status_of(c);
      std::string why = st == Status::unsupported ? "operators not supported:" : "";
      for (const auto& op : c.unsupported) why += " " + op;
      if (st == Status::excluded) why = c.exclusion->reason;
      if (st == Status::failed) why = outcome(c).message;
      const char* names[] = {"passed", "FAILED", "excluded", "unsupported"};
      std::printf("%-11s %s%s%s\n", names[int(st)], c.name.c_str(), why.empty() ? "" : ": ", why.c_str());
    }
  }
  if (!table_path.empty()) {
    if (glassbox::conformance::g_node_tests.empty()) {
      std::fprintf(stderr, "--write-table: no node tests (GLASSBOX_ONNX_NODE_TESTS is empty; pass --node-tests)\n");
      return 2;
    }
    std::ofstream f(table_path);
    f << glassbox::conformance::markdown(glassbox::conformance::make_table());
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", table_path.c_str());
      return 2;
    }
    std::printf("wrote %s\n", table_path.c_str());
  }
  return rc;
}
