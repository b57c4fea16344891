// Dataset runs (tools/dataset): listing and dataset.json (strict), the pipeline's results against direct
// NamedExplainer calls on the same batches, resume after a stop (a torn last line included) equal to a fresh run,
// two shards written one after the other equal to one run, and hostile inputs: other settings on resume, lost
// or cut outputs, a second run at once, outputs below the dataset, bad file names and labels. On the tiny ViT of
// tests/data/vit_pointing (64 images of 64x64). The same through the CLI and mpirun: tests/tools/test_dataset_cli.sh.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

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
  o.model_file = vit_dir() + "/model.onnx";
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
       "label": 1.5}]})", R"({"images": [{"file": "a.png", "boxes": [[1, 2, 3]]}]})", R"({"images": [{"label": 1}]})",
       R"({"images": [{"file": "a.png"}, {"file": "./a.png"}]})", R"({"images": [{"file": "../a.png"}]})",
       R"({"pictures": []})", R"({"images": [{"file": "a.png"})"})
    EXPECT_THROW(ds::Dataset::parse_json(bad, "/data"), Error) << bad;
  // A negative label, or one beyond int64, is no class: kept as that image's error (run), not the dataset's.
  const auto labels = ds::Dataset::parse_json(
      R"([{"file": "a.png", "label": -3}, {"file": "b.png", "label": 18446744073709551615},
          {"file": "c.png", "label": 9223372036854775807}])",
      "/data");
  EXPECT_EQ(labels.items[0].label, -1);
  EXPECT_EQ(labels.items[0].bad_label, "-3");
  EXPECT_EQ(labels.items[1].label, -1);
  EXPECT_EQ(labels.items[1].bad_label, "18446744073709551615");
  EXPECT_EQ(labels.items[2].label, INT64_MAX);
  EXPECT_EQ(labels.items[2].bad_label, "");
  // The pointing set's boxes.json (a bare array, one "box" each, extra keys) is a dataset file too.
  const auto v = ds::Dataset::open(vit_dir() + "/boxes.json");
  ASSERT_EQ(v.items.size(), 64u);
  EXPECT_EQ(v.items[0].file, "images/img_00.png");
  EXPECT_EQ(v.items[0].label, 1);
  EXPECT_EQ(v.items[0].boxes.at(0)[2], 20);
}

