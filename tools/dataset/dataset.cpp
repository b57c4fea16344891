#include "tools/dataset/dataset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

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

// A dataset.json "file", checked and normalized: no control character (a NUL would truncate the name the OS
// sees), relative, and no ".." component (lexically: files resolve inside the dataset's folder only).
std::string inside_file(const std::string& file, const std::string& where) {
  const std::string shown = json(file).dump(-1, ' ', true, json::error_handler_t::replace);  // escaped, ASCII
  for (unsigned char c : file)
    GB_CHECK(c >= 0x20 && c != 0x7f, where, ": \"file\" ", shown, " holds a control character");
  const fs::path p(file);
  GB_CHECK(p.is_relative() && !p.has_root_name() && !p.has_root_directory(), where, ": \"file\" ", shown,
           " is an absolute path: files are relative to the dataset's folder");
  for (const fs::path& part : p) GB_CHECK(part != "..", where, ": \"file\" ", shown, " has a \"..\" component");
  return p.lexically_normal().generic_string();
}

// Whether two paths name the same folder: the same file where both exist, else the same weakly canonical path
// (so "out", "./out/", an absolute spelling and a symlink to it are all one folder).
bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  auto norm = [](const fs::path& p) {
    fs::path c = fs::weakly_canonical(p).lexically_normal();
    return c.has_filename() || c == c.root_path() ? c : c.parent_path();  // "x/" -> "x"
  };
  return norm(a) == norm(b);
}

