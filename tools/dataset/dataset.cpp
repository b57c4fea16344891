#include "tools/dataset/dataset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "explain/named.h"
#include "tools/glassbox/overlay.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace glassbox::tools::dataset {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::array<double, 4> parse_box(const json& b, const std::string& where) {
  GB_CHECK(b.is_array() && b.size() == 4, where, ": a box is [x0, y0, x1, y1], got ", b.dump());
  std::array<double, 4> box{};
  for (size_t j = 0; j < 4; ++j) {
    GB_CHECK(b[j].is_number(), where, ": a box holds numbers, got ", b.dump());
    box[j] = b[j].get<double>();
  }
  return box;
}

std::string map_name(const std::string& image, const std::string& method, int64_t cls, const char* ext) {
  return "maps/" + image + "." + method + "." + std::to_string(cls) + ext;
}

}  // namespace

// ---- the dataset ------------------------------------------------------------------------------------------------

Dataset Dataset::parse_json(const std::string& text, const std::string& root, const std::string& source) {
  const json doc = json::parse(text, nullptr, false);
  GB_CHECK(!doc.is_discarded(), source, ": not valid JSON");
  const json* list = &doc;
  if (doc.is_object()) {
    GB_CHECK(doc.contains("images") && doc["images"].is_array(), source, ": expected {\"images\": [...]}");
    list = &doc["images"];
  }
  GB_CHECK(list->is_array(), source, ": expected {\"images\": [...]} or an array of images");
  Dataset d;
  d.root = root;
  d.described = true;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string where = source + ": images[" + std::to_string(i) + "]";
    GB_CHECK(e.is_object(), where, ": expected an object with \"file\"");
    GB_CHECK(e.contains("file") && e["file"].is_string() && !e["file"].get<std::string>().empty(), where,
             ": \"file\" must be a non-empty string");
    Item item;
    item.index = int64_t(i);
    item.file = fs::path(e["file"].get<std::string>()).lexically_normal().generic_string();
    GB_CHECK(fs::path(item.file).is_relative() && item.file.rfind("..", 0) != 0, where, ": \"file\" ", item.file,
             " must lie inside the dataset's folder");
    GB_CHECK(seen.emplace(item.file, i).second, where, ": ", item.file, " is listed twice");
    item.path = (fs::path(root) / item.file).string();
    if (e.contains("label")) {
      GB_CHECK(e["label"].is_number_integer() && e["label"].get<int64_t>() >= 0, where,
               ": \"label\" must be a non-negative integer, got ", e["label"].dump());
      item.label = e["label"].get<int64_t>();
    }
    if (e.contains("boxes")) {
      GB_CHECK(e["boxes"].is_array(), where, ": \"boxes\" must be an array of [x0, y0, x1, y1]");
      for (const json& b : e["boxes"]) item.boxes.push_back(parse_box(b, where));
    }
    if (e.contains("box")) item.boxes.push_back(parse_box(e["box"], where));
    d.items.push_back(std::move(item));
  }
  return d;
}

Dataset Dataset::open(const std::string& path, const std::string& exclude) {
  const fs::path p(path);
  GB_CHECK(fs::exists(p), "dataset ", path, ": no such file or folder");
  auto read_json = [](const fs::path& file) {
    std::ifstream f(file);
    GB_CHECK(f, "cannot read ", file.string());
    std::stringstream s;
    s << f.rdbuf();
    return parse_json(s.str(), file.parent_path().string(), file.string());
  };
  if (fs::is_regular_file(p)) {
    GB_CHECK(p.extension() == ".json", "dataset ", path, ": give a folder or a .json file");
    return read_json(p);
  }
  if (fs::exists(p / "dataset.json")) return read_json(p / "dataset.json");
  Dataset d;
  d.root = p.string();
  const fs::path skip = exclude.empty() ? fs::path() : fs::weakly_canonical(exclude);
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory()) {
      if (!skip.empty() && fs::weakly_canonical(it->path()) == skip) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_image(it->path()))
      files.push_back(it->path().lexically_relative(p).generic_string());
  }
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i < files.size(); ++i) {
    Item item;
    item.index = int64_t(i);
    item.file = files[i];
    item.path = (p / files[i]).string();
    d.items.push_back(std::move(item));
  }
  GB_CHECK(!d.items.empty(), "dataset ", path, ": no .png, .jpg, .jpeg or .bmp files (and no dataset.json)");
  return d;
}

