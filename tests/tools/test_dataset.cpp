// Dataset runs (tools/dataset): listing and dataset.json (strict), the pipeline's results against direct
// NamedExplainer calls on the same batches, resume after a stop (a torn last line included) equal to a fresh run,
// and two shards written one after the other equal to one run. On the tiny ViT of tests/data/vit_pointing (64
// images of 64x64). The same through the CLI and mpirun: tests/tools/test_dataset_cli.sh.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explain/named.h"
#include "tests/support/testdata.h"
#include "tools/dataset/dataset.h"

namespace fs = std::filesystem;

namespace glassbox::test {
namespace {

namespace ds = tools::dataset;

std::string vit_dir() { return source_dir() + "/tests/data/vit_pointing"; }

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The float32 payload of a .npy written by save_npy (header padded to a multiple of 64 bytes by format 1.0).
std::vector<float> read_npy(const fs::path& p) {
  const std::string b = read_bytes(p);
  EXPECT_GE(b.size(), 10u) << p;
  if (b.size() < 10) return {};
  const size_t header = 10 + size_t(uint8_t(b[8])) + 256 * size_t(uint8_t(b[9]));
  std::vector<float> v((b.size() - header) / 4);
  std::memcpy(v.data(), b.data() + header, v.size() * 4);
  return v;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("glassbox_dataset_" + name);
  fs::remove_all(d);
  return d;
}

ds::Options options_for(const Model& model, const fs::path& out) {
  ds::Options o;
  o.out = out.string();
  o.method = "gradcam";
  o.batch = 8;
  o.session.threads = 1;
  o.progress = false;
  o.preprocess = tools::Preprocess::for_model(model.input_shape(), model.metadata("glassbox.preprocess"));
  return o;
}

// Every complete record line of a results folder, sorted; and every map's bytes by name.
std::vector<std::string> sorted_records(const fs::path& out) {
  std::vector<std::string> lines;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().rfind("results.rank", 0) == 0) {
      std::ifstream f(e.path());
      for (std::string line; std::getline(f, line);)
        if (!line.empty() && line.back() == '}') lines.push_back(line);  // a torn line stays, ignored
    }
  std::sort(lines.begin(), lines.end());
  return lines;
}
std::map<std::string, std::string> maps_of(const fs::path& out) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::recursive_directory_iterator(out / "maps"))
    if (e.is_regular_file()) m[e.path().lexically_relative(out).generic_string()] = read_bytes(e.path());
  return m;
}

TEST(Dataset, FolderIsSortedRecursiveAndSkipsTheOutput) {
  const fs::path d = fresh_dir("folder");
  fs::create_directories(d / "b" / "c");
  fs::create_directories(d / "out" / "maps");
  for (const char* f : {"z.png", "a.JPG", "b/c/x.jpeg", "b/y.bmp", "notes.txt", "out/maps/m.png"})
    std::ofstream(d / f) << "x";
  const ds::Dataset data = ds::Dataset::open(d.string(), (d / "out").string());
  std::vector<std::string> files;
  for (const auto& it : data.items) files.push_back(it.file);
  EXPECT_EQ(files, (std::vector<std::string>{"a.JPG", "b/c/x.jpeg", "b/y.bmp", "z.png"}));
  EXPECT_EQ(data.items[2].index, 2);
  EXPECT_FALSE(data.described);
}

TEST(Dataset, JsonFormatIsStrict) {
  const auto d = ds::Dataset::parse_json(
      R"({"images": [{"file": "a.png", "label": 3, "boxes": [[1, 2, 3, 4], [0, 0, 5.5, 6]]}, {"file": "s/b.png"}]})",
      "/data");
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(d.items[0].label, 3);
  ASSERT_EQ(d.items[0].boxes.size(), 2u);
  EXPECT_EQ(d.items[0].boxes[1][2], 5.5);
  EXPECT_EQ(d.items[1].label, -1);
  EXPECT_EQ(d.items[1].path, "/data/s/b.png");
  for (const char* bad : {R"({"images": [{"file": "a.png", "label": "3"}]})", R"({"images": [{"file": "a.png",
       "label": -1}]})", R"({"images": [{"file": "a.png", "boxes": [[1, 2, 3]]}]})", R"({"images": [{"label": 1}]})",
       R"({"images": [{"file": "a.png"}, {"file": "./a.png"}]})", R"({"images": [{"file": "../a.png"}]})",
       R"({"pictures": []})", R"({"images": [{"file": "a.png"})"})
    EXPECT_THROW(ds::Dataset::parse_json(bad, "/data"), Error) << bad;
  // The pointing set's boxes.json (a bare array, one "box" each, extra keys) is a dataset file too.
  const auto v = ds::Dataset::open(vit_dir() + "/boxes.json");
  ASSERT_EQ(v.items.size(), 64u);
  EXPECT_EQ(v.items[0].file, "images/img_00.png");
  EXPECT_EQ(v.items[0].label, 1);
  EXPECT_EQ(v.items[0].boxes.at(0)[2], 20);
}

TEST(Dataset, ShardsPartitionTheImages) {
  std::vector<ds::Item> items(10);
  for (int i = 0; i < 10; ++i) items[i].index = i;
  std::vector<int> seen(10, 0);
  for (int r = 0; r < 3; ++r)
    for (const auto& it : ds::shard(items, r, 3)) {
      EXPECT_EQ(it.index % 3, r);
      ++seen[it.index];
    }
  EXPECT_EQ(seen, std::vector<int>(10, 1));
}