// File names with a NUL (which would truncate the name the OS sees) or another control character, absolute paths
// and ".." components are errors naming the entry's index and its text, escaped.
TEST(Dataset, JsonFileNamesStayInsideTheFolder) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"images": [{"file": "ok.png"}, {"file": "a\u0000b.png"}]})",
       R"(images[1]: "file" "a\u0000b.png" holds a control character)"},
      {R"({"images": [{"file": "a\nb.png"}]})", R"(images[0]: "file" "a\nb.png" holds a control character)"},
      {R"({"images": [{"file": "a\u007fb.png"}]})", "holds a control character"},
      {R"({"images": [{"file": "/etc/passwd.png"}]})", R"(images[0]: "file" "/etc/passwd.png" is an absolute path)"},
      {R"({"images": [{"file": "s/../b.png"}]})", R"(images[0]: "file" "s/../b.png" has a ".." component)"},
      {R"({"images": [{"file": "../b.png"}]})", R"(has a ".." component)"},
      {R"({"images": [{"file": ".."}]})", R"(has a ".." component)"}};
  for (const auto& [text, message] : bad) {
    try {
      ds::Dataset::parse_json(text, "/data", "dataset.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("dataset.json: images["), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\0'), std::string::npos);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  // Inside the folder: plain relative names, "." components, UTF-8.
  const auto d = ds::Dataset::parse_json(R"([{"file": "./s/b.png"}, {"file": "caf\u00e9.png"}])", "/data");
  EXPECT_EQ(d.items[0].file, "s/b.png");
  EXPECT_EQ(d.items[1].file, "caf\xc3\xa9.png");
}

// The output folder is skipped however --out spells it, and so is any folder holding an earlier run's results
// (its overlays are PNGs); a folder that is an output, or --out naming the dataset's folder, is an error.
TEST(Dataset, FolderListingSkipsEveryOutput) {
  const fs::path d = fresh_dir("outputs");
  for (const char* sub : {"out/maps", "old/maps/s", "older/maps", "pics", "other"}) fs::create_directories(d / sub);
  for (const char* f : {"a.png", "out/maps/m.png", "old/maps/s/o.png", "older/maps/p.png", "pics/b.png", "other/c.png"})
    std::ofstream(d / f) << "x";
  std::ofstream(d / "old" / "results.rank3.jsonl") << "{}\n";
  std::ofstream(d / "older" / "run.json") << R"({"glassbox_run": 1})";
  std::ofstream(d / "other" / "run.json") << R"({"someone": "else"})";  // not glassbox's: its images stay
  auto files = [](const ds::Dataset& data) {
    std::vector<std::string> v;
    for (const auto& it : data.items) v.push_back(it.file);
    return v;
  };
  const std::vector<std::string> want = {"a.png", "other/c.png", "pics/b.png"};
  const fs::path link = fs::path(::testing::TempDir()) / "glassbox_dataset_outputs_link";
  fs::remove(link);
  fs::create_directory_symlink(d / "out", link);
  for (const std::string& out : {(d / "out").string(), (d / "out").string() + "/", (d / "." / "out" / "").string(),
                                 fs::relative(d / "out", fs::current_path()).string(), link.string()})
    EXPECT_EQ(files(ds::Dataset::open(d.string(), out)), want) << out;
  fs::remove(link);
  // Without the exclusion the unmarked output folder is listed (what the exclusion is for).
  EXPECT_EQ(files(ds::Dataset::open(d.string())).size(), 4u);
  EXPECT_THROW(ds::Dataset::open(d.string(), d.string() + "/"), Error);         // --out is the dataset's folder
  EXPECT_THROW(ds::Dataset::open((d / "old").string()), Error);               // the dataset is an output
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

// A folder of the first n images of the pointing set.
fs::path small_set(const std::string& name, int n) {
  const fs::path d = fresh_dir(name);
  fs::create_directories(d / "images");
  for (int i = 0; i < n; ++i) {
    const std::string f = "img_0" + std::to_string(i) + ".png";
    fs::copy_file(vit_dir() + "/images/" + f, d / "images" / f);
  }
  return d;
}

std::string run_error(const std::shared_ptr<const Model>& model, const ds::Dataset& data, const ds::Options& o) {
  try {
    ds::run(model, data, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A resume with any setting that changes the maps is refused, naming the setting with both values; options that
// do not change them resume.
TEST(Dataset, ResumeRefusesOtherSettings) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = small_set("settings", 3);
  const ds::Dataset data = ds::Dataset::open((d / "images").string());
  const ds::Options base = options_for(*model, d / "out");
  ASSERT_EQ(ds::run(model, data, base).computed, 3);
  ASSERT_TRUE(fs::exists(d / "out" / "run.json"));

  std::vector<std::pair<std::string, ds::Options>> changed;
  ds::Options o = base;
  o.model_file = vit_dir() + "/labels.txt";  // other bytes: another model as far as identity goes
  changed.push_back({"model \"", o});
  o = base, o.method = "layercam";
  changed.push_back({"method \"gradcam\" there, \"layercam\" in this run", o});
  o = base, o.layer = model->layers().front().name;
  changed.push_back({"layer \"", o});
  o = base, o.target.top = 2;
  changed.push_back({"target \"top 1\" there, \"top 2\" in this run", o});
  o = base, o.target.classes = {3};
  changed.push_back({"target \"top 1\" there, \"class 3\" in this run", o});
  o = base, o.target.probability = true;
  changed.push_back({"probability false there, true in this run", o});
  o = base, o.preprocess.mean[0] += 1;
  changed.push_back({"preprocess \"resize=", o});
  for (const auto& [message, options] : changed) {
    const std::string e = run_error(model, data, options);
    EXPECT_NE(e.find(" was written with other settings: " + message), std::string::npos) << e;
    EXPECT_NE(e.find("give another --out"), std::string::npos) << e;
  }
  // The same bytes elsewhere are the same model; threads, batch, decoders and queue change nothing.
  const fs::path copy = d / "model_copy.onnx";
  fs::copy_file(vit_dir() + "/model.onnx", copy);
  o = base;
  o.model_file = copy.string();
  o.session.threads = 2, o.batch = 2, o.decode_threads = 1, o.queue_batches = 1, o.max_pixels = 1 << 20;
  const ds::RunStats same = ds::run(model, data, o);
  EXPECT_EQ(same.skipped, 3);
  EXPECT_EQ(same.computed, 0);
  // Results without run.json have unknown settings.
  fs::remove(d / "out" / "run.json");
  EXPECT_NE(run_error(model, data, base).find("holds results but no run.json"), std::string::npos);
}

// Deleted or cut maps and overlays are found on resume and computed again; the summary counts them as missing
// until then.
TEST(Dataset, ResumeRecomputesMissingOrIncompleteOutputs) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = small_set("loss", 4);
  const ds::Dataset data = ds::Dataset::open((d / "images").string());
  ds::Options o = options_for(*model, d / "out");
  ASSERT_EQ(ds::run(model, data, o).computed, 4);
  const auto before = maps_of(d / "out");
  const auto records = ds::read_results(o.out);
  const fs::path m0 = d / "out" / records.at("img_00.png").targets.at(0).map;
  const fs::path m1 = d / "out" / records.at("img_01.png").targets.at(0).map;
  const fs::path m2 = d / "out" / records.at("img_02.png").targets.at(0).map;
  EXPECT_TRUE(ds::npy_complete(m0.string()));
  fs::remove(m0);
  std::ofstream(m1, std::ios::trunc).close();  // emptied
  fs::resize_file(m2, fs::file_size(m2) - 4);  // cut by one float
  EXPECT_FALSE(ds::npy_complete(m0.string()));
  EXPECT_FALSE(ds::npy_complete(m1.string()));
  EXPECT_FALSE(ds::npy_complete(m2.string()));
  const std::string summary = ds::write_summary(o.out, data, o.method, {});
  EXPECT_NE(summary.find("\"missing\": 3,"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"images\": 1,"), std::string::npos) << summary;

  const ds::RunStats s = ds::run(model, data, o);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.incomplete, 3);
  EXPECT_EQ(s.computed, 3);
  EXPECT_EQ(maps_of(d / "out"), before);
  EXPECT_NE(ds::write_summary(o.out, data, o.method, {s}).find("\"missing\": 0,"), std::string::npos);

  // Overlays asked for on resume are produced (the records had none), recorded, and checked from then on.
  o.overlays = true;
  EXPECT_EQ(ds::run(model, data, o).incomplete, 4);
  const auto with = ds::read_results(o.out);
  const fs::path png = d / "out" / with.at("img_03.png").targets.at(0).overlay;
  EXPECT_TRUE(ds::png_complete(png.string())) << png;
  fs::resize_file(png, fs::file_size(png) - 1);
  EXPECT_FALSE(ds::png_complete(png.string()));
  o.overlays = false;  // recorded overlays are checked even when this run does not ask for them
  const ds::RunStats again = ds::run(model, data, o);
  EXPECT_EQ(again.skipped, 3);
  EXPECT_EQ(again.computed, 1);
  EXPECT_TRUE(ds::png_complete(png.string()));
  // The overlays already written are of one colormap: another is refused.
  o.overlays = true;
  o.colormap = "viridis";
  EXPECT_NE(run_error(model, data, o).find("overlays \"jet\" there, \"viridis\" in this run"), std::string::npos);
}

// A run holds its output folder (its rank's lock): another run into it is refused naming the holder; the lock
// goes with its holder, and other ranks' locks do not block.
TEST(Dataset, SecondRunIntoTheSameFolderIsRefused) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = small_set("lock", 2);
  const ds::Dataset data = ds::Dataset::open((d / "images").string());
  const ds::Options o = options_for(*model, d / "out");
  fs::create_directories(o.out);
  {
    const ds::OutputLock held(o.out, 0);
    const std::string e = run_error(model, data, o);
    EXPECT_NE(e.find(o.out + " is being written by another run (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos) << e;
    EXPECT_FALSE(fs::exists(d / "out" / "results.rank0.jsonl"));
    const ds::OutputLock other_rank(o.out, 1);
  }
  EXPECT_EQ(ds::run(model, data, o).computed, 2);
}

// An image that does not decode, or is over the pixel limit, is that image's error record; the others run, in a
// folder listing as in a dataset.json.
TEST(Dataset, OneImagesErrorNeverStopsTheOthers) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = small_set("errors", 3);
  tools::Image big;
  big.width = big.height = 100;
  big.rgb.assign(size_t(100) * 100 * 3, 128);
  tools::save_png((d / "images" / "img_01_big.png").string(), big);
  std::ofstream(d / "images" / "img_00_broken.png") << "not a png";
  ds::Options o = options_for(*model, d / "out");
  o.max_pixels = 64 * 64;  // the pointing set's images fit, the 100 x 100 one does not
  o.batch = 2;
  const ds::RunStats s = ds::run(model, ds::Dataset::open((d / "images").string()), o);
  EXPECT_EQ(s.computed, 3);
  EXPECT_EQ(s.failed, 2);
  const auto r = ds::read_results(o.out);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_NE(r.at("img_01_big.png").error.find("over the limit of 4096 pixels"), std::string::npos);
  EXPECT_NE(r.at("img_00_broken.png").error.find("not a readable image"), std::string::npos);
  for (const char* ok : {"img_00.png", "img_01.png", "img_02.png"})
    EXPECT_TRUE(ds::outputs_complete(o.out, r.at(ok))) << ok;
}

// Labels that are no class of the model are errors of their images, naming the range; the others run.
TEST(Dataset, OutOfRangeLabelsAreErrorsOfTheirImages) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  const fs::path d = small_set("badlabels", 4);
  std::ofstream(d / "images" / "dataset.json") << R"([{"file": "img_00.png", "label": 2},
      {"file": "img_01.png", "label": 5000}, {"file": "img_02.png", "label": -3}, {"file": "img_03.png"}])";
  ds::Options o = options_for(*model, d / "out");
  o.target_label = true;
  const ds::Dataset data = ds::Dataset::open((d / "images").string());
  const ds::RunStats s = ds::run(model, data, o);
  EXPECT_EQ(s.computed, 1);
  EXPECT_EQ(s.failed, 3);
  const auto r = ds::read_results(o.out);
  EXPECT_EQ(r.at("img_00.png").targets.at(0).cls, 2);
  EXPECT_EQ(r.at("img_01.png").error, "label 5000 is not a class of the model (0..3)");
  EXPECT_EQ(r.at("img_02.png").error, "label -3 is not a class of the model (0..3)");
  EXPECT_NE(r.at("img_03.png").error.find("no label"), std::string::npos);
  // A given class out of range is the run's error, before anything is computed.
  o.target_label = false;
  o.target.classes = {4};
  o.out = (d / "out2").string();
  EXPECT_NE(run_error(model, data, o).find("--class 4 is not a class of the model (0..3)"), std::string::npos);
}

}  // namespace
}  // namespace glassbox::test