std::vector<Item> shard(const std::vector<Item>& items, int rank, int ranks) {
  GB_CHECK(ranks >= 1 && rank >= 0 && rank < ranks, "rank ", rank, " of ", ranks);
  std::vector<Item> mine;
  for (const Item& it : items)
    if (it.index % ranks == rank) mine.push_back(it);
  return mine;
}

// ---- records ----------------------------------------------------------------------------------------------------

std::string Record::json() const {
  nlohmann::ordered_json j;
  j["image"] = image;
  j["index"] = index;
  if (label >= 0) j["label"] = label;
  if (!method.empty()) j["method"] = method;
  if (!error.empty()) j["error"] = error;
  j["targets"] = nlohmann::ordered_json::array();
  for (const Target& t : targets)
    j["targets"].push_back({{"class", t.cls}, {"logit", t.logit}, {"probability", t.probability}, {"map", t.map}});
  return j.dump();
}

std::map<std::string, Record> read_results(const std::string& out_dir, int64_t* torn) {
  std::map<std::string, Record> records;
  if (torn) *torn = 0;
  if (!fs::is_directory(out_dir)) return records;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("results.rank", 0) == 0 && e.path().extension() == ".jsonl")
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      const json j = json::parse(line, nullptr, false);
      bool ok = !j.is_discarded() && j.is_object() && j.contains("image") && j["image"].is_string() &&
                j.contains("index") && j["index"].is_number_integer() && j.contains("targets") &&
                j["targets"].is_array();
      Record r;
      if (ok) {
        r.image = j["image"].get<std::string>();
        r.index = j["index"].get<int64_t>();
        if (j.contains("label") && j["label"].is_number_integer()) r.label = j["label"].get<int64_t>();
        if (j.contains("method") && j["method"].is_string()) r.method = j["method"].get<std::string>();
        if (j.contains("error") && j["error"].is_string()) r.error = j["error"].get<std::string>();
        for (const json& t : j["targets"]) {
          if (!t.is_object() || !t.contains("class") || !t["class"].is_number_integer() || !t.contains("map") ||
              !t["map"].is_string() || !t.contains("logit") || !t["logit"].is_number() ||
              !t.contains("probability") || !t["probability"].is_number()) {
            ok = false;
            break;
          }
          r.targets.push_back({t["class"].get<int64_t>(), t["logit"].get<double>(), t["probability"].get<double>(),
                               t["map"].get<std::string>()});
        }
      }
      if (!ok) {
        if (torn) ++*torn;
        continue;
      }
      records[r.image] = std::move(r);
    }
  }
  return records;
}

// ---- the pipeline -----------------------------------------------------------------------------------------------

namespace {

struct Decoded {
  const Item* item = nullptr;
  std::vector<float> pixels;  // [3, crop, crop]
  Image seen;                 // what the network sees (overlays only)
  std::string error;
};

// Stage 1: decoder threads fill a reorder buffer; the consumer takes images in the shard's order. Decoders never
// run more than `capacity` images ahead of the consumer.
class DecodeStage {
 public:
  DecodeStage(const std::vector<Item>& items, const Options& o, size_t capacity)
      : items_(items), o_(o), capacity_(std::max<size_t>(1, capacity)) {
    GB_CHECK(o.preprocess.crop > 0, "a dataset run needs a crop size (preprocess crop=...)");
    for (int t = 0; t < std::max(1, o.decode_threads); ++t) threads_.emplace_back([this] { decode(); });
  }
  ~DecodeStage() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    to_decoders_.notify_all();
    for (auto& t : threads_) t.join();
  }
  bool pop(Decoded& out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_pop_ >= items_.size()) return false;
    to_consumer_.wait(lock, [&] { return ready_.count(next_pop_) > 0; });
    out = std::move(ready_[next_pop_]);
    ready_.erase(next_pop_++);
    lock.unlock();
    to_decoders_.notify_all();
    return true;
  }
  double busy() {
    std::lock_guard<std::mutex> lock(mu_);
    return busy_;
  }
  int threads() const { return int(threads_.size()); }

 private:
  void decode() {
    const int side = o_.preprocess.crop;
    for (;;) {
      size_t s;
      {
        std::unique_lock<std::mutex> lock(mu_);
        to_decoders_.wait(lock, [&] {
          return stopped_ || next_claim_ >= items_.size() || next_claim_ < next_pop_ + capacity_;
        });
        if (stopped_ || next_claim_ >= items_.size()) return;
        s = next_claim_++;
      }
      const auto t0 = Clock::now();
      Decoded d;
      d.item = &items_[s];
      try {
        const Image image = load_image(d.item->path, o_.max_pixels);
        d.pixels.resize(size_t(3) * side * side);
        preprocess_into(image, o_.preprocess, d.pixels.data());
        if (o_.overlays) d.seen = resize_and_crop(image, o_.preprocess);
      } catch (const std::exception& e) {
        d.error = e.what();
        d.pixels.clear();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        busy_ += seconds_since(t0);
        ready_.emplace(s, std::move(d));
      }
      to_consumer_.notify_all();
    }
  }

  const std::vector<Item>& items_;
  const Options& o_;
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable to_decoders_, to_consumer_;
  size_t next_claim_ = 0, next_pop_ = 0;
  std::map<size_t, Decoded> ready_;
  bool stopped_ = false;
  double busy_ = 0;
  std::vector<std::thread> threads_;
};