// The files a glassbox run writes in its output folder, by which a dataset listing recognizes one.
bool is_results_file(const std::string& name) {
  return name.rfind("results.rank", 0) == 0 && name.size() > 18 && name.compare(name.size() - 6, 6, ".jsonl") == 0;
}
bool is_run_file(const fs::path& p) {
  if (p.filename() != "run.json") return false;
  std::ifstream f(p);
  char head[64] = {};
  f.read(head, sizeof head - 1);
  return std::string(head).find("\"glassbox_run\"") != std::string::npos;
}
// Writes `final` through a temporary file in its folder, renamed over it only once `complete` accepts it (a
// kill leaves the old file or none, never a torn one; a short write, e.g. a full disk, is an error).
void write_atomically(const fs::path& final, const std::function<void(const std::string&)>& write,
                      bool (*complete)(const std::string&)) {
  const std::string name = "." + final.filename().string() + "." + std::to_string(::getpid()) + ".tmp";
  const fs::path tmp = final.parent_path() / name;
  try {
    write(tmp.string());
    GB_CHECK(!complete || complete(tmp.string()), "cannot write ", final.string(), " (short write: disk full?)");
    fs::rename(tmp, final);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_text_atomically(const fs::path& final, const std::string& text) {
  write_atomically(final, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    f.close();
    GB_CHECK(f, "cannot write ", final.string());
  }, nullptr);
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
    item.file = inside_file(e["file"].get<std::string>(), where);
    GB_CHECK(seen.emplace(item.file, i).second, where, ": ", item.file, " is listed twice");
    item.path = (fs::path(root) / item.file).string();
    if (e.contains("label")) {
      const json& l = e["label"];
      GB_CHECK(l.is_number_integer(), where, ": \"label\" must be an integer, got ", l.dump());
      // A negative label, or one beyond int64 (nlohmann keeps it unsigned), is no class: that image's error when
      // its label is explained (run), not the whole dataset's.
      if (l.is_number_unsigned() ? l.get<uint64_t>() <= uint64_t(INT64_MAX) : l.get<int64_t>() >= 0)
        item.label = l.get<int64_t>();
      else
        item.bad_label = l.dump();
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
  GB_CHECK(exclude.empty() || !same_folder(p, exclude), "dataset ", path, ": the output folder ", exclude,
           " is the dataset's folder itself: give another --out");
  // One walk: images, and the folders that are glassbox outputs (by their results or run.json), whose files are
  // dropped afterwards; the output folder itself is not entered.
  std::vector<std::string> files;
  std::set<std::string> outputs;  // relative to p, '/'-separated; "" is p itself
  for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory()) {
      if (!exclude.empty() && same_folder(it->path(), exclude)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const fs::path rel = it->path().lexically_relative(p);
    if (is_results_file(rel.filename().string()) || is_run_file(it->path()))
      outputs.insert(rel.parent_path().generic_string());
    else if (is_image(it->path()))
      files.push_back(rel.generic_string());
  }
  GB_CHECK(!outputs.count(""), "dataset ", path, " is a glassbox output folder (it holds results.rank*.jsonl or ",
           "run.json): give the images' folder");
  auto in_output = [&](const std::string& file) {
    for (fs::path dir = fs::path(file).parent_path(); !dir.empty(); dir = dir.parent_path())
      if (outputs.count(dir.generic_string())) return true;
    return false;
  };
  files.erase(std::remove_if(files.begin(), files.end(), in_output), files.end());
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
  for (const Target& t : targets) {
    nlohmann::ordered_json x = {{"class", t.cls}, {"logit", t.logit}, {"probability", t.probability}, {"map", t.map}};
    if (!t.overlay.empty()) x["overlay"] = t.overlay;
    j["targets"].push_back(std::move(x));
  }
  // A name that is not UTF-8 (a folder's file name can be any bytes) is written with U+FFFD rather than failing
  // the run; such a record never matches its image, which is then computed again on resume.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
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
          const bool overlay = t.contains("overlay") && t["overlay"].is_string();
          r.targets.push_back({t["class"].get<int64_t>(), t["logit"].get<double>(), t["probability"].get<double>(),
                               t["map"].get<std::string>(), overlay ? t["overlay"].get<std::string>() : ""});
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

bool npy_complete(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char pre[10];
  if (!f.read(pre, 10) || std::memcmp(pre, "\x93NUMPY\x01\x00", 8) != 0) return false;  // version 1.0, save_npy's
  const size_t header_len = size_t(uint8_t(pre[8])) | size_t(uint8_t(pre[9])) << 8;
  std::string header(header_len, '\0');
  if (!f.read(header.data(), std::streamsize(header_len))) return false;
  if (header.find("'descr': '<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    return false;
  // 'shape': (H, W): two positive dimensions, bounded so that the product cannot overflow.
  const size_t open = header.find("'shape': (");
  if (open == std::string::npos) return false;
  long long h = 0, w = 0;
  char close = 0;
  if (std::sscanf(header.c_str() + open + 10, "%lld, %lld%c", &h, &w, &close) != 3 || close != ')' || h <= 0 ||
      w <= 0 || h > (1 << 20) || w > (1 << 20))
    return false;
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  return !ec && size == 10 + header_len + uintmax_t(h) * uintmax_t(w) * 4;
}

bool png_complete(const std::string& path) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
  std::ifstream f(path, std::ios::binary);
  unsigned char head[8], tail[12];
  if (!f.read(reinterpret_cast<char*>(head), 8) || std::memcmp(head, signature, 8) != 0) return false;
  if (!f.seekg(-12, std::ios::end) || !f.read(reinterpret_cast<char*>(tail), 12)) return false;
  return std::memcmp(tail, iend, 12) == 0;
}

bool outputs_complete(const std::string& out_dir, const Record& r, std::string* why) {
  auto fail = [&](const std::string& text) {
    if (why) *why = text;
    return false;
  };
  if (r.targets.empty()) return fail("no targets");
  for (const Record::Target& t : r.targets) {
    // Only the names this runner gives (a record never points outside the folder), and complete files.
    if (t.map != map_name(r.image, r.method, t.cls, ".npy")) return fail("unexpected map name " + t.map);
    if (!npy_complete((fs::path(out_dir) / t.map).string())) return fail(t.map + " is missing or incomplete");
    if (t.overlay.empty()) continue;
    if (t.overlay != map_name(r.image, r.method, t.cls, ".png")) return fail("unexpected overlay name " + t.overlay);
    if (!png_complete((fs::path(out_dir) / t.overlay).string())) return fail(t.overlay + " is missing or incomplete");
  }
  return true;
}

std::string model_identity(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GB_CHECK(f, "cannot read the model file ", path);
  uint64_t hash = 14695981039346656037ull, size = 0;  // FNV-1a, 64 bits
  std::vector<char> chunk(1 << 20);
  while (f) {
    f.read(chunk.data(), std::streamsize(chunk.size()));
    const size_t n = size_t(f.gcount());
    for (size_t i = 0; i < n; ++i) hash = (hash ^ uint8_t(chunk[i])) * 1099511628211ull;
    size += n;
  }
  GB_CHECK(f.eof(), "cannot read the model file ", path);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::to_string(size) + " bytes, fnv1a64 " + hex;
}

OutputLock::OutputLock(const std::string& out_dir, int rank) {
  const std::string path = (fs::path(out_dir) / (".lock.rank" + std::to_string(rank))).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GB_CHECK(fd_ >= 0, "cannot open ", path, ": ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string holder = n > 0 ? std::string(pid, size_t(n)) : "";
    holder.erase(std::remove_if(holder.begin(), holder.end(), [](char c) { return !std::isdigit(uint8_t(c)); }),
                 holder.end());
    GB_CHECK(err != EWOULDBLOCK, out_dir, " is being written by another run (pid ",
             holder.empty() ? "unknown" : holder, "): wait for it to end, or give another --out");
    GB_CHECK(false, "cannot lock ", path, ": ", std::strerror(err));
  }
  // Ours now (a previous holder that was killed left its pid behind: replace it).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    // The pid is only for messages: the lock holds without it.
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

// ---- the pipeline -----------------------------------------------------------------------------------------------

namespace {

struct Decoded {
  const Item* item = nullptr;
  std::vector<float> pixels;  // [3, crop, crop]
  Image seen;                 // what the network sees (overlays only)
  std::string error;
};

// Why an image's dataset label cannot be explained ("" when it can): none, or no class of the model (0 classes:
// the count is unknown, then only the sign is checked).
std::string label_error(const Item& item, int64_t classes) {
  const std::string range = classes > 0 ? " (0.." + std::to_string(classes - 1) + ")" : "";
  if (!item.bad_label.empty()) return "label " + item.bad_label + " is not a class of the model" + range;
  if (item.label < 0) return "no label to explain (dataset.json \"label\")";
  if (classes > 0 && item.label >= classes)
    return "label " + std::to_string(item.label) + " is not a class of the model" + range;
  return "";
}

// Stage 1: decoder threads fill a reorder buffer; the consumer takes images in the shard's order. Decoders never
// run more than `capacity` images ahead of the consumer.
class DecodeStage {
 public:
  // classes: the model's class count (0: unknown), for the range of the labels explained with --class label.
  DecodeStage(const std::vector<Item>& items, const Options& o, size_t capacity, int64_t classes)
      : items_(items), o_(o), capacity_(std::max<size_t>(1, capacity)), classes_(classes) {
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
      // Whatever fails for one image (its label, its decode, its size, its preprocessing, memory for it) is that
      // image's error record; the other images go on.
      if (o_.target_label) d.error = label_error(*d.item, classes_);
      if (d.error.empty()) {
        try {
          const Image image = load_image(d.item->path, o_.max_pixels);
          d.pixels.resize(size_t(3) * side * side);
          preprocess_into(image, o_.preprocess, d.pixels.data());
          if (o_.overlays) d.seen = resize_and_crop(image, o_.preprocess);
        } catch (const std::bad_alloc&) {
          d.pixels = {};
          d.seen = {};
          d.error = "out of memory decoding or preprocessing it";
        } catch (const std::exception& e) {
          d.pixels = {};
          d.error = e.what();
        } catch (...) {
          d.pixels = {};
          d.error = "unknown error decoding it";
        }
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
  const int64_t classes_;
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
    // Each record is one write(2) of its whole line to a file opened O_APPEND (no stdio buffer that could split
    // it), so a kill leaves whole lines and at most one torn last line.
    fd_ = ::open(results.string().c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    GB_CHECK(fd_ >= 0, "cannot append to ", results.string(), ": ", std::strerror(errno));
    if (torn_tail) append("\n");
    start_ = Clock::now();
  }
  ~Writer() {
    if (fd_ >= 0) ::close(fd_);
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
        std::fprintf(stderr, "%sglassbox: %s: %s\n", o_.progress && o_.ranks == 1 ? "\n" : "",
                     json(r.image).dump(-1, ' ', false, json::error_handler_t::replace).c_str(), r.error.c_str());
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
          write_atomically(npy, [&](const std::string& tmp) { save_npy(tmp, map, {H, W}); }, npy_complete);
          if (o_.overlays) {
            t.overlay = map_name(r.image, method_, cls, ".png");
            const Image picture = overlay(d.seen, map, o_.colormap);
            write_atomically(fs::path(o_.out) / t.overlay, [&](const std::string& tmp) { save_png(tmp, picture); },
                             png_complete);
          }
          r.targets.push_back(std::move(t));
        }
        ++good;
      }
      // The maps first, then the record: a record on disk means its maps are complete.
      append(r.json() + "\n");
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
  void append(const std::string& line) {
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      GB_CHECK(n > 0, "cannot write the results of ", o_.out, ": ", std::strerror(errno));
      done += size_t(n);
    }
  }

  const Options& o_;
  std::string method_;
  int64_t shard_, skipped_, written_ = 0, failed_ = 0;
  int fd_ = -1;
  Clock::time_point start_;
  double busy_ = 0, last_progress_ = -1;
};

}  // namespace

namespace {

// How the targets are chosen, as run.json records it.
std::string target_text(const Options& o) {
  if (o.target_label) return "label";
  if (o.target.classes.empty()) return "top " + std::to_string(o.target.top);
  std::string s = "class ";
  for (size_t i = 0; i < o.target.classes.size(); ++i) s += (i ? "," : "") + std::to_string(o.target.classes[i]);
  return s;
}

// The settings that change a run's results, in the order a mismatch is reported. Threads, batch, decode threads,
// queue, progress, --max-pixels (which images fail, retried anyway) and the device are not among them.
const char* const kCompared[] = {"model", "method", "layer", "target", "probability", "preprocess"};

nlohmann::ordered_json run_settings(const Options& o, const std::string& layer) {
  nlohmann::ordered_json j;
  j["glassbox_run"] = 1;  // the format; also how a dataset listing recognizes an output folder
  j["model"] = model_identity(o.model_file);
  j["method"] = o.method;
  j["layer"] = layer;
  j["target"] = target_text(o);
  j["probability"] = o.target.probability;
  j["preprocess"] = o.preprocess.str();
  if (o.overlays) j["overlays"] = o.colormap;  // the colormap of the overlays written, once any are
  j["model_file"] = o.model_file;              // for people: not compared (the same bytes may move)
  return j;
}

// Refuses an output folder written with other settings (naming the first that differs), or one holding records
// without run.json (their settings unknown); rank 0 then writes run.json (this run's settings, plus the overlays'
// colormap of an earlier run that wrote some). Ranks read the results before run.json: rank 0 writes run.json
// before its first record, so records without it are never another rank's new ones. Returns the colormap of the
// folder's overlays ("" none): once a folder has overlays, every image computed into it gets one, so that a
// recomputed image keeps the overlay its record had.
std::string check_run_settings(const Options& o, const nlohmann::ordered_json& now, bool has_records) {
  const fs::path file = fs::path(o.out) / "run.json";
  nlohmann::ordered_json merged = now;
  if (fs::exists(file)) {
    std::ifstream f(file);
    std::stringstream text;
    text << f.rdbuf();
    const auto was = nlohmann::ordered_json::parse(text.str(), nullptr, false);
    GB_CHECK(!was.is_discarded() && was.is_object() && was.value("glassbox_run", 0) == 1, file.string(),
             " is not a glassbox run.json this glassbox reads: give another --out");
    auto shown = [](const nlohmann::ordered_json& j, const char* key) {
      return j.contains(key) ? j[key].dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                             : std::string("(none)");
    };
    auto first_differing = [&]() -> std::string {
      for (const char* key : kCompared)
        if (shown(was, key) != shown(now, key)) return key;
      if (was.contains("overlays") && now.contains("overlays") && was["overlays"] != now["overlays"])
        return "overlays";  // the colormap of the overlays already written
      return "";
    };
    const std::string key = first_differing();
    if (!key.empty()) {
      const bool model = key == "model";
      GB_CHECK(false, o.out, " was written with other settings: ", key, " ", shown(was, key.c_str()),
               model ? " (" + shown(was, "model_file") + ")" : "", " there, ", shown(now, key.c_str()),
               model ? " (" + shown(now, "model_file") + ")" : "", " in this run: give another --out");
    }
    if (was.contains("overlays") && !now.contains("overlays")) merged["overlays"] = was["overlays"];
  } else {
    GB_CHECK(!has_records, o.out, " holds results but no run.json (an older glassbox, or it was removed): the ",
             "settings they were made with are unknown: give another --out");
  }
  if (o.rank == 0) write_text_atomically(file, merged.dump(2) + "\n");
  return merged.contains("overlays") && merged["overlays"].is_string() ? merged["overlays"].get<std::string>() : "";
}

// The model's class count from its first output's declared shape (0 when it is not known before running).
int64_t class_count(const Model& model) {
  try {
    const auto outputs = model.output_names();
    if (outputs.empty()) return 0;
    for (const LayerInfo& l : model.layers(1))
      if (l.name == outputs[0] && !l.shape.empty() && l.shape.back() > 0) return l.shape.back();
  } catch (const std::exception&) {
  }
  return 0;
}

}  // namespace

RunStats run(std::shared_ptr<const Model> model, const Dataset& dataset, const Options& options) {
  Options o = options;  // with the folder's overlays (check_run_settings)
  GB_CHECK(o.batch >= 1, "batch must be at least 1");
  GB_CHECK(!o.model_file.empty(), "a dataset run needs the model's file (Options::model_file) for run.json");
  RunStats stats;
  fs::create_directories(o.out);
  const OutputLock lock(o.out, o.rank);  // before anything is read: a second run into o.out stops here

  explain::NamedExplainer explainer(model, o.method, o.session, o.layer);
  const int64_t classes = class_count(*model);
  for (int64_t c : o.target.classes)
    GB_CHECK(c >= 0 && (classes == 0 || c < classes), "--class ", c, " is not a class of the model (0..",
             classes - 1, ")");
  GB_CHECK(!o.target_label || dataset.described, "--class label explains each image's label, but ", dataset.root,
           " has no dataset.json");

  const std::map<std::string, Record> done = read_results(o.out);
  const std::string overlays = check_run_settings(o, run_settings(o, explainer.layer()), !done.empty());
  o.overlays = !overlays.empty();
  if (o.overlays) o.colormap = overlays;
  const std::vector<Item> mine = shard(dataset.items, o.rank, o.ranks);
  std::vector<Item> todo;
  for (const Item& it : mine) {
    auto r = done.find(it.file);
    if (r != done.end() && r->second.error.empty()) {
      GB_CHECK(r->second.method == o.method, o.out, " holds ", it.file, " explained by ", r->second.method,
               ", not ", o.method, ": give another output folder");
      // Done only if what the record names is there and complete (and has the overlays this run asks for).
      bool complete = outputs_complete(o.out, r->second);
      for (const Record::Target& t : r->second.targets) complete = complete && (!o.overlays || !t.overlay.empty());
      if (complete) {
        ++stats.skipped;
        continue;
      }
      ++stats.incomplete;
    }
    todo.push_back(it);
  }
  stats.shard = int64_t(mine.size());

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
    DecodeStage decoder(todo, o, size_t(o.queue_batches) * o.batch, classes);
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
    if (!r->second.error.empty()) {
      ++errors;
      continue;
    }
    if (!outputs_complete(out_dir, r->second)) {  // a record whose maps were removed or cut is no result
      ++missing;
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
  write_text_atomically(fs::path(out_dir) / "summary.json", text);
  return text;
}

}  // namespace glassbox::tools::dataset