TEST(Dataset, RunEqualsDirectExplainerCalls) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path out = fresh_dir("run");
  ds::Options o = options_for(*model, out);
  o.target.top = 2;
  const ds::Dataset data = ds::Dataset::open(vit_dir() + "/boxes.json");
  const ds::RunStats s = ds::run(model, data, o);
  EXPECT_EQ(s.computed, 64);
  EXPECT_EQ(s.skipped, 0);
  EXPECT_EQ(s.failed, 0);
  const auto records = ds::read_results(out.string());
  ASSERT_EQ(records.size(), 64u);

  // The same batches of 8 through one NamedExplainer.
  SessionOptions so;
  so.threads = 1;
  explain::NamedExplainer ex(model, "gradcam", so);
  for (size_t start = 0; start < 64; start += 8) {
    std::vector<tools::Image> images;
    for (size_t i = start; i < start + 8; ++i) images.push_back(tools::load_image(data.items[i].path));
    const auto e = ex.explain(tools::make_batch(images, o.preprocess), o.target);
    const Tensor maps = e.maps.to(Device::cpu()), logits = e.targets.logits.to(Device::cpu());
    const auto classes = e.targets.class_list();
    ASSERT_EQ(classes.size(), 16u);
    for (size_t i = 0; i < 8; ++i) {
      const ds::Record& r = records.at(data.items[start + i].file);
      EXPECT_EQ(r.index, int64_t(start + i));
      EXPECT_EQ(r.label, data.items[start + i].label);
      ASSERT_EQ(r.targets.size(), 2u);
      for (size_t k = 0; k < 2; ++k) {
        const auto& t = r.targets[k];
        EXPECT_EQ(t.cls, classes[i * 2 + k]);
        EXPECT_EQ(float(t.logit), logits.data<float>()[i * logits.dim(1) + t.cls]);
        const std::vector<float> map = read_npy(out / t.map);
        ASSERT_EQ(map.size(), 64u * 64u) << t.map;
        EXPECT_EQ(0, std::memcmp(map.data(), maps.data<float>() + (i * 2 + k) * 64 * 64, 64 * 64 * 4)) << t.map;
      }
      EXPECT_GE(r.targets[0].probability, r.targets[1].probability);
    }
  }
  const std::string summary = ds::write_summary(out.string(), data, "gradcam", {s});
  EXPECT_NE(summary.find("\"images\": 64"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"label_agreement\""), std::string::npos) << summary;
}

TEST(Dataset, StoppedRunResumesWithoutRecomputing) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const ds::Dataset data = ds::Dataset::open(vit_dir() + "/images");
  ASSERT_EQ(data.items.size(), 64u);
  const fs::path fresh = fresh_dir("fresh"), stopped = fresh_dir("stopped");
  ds::run(model, data, options_for(*model, fresh));

  // Stop after 20 images (the writer fails, as a full disk would), then tear the last line as a kill would.
  ds::Options o = options_for(*model, stopped);
  o.on_written = [](int64_t n) {
    if (n == 20) throw Error("stop");
  };
  EXPECT_THROW(ds::run(model, data, o), Error);
  ASSERT_EQ(ds::read_results(stopped.string()).size(), 20u);
  std::ofstream(stopped / "results.rank0.jsonl", std::ios::app) << R"({"image": "img_3)";
  int64_t torn = 0;
  EXPECT_EQ(ds::read_results(stopped.string(), &torn).size(), 20u);
  EXPECT_EQ(torn, 1);

  o.on_written = nullptr;
  const ds::RunStats s = ds::run(model, data, o);
  EXPECT_EQ(s.skipped, 20);
  EXPECT_EQ(s.computed, 44);
  EXPECT_EQ(sorted_records(stopped), sorted_records(fresh));
  EXPECT_EQ(maps_of(stopped), maps_of(fresh));
  // Once more: nothing left to compute.
  const ds::RunStats again = ds::run(model, data, o);
  EXPECT_EQ(again.skipped, 64);
  EXPECT_EQ(again.computed, 0);
  // Another method into the same folder is refused.
  o.method = "layercam";
  EXPECT_THROW(ds::run(model, data, o), Error);
}

TEST(Dataset, TwoShardsEqualOneRun) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const ds::Dataset data = ds::Dataset::open(vit_dir() + "/images");
  const fs::path one = fresh_dir("one"), two = fresh_dir("two");
  ds::Options o = options_for(*model, one);
  o.batch = 1;
  ds::run(model, data, o);
  o.out = two.string();
  o.ranks = 2;
  int64_t total = 0;
  for (o.rank = 0; o.rank < 2; ++o.rank) total += ds::run(model, data, o).computed;
  EXPECT_EQ(total, 64);
  EXPECT_TRUE(fs::exists(two / "results.rank1.jsonl"));
  EXPECT_EQ(sorted_records(two), sorted_records(one));
  EXPECT_EQ(maps_of(two), maps_of(one));
}

TEST(Dataset, LabelTargetsAndDecodeFailures) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = fresh_dir("labels");
  fs::create_directories(d);
  fs::copy_file(vit_dir() + "/images/img_00.png", d / "a.png");
  std::ofstream(d / "broken.png") << "not a png";
  std::ofstream(d / "dataset.json") << R"({"images": [{"file": "a.png", "label": 2}, {"file": "broken.png", "label": 0}]})";
  ds::Options o = options_for(*model, d / "out");
  o.target_label = true;
  const ds::RunStats s = ds::run(model, ds::Dataset::open(d.string()), o);
  EXPECT_EQ(s.computed, 1);
  EXPECT_EQ(s.failed, 1);
  const auto records = ds::read_results(o.out);
  EXPECT_EQ(records.at("a.png").targets.at(0).cls, 2);
  EXPECT_FALSE(records.at("broken.png").error.empty());
  // A failed image is tried again on resume.
  const ds::RunStats again = ds::run(model, ds::Dataset::open(d.string()), o);
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(again.failed, 1);
}

}  // namespace
}  // namespace glassbox::test