// Stage 2 -> 3: an explained batch on the host.
struct Batch {
  std::vector<Decoded> images;  // in order, failed decodes included
  Tensor logits, maps;          // [good, C], [good * K, H, W] on the host
  std::vector<int64_t> classes; // [good * K]
  int64_t K = 0;
};

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}
  void push(T v) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_; });
    q_.push_back(std::move(v));
    not_empty_.notify_one();
  }
  bool pop(T& v) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> q_;
  bool closed_ = false;
};

// Stage 3: maps and records, one flushed JSON line per image, and the progress line.
class Writer {
 public:
  Writer(const Options& o, const std::string& method, int64_t shard, int64_t skipped)
      : o_(o), method_(method), shard_(shard), skipped_(skipped) {
    const fs::path results = fs::path(o.out) / ("results.rank" + std::to_string(o.rank) + ".jsonl");
    // A killed run may have left a torn last line: end it, so that the next record starts a line of its own.
    bool torn_tail = false;
    if (fs::exists(results) && fs::file_size(results) > 0) {
      std::ifstream f(results, std::ios::binary);
      f.seekg(-1, std::ios::end);
      torn_tail = f.get() != '\n';
    }
    file_ = std::fopen(results.string().c_str(), "ab");
    GB_CHECK(file_, "cannot append to ", results.string());
    if (torn_tail) std::fputc('\n', file_);
    start_ = Clock::now();
  }
  ~Writer() {
    if (file_) std::fclose(file_);
  }

  void write(const Batch& b) {
    const auto t0 = Clock::now();
    const int64_t H = b.maps.defined() ? b.maps.dim(1) : 0, W = b.maps.defined() ? b.maps.dim(2) : 0;
    int64_t good = 0;
    for (const Decoded& d : b.images) {
      Record r;
      r.image = d.item->file;
      r.index = d.item->index;
      r.label = d.item->label;
      r.method = method_;
      if (!d.error.empty()) {
        r.error = d.error;
        ++failed_;
      } else {
        const int64_t C = b.logits.dim(1);
        const float* z = b.logits.data<float>() + good * C;
        const double zmax = *std::max_element(z, z + C);
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(double(z[c]) - zmax);
        for (int64_t k = 0; k < b.K; ++k) {
          const int64_t row = good * b.K + k, cls = b.classes[row];
          const float* map = b.maps.data<float>() + row * H * W;
          Record::Target t;
          t.cls = cls;
          t.logit = z[cls];
          t.probability = std::exp(double(z[cls]) - zmax) / sum;
          t.map = map_name(r.image, method_, cls, ".npy");
          const fs::path npy = fs::path(o_.out) / t.map;
          fs::create_directories(npy.parent_path());
          save_npy(npy.string(), map, {H, W});
          if (o_.overlays)
            save_png((fs::path(o_.out) / map_name(r.image, method_, cls, ".png")).string(),
                     overlay(d.seen, map, o_.colormap));
          r.targets.push_back(std::move(t));
        }
        ++good;
      }
      // The maps first, then the record: a record on disk means its maps are complete.
      const std::string line = r.json() + "\n";
      GB_CHECK(std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
               "cannot write the results of ", o_.out);
      ++written_;
      if (o_.on_written) o_.on_written(written_);
    }
    busy_ += seconds_since(t0);
    progress(false);
  }

