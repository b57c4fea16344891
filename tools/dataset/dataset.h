// Explaining a whole dataset: the images of a folder (or of a dataset.json with labels and boxes), explained by one
// NamedExplainer in a pipeline — decoding and preprocessing on a thread pool, batching and explaining on the calling
// thread, writing maps and records on a writer thread, bounded queues between them — with results keyed by image
// (maps/<image>.<method>.<class>.npy and one JSON line per image in results.rank<R>.jsonl) so that a stopped run
// resumes without recomputing, and sharded over ranks (image i belongs to rank i % ranks). The CLI
// (`glassbox explain --dataset DIR`, tools/glassbox/dataset_cmd.cpp) is a thin layer over this; docs/dataset.md.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "explain/explain.h"
#include "tools/glassbox/image.h"

namespace glassbox::tools::dataset {

struct Item {
  int64_t index = 0;   // position in the dataset's order (what sharding uses)
  std::string file;    // the key: the path relative to the dataset's folder, '/'-separated
  std::string path;    // the path to open
  int64_t label = -1;  // -1: none (or not a class index: see bad_label)
  std::string bad_label;  // a "label" that is an integer but no class index (negative, beyond int64), as written:
                          // explaining it (--class label) is that image's error, not the dataset's
  std::vector<std::array<double, 4>> boxes;  // [x0, y0, x1, y1] in the image's pixels
};

struct Dataset {
  std::string root;  // the folder the files are relative to
  std::vector<Item> items;
  bool described = false;  // from a dataset.json
  // `path`: a folder holding dataset.json (read), a folder of images (every .png, .jpg, .jpeg and .bmp below it,
  // recursively, sorted by relative path), or a .json file of that format (files relative to its folder). A folder
  // listing never enters `exclude` (the output folder, however spelled: compared as the same file) nor any folder
  // that is a glassbox output (holds results.rank<R>.jsonl or a run's run.json); `exclude` being the dataset's
  // folder itself, or the folder being an output, is an error. Throws glassbox::Error naming the path or entry.
  static Dataset open(const std::string& path, const std::string& exclude = "");
  // The dataset.json text: {"images": [{"file": "a.jpg", "label": 3, "boxes": [[x0, y0, x1, y1], ...]}, ...]} or
  // the bare array; "label", "boxes" (or one "box") optional, other keys ignored, types checked strictly. A "file"
  // holding a control character (NUL included), absolute or with a ".." component is an error naming the entry.
  static Dataset parse_json(const std::string& text, const std::string& root, const std::string& source = "json");
};

// One explained image as written to the results file (one JSON line).
struct Record {
  std::string image;  // Item::file
  int64_t index = 0;
  int64_t label = -1;
  std::string method;
  std::string error;  // a failed decode: retried on resume
  struct Target {
    int64_t cls = 0;
    double logit = 0, probability = 0;  // of that class (softmax over the logits in float64)
    std::string map;                    // relative to the output folder
    std::string overlay;                // the overlay PNG (--overlays), relative to the output folder; "" none
  };
  std::vector<Target> targets;
  std::string json() const;  // one line, no newline
};

// Every complete record of the output folder's results.rank*.jsonl files, by image (a later line wins). A line
// that does not parse — the last one of a killed run — is ignored (counted in `torn`, when given).
std::map<std::string, Record> read_results(const std::string& out_dir, int64_t* torn = nullptr);

// Whether the files a record names are all there and complete: each map the .npy that map_name gives, a float32
// 2-D array whose file size matches its header, and each recorded overlay the PNG it names, ending with its IEND
// chunk. `why` (when given) says what is wrong with the first one that is not.
bool outputs_complete(const std::string& out_dir, const Record& record, std::string* why = nullptr);
bool npy_complete(const std::string& path);  // a float32 2-D .npy as save_npy writes it, of the right size
bool png_complete(const std::string& path);  // the PNG signature first and the IEND chunk last

// The identity of a model file recorded in run.json: its size and the FNV-1a 64-bit hash of its bytes.
std::string model_identity(const std::string& path);

// A run's hold on its output folder: an exclusive flock(2) on OUT/.lock.rank<R> (each rank its own, as each
// writes its own results file), released when this is destroyed or the process ends (a killed run leaves no
// lock behind). The holder's pid is written into the file for the message of a run that finds it taken.
class OutputLock {
 public:
  OutputLock(const std::string& out_dir, int rank);  // throws "OUT is being written by another run (pid P)"
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
};

// The shard of `rank` among `ranks`: items with index % ranks == rank.
std::vector<Item> shard(const std::vector<Item>& items, int rank, int ranks);

struct Options {
  std::string out = "explanations";
  std::string model_file;     // the model's file: its identity (model_identity) goes into run.json; required
  std::string method = "gradcam", layer;
  SessionOptions session;
  explain::Target target;
  bool target_label = false;  // explain each image's dataset label (every image needs one)
  Preprocess preprocess;
  int batch = 8;
  int decode_threads = 2;
  int queue_batches = 4;      // decoded images held ahead of the explainer: queue_batches x batch
  int64_t max_pixels = 64LL << 20;
  bool overlays = false;      // also maps/<image>.<method>.<class>.png over the image the network saw (and
                              // always, in the recorded colormap, into a folder that has overlays: run)
  std::string colormap = "jet";
  int rank = 0, ranks = 1;
  bool progress = true;       // a progress line on stderr
  // Called by the writer after each image's record is flushed, with the number written by this run.
  std::function<void(int64_t written)> on_written;
};

struct StageTime {
  double busy_s = 0;  // summed over the stage's threads
  int threads = 1;
  double utilization(double wall_s) const { return wall_s > 0 ? busy_s / (threads * wall_s) : 0; }
};

struct RunStats {
  int64_t shard = 0;     // images of this rank
  int64_t skipped = 0;   // already done (resume)
  int64_t computed = 0;  // explained by this run
  int64_t failed = 0;    // error records written by this run (decode, size, label): the other images still run
  int64_t incomplete = 0;  // recorded images whose outputs were missing or incomplete (or lacked the asked
                           // overlays): computed again
  double wall_s = 0;     // from the first decode to the last record
  StageTime decode, compute, write;
  double images_per_s() const { return wall_s > 0 ? computed / wall_s : 0; }
};

// Explains this rank's shard of the dataset minus what the output folder already holds; writes as it goes. Holds
// OutputLock for its life. OUT/run.json records the settings that change the results (model identity, method,
// resolved layer, target, --probability, preprocessing, the overlays' colormap); a folder written with other
// settings is refused naming the first that differs (docs/dataset.md, "Results and resume"). Rank 0 writes it
// (atomically) before any record.
RunStats run(std::shared_ptr<const Model> model, const Dataset& dataset, const Options& options);

// summary.json from every record of the output folder and the ranks' statistics (rank 0 writes it): image count,
// errors, per-class counts of the first target, the mean probability of the first target, label agreement where
// labels exist, and images/s per rank and in total. An image counts as missing unless its record's outputs are
// complete (outputs_complete). Written atomically; returns the text written.
std::string write_summary(const std::string& out_dir, const Dataset& dataset, const std::string& method,
                          const std::vector<RunStats>& ranks);

}  // namespace glassbox::tools::dataset