  void progress(bool final) {
    if (!o_.progress) return;
    const double t = seconds_since(start_);
    if (!final && t - last_progress_ < 0.5) return;
    last_progress_ = t;
    const std::string who = o_.ranks > 1 ? "rank " + std::to_string(o_.rank) + ": " : "";
    std::fprintf(stderr, "%s%s%lld / %lld images (%lld already done), %.2f images/s%s", o_.ranks > 1 ? "" : "\r",
                 who.c_str(), static_cast<long long>(skipped_ + written_), static_cast<long long>(shard_),
                 static_cast<long long>(skipped_), t > 0 ? (written_ - failed_) / t : 0.0,
                 final || o_.ranks > 1 ? "\n" : "");
  }

  int64_t written() const { return written_; }
  int64_t failed() const { return failed_; }
  double busy() const { return busy_; }

 private:
  const Options& o_;
  std::string method_;
  int64_t shard_, skipped_, written_ = 0, failed_ = 0;
  std::FILE* file_ = nullptr;
  Clock::time_point start_;
  double busy_ = 0, last_progress_ = -1;
};

}  // namespace

RunStats run(std::shared_ptr<const Model> model, const Dataset& dataset, const Options& o) {
  GB_CHECK(o.batch >= 1, "batch must be at least 1");
  RunStats stats;
  fs::create_directories(o.out);
  const std::map<std::string, Record> done = read_results(o.out);
  const std::vector<Item> mine = shard(dataset.items, o.rank, o.ranks);
  std::vector<Item> todo;
  for (const Item& it : mine) {
    auto r = done.find(it.file);
    if (r != done.end() && r->second.error.empty()) {
      GB_CHECK(r->second.method == o.method, o.out, " holds ", it.file, " explained by ", r->second.method,
               ", not ", o.method, ": give another output folder");
      ++stats.skipped;
    } else {
      todo.push_back(it);
    }
  }
  if (o.target_label)
    for (const Item& it : todo) GB_CHECK(it.label >= 0, it.file, " has no label to explain (dataset.json \"label\")");
  stats.shard = int64_t(mine.size());

  explain::NamedExplainer explainer(model, o.method, o.session, o.layer);
  const auto start = Clock::now();
  Writer writer(o, o.method, stats.shard, stats.skipped);
  BoundedQueue<Batch> to_writer(2);
  std::string writer_error;  // read by this thread only after writer_failed, or after the join
  std::atomic<bool> writer_failed{false};
  std::thread writer_thread([&] {
    Batch b;
    while (to_writer.pop(b)) {
      if (writer_failed) continue;  // drain, so that the explainer never blocks
      try {
        writer.write(b);
      } catch (const std::exception& e) {
        writer_error = e.what();
        writer_failed = true;
      }
    }
  });
  double compute_busy = 0, decode_busy = 0;
  int decode_threads = 1;
  try {
    DecodeStage decoder(todo, o, size_t(o.queue_batches) * o.batch);
    decode_threads = decoder.threads();
    // One batch ahead on the host: batch i's explanation is queued, then batch i + 1 is gathered and its input
    // tensor filled (host work that a device overlaps with its work on batch i), then batch i's maps are read
    // back (waiting for the device) and handed to the writer. On the CPU the explanation runs in the call.
    struct Step {
      Batch b;
      Tensor input;
      explain::Target target;
      int64_t good = 0;
    };
    auto gather = [&](Step& s) {  // false: the decoder is done
      Decoded d;
      while (s.good < o.batch && decoder.pop(d)) {
        s.good += d.error.empty();
        s.b.images.push_back(std::move(d));
      }
      if (s.b.images.empty()) return false;
      const auto t0 = Clock::now();
      s.target = o.target;
      if (s.good > 0) {
        const int side = o.preprocess.crop;
        const size_t per = size_t(3) * side * side;
        s.input = Tensor::empty({s.good, 3, side, side});
        int64_t g = 0;
        for (Decoded& x : s.b.images) {
          if (!x.error.empty()) continue;
          std::copy(x.pixels.begin(), x.pixels.end(), s.input.data<float>() + g++ * per);
          x.pixels = {};  // the writer needs only the picture
          if (o.target_label) s.target.classes.push_back(x.item->label);
        }
      }
      compute_busy += seconds_since(t0);
      return true;
    };
    Step current;
    for (bool more = gather(current); more;) {
      auto t0 = Clock::now();
      explain::NamedExplanation e;
      if (current.good > 0) e = explainer.explain(current.input, current.target);
      compute_busy += seconds_since(t0);
      Step next;
      more = gather(next);
      t0 = Clock::now();
      Batch& b = current.b;
      if (current.good > 0) {
        b.maps = e.maps.to(Device::cpu());
        b.logits = e.targets.logits.to(Device::cpu());
        b.classes = e.targets.class_list();
        b.K = int64_t(b.classes.size()) / current.good;
      }
      compute_busy += seconds_since(t0);
      to_writer.push(std::move(b));
      if (writer_failed) break;
      current = std::move(next);
    }
    decode_busy = decoder.busy();
  } catch (...) {
    to_writer.close();
    writer_thread.join();
    throw;
  }
  to_writer.close();
  writer_thread.join();
  GB_CHECK(writer_error.empty(), writer_error);
  stats.wall_s = seconds_since(start);
  writer.progress(true);
  stats.computed = writer.written() - writer.failed();
  stats.failed = writer.failed();
  stats.decode = {decode_busy, decode_threads};
  stats.compute = {compute_busy, 1};
  stats.write = {writer.busy(), 1};
  return stats;
}

std::string write_summary(const std::string& out_dir, const Dataset& dataset, const std::string& method,
                          const std::vector<RunStats>& ranks) {
  const auto records = read_results(out_dir);
  nlohmann::ordered_json s;
  int64_t images = 0, errors = 0, labelled = 0, agree = 0, missing = 0;
  double probability = 0;
  std::map<int64_t, int64_t> per_class;
  for (const Item& it : dataset.items) {
    auto r = records.find(it.file);
    if (r == records.end()) {
      ++missing;
      continue;
    }
    if (!r->second.error.empty() || r->second.targets.empty()) {
      ++errors;
      continue;
    }
    ++images;
    const auto& t = r->second.targets.front();
    ++per_class[t.cls];
    probability += t.probability;
    if (it.label >= 0) {
      ++labelled;
      agree += t.cls == it.label;
    }
  }
  s["dataset"] = dataset.root;
  s["method"] = method;
  s["images"] = images;
  s["errors"] = errors;
  s["missing"] = missing;
  s["mean_probability"] = images ? probability / images : 0.0;
  nlohmann::ordered_json pc = nlohmann::ordered_json::object();
  for (const auto& [c, n] : per_class) pc[std::to_string(c)] = n;
  s["per_class"] = pc;  // the first target's class
  if (labelled) {
    s["labelled"] = labelled;
    s["label_agreement"] = double(agree) / labelled;
  }
  nlohmann::ordered_json rs = nlohmann::ordered_json::array();
  int64_t computed = 0;
  double wall = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    const RunStats& x = ranks[r];
    computed += x.computed;
    wall = std::max(wall, x.wall_s);
    rs.push_back({{"rank", r}, {"shard", x.shard}, {"skipped", x.skipped}, {"computed", x.computed},
                  {"failed", x.failed}, {"seconds", x.wall_s}, {"images_per_s", x.images_per_s()},
                  {"decode_utilization", x.decode.utilization(x.wall_s)},
                  {"compute_utilization", x.compute.utilization(x.wall_s)},
                  {"write_utilization", x.write.utilization(x.wall_s)}});
  }
  s["ranks"] = rs;
  s["computed"] = computed;
  s["seconds"] = wall;
  s["images_per_s"] = wall > 0 ? computed / wall : 0.0;
  const std::string text = s.dump(2) + "\n";
  const fs::path path = fs::path(out_dir) / "summary.json";
  std::ofstream f(path);
  GB_CHECK(f << text, "cannot write ", path.string());
  return text;
}

}  // namespace glassbox::tools::dataset
