// Explains every image of a folder with a pool of worker threads: one Model loaded once and shared (it is
// immutable), one explainer — with its own Session — per worker, workers taking batches of images from a shared
// queue; writes one heat-map overlay PNG per image and target, and prints the throughput.
//
//   explain_folder MODEL.onnx FOLDER [--threads T] [--threads-per-session S] [--method gradcam] [--batch B]
//                  [--top K] [--layer NAME] [--out DIR] [--colormap jet] [--repeat R]
//
// T workers, each session with S CPU threads: S defaults to cores / T, so that T x S threads never oversubscribe
// the cores (each session's kernels split their work over its own S threads; more threads than cores only adds
// switches). --repeat queues every image R times (for timing on a small folder). Built in-tree and, by the package
// test, against the installed library: it includes only the public headers.
#include <glassbox.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace glassbox;

namespace {

struct Options {
  std::string model, folder, method = "gradcam", layer, out = "explanations", colormap = "jet";
  int threads = 1, threads_per_session = 0, batch = 4, top = 1, repeat = 1;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "explain_folder: %s\n"
               "usage: explain_folder MODEL.onnx FOLDER [--threads T] [--threads-per-session S] [--method NAME]\n"
               "                      [--batch B] [--top K] [--layer NAME] [--out DIR] [--colormap NAME] "
               "[--repeat R]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional.push_back(a);
      continue;
    }
    if (i + 1 >= argc) usage(a + " needs a value");
    const std::string v = argv[++i];
    auto number = [&](int min) {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (*end || n < min) usage(a + " takes a whole number >= " + std::to_string(min) + ", not '" + v + "'");
      return int(n);
    };
    if (a == "--threads") o.threads = number(1);
    else if (a == "--threads-per-session") o.threads_per_session = number(1);
    else if (a == "--batch") o.batch = number(1);
    else if (a == "--top") o.top = number(1);
    else if (a == "--repeat") o.repeat = number(1);
    else if (a == "--method") o.method = v;
    else if (a == "--layer") o.layer = v;
    else if (a == "--out") o.out = v;
    else if (a == "--colormap") o.colormap = v;
    else usage("unknown option " + a);
  }
  if (positional.size() != 2) usage("give MODEL.onnx and FOLDER");
  o.model = positional[0];
  o.folder = positional[1];
  return o;
}

std::vector<std::string> images_in(const std::string& folder) {
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (entry.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp"))
      paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The shared work queue: the next batch of paths, under a lock.
class Queue {
 public:
  explicit Queue(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  std::vector<std::string> take(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t end = std::min(paths_.size(), next_ + n);
    std::vector<std::string> batch(paths_.begin() + next_, paths_.begin() + end);
    next_ = end;
    return batch;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> paths_;
  size_t next_ = 0;
};

struct WorkerStats {
  long images = 0, maps = 0, failures = 0;
  std::string error;  // what stopped the worker, if anything did
};

// One worker: with its own explainer (and session), batches from the queue until it is empty.
void work(explain::NamedExplainer& explainer, const Options& o, const tools::Preprocess& pre, Queue& queue,
          WorkerStats& stats) {
  try {
    explain::Target target;
    target.top = o.top;
    for (auto paths = queue.take(o.batch); !paths.empty(); paths = queue.take(o.batch)) {
      std::vector<tools::Image> images;
      std::vector<std::string> names;
      for (const auto& path : paths) {
        try {
          images.push_back(tools::load_image(path));
          names.push_back(fs::path(path).stem().string());
        } catch (const Error& e) {
          std::fprintf(stderr, "explain_folder: %s\n", e.what());
          ++stats.failures;
        }
      }
      if (images.empty()) continue;
      const auto e = explainer.explain(tools::make_batch(images, pre), target);
      const Tensor maps = e.maps.to(Device::cpu());  // [N * K, H, W]
      const std::vector<int64_t> classes = e.targets.class_list();
      const int64_t K = int64_t(classes.size() / images.size()), HW = maps.dim(1) * maps.dim(2);
      for (size_t i = 0; i < images.size(); ++i) {
        const tools::Image seen = tools::resize_and_crop(images[i], pre);  // what the network saw
        for (int64_t k = 0; k < K; ++k) {
          const int64_t row = int64_t(i) * K + k;
          const std::string file = names[i] + "_" + o.method + "_" + std::to_string(classes[row]) + ".png";
          tools::save_png((fs::path(o.out) / file).string(),
                          tools::overlay(seen, maps.data<float>() + row * HW, o.colormap));
          ++stats.maps;
        }
        ++stats.images;
      }
    }
  } catch (const std::exception& e) {
    stats.error = e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    const int session_threads = o.threads_per_session ? o.threads_per_session : std::max(1, cores / o.threads);
    if (o.threads * session_threads > cores)
      std::fprintf(stderr, "explain_folder: %d workers x %d threads each exceed the %d cores\n", o.threads,
                   session_threads, cores);
    tools::check_colormap(o.colormap);
    auto model = Model::load(o.model);  // loaded once, shared by every worker
    // The input size the model declares and its "glassbox.preprocess" metadata, as `glassbox explain` takes them.
    const tools::Preprocess pre = tools::Preprocess::for_model(model->input_shape(),
                                                               model->metadata("glassbox.preprocess"));
    std::vector<std::string> paths;
    const std::vector<std::string> found = images_in(o.folder);
    for (int r = 0; r < o.repeat; ++r) paths.insert(paths.end(), found.begin(), found.end());
    if (paths.empty()) usage("no .png, .jpg, .jpeg or .bmp files in " + o.folder);
    // One explainer per worker, made here so that a wrong method or layer stops the program before any work. A
    // session is not tied to the thread that made it, only never used by two threads at once.
    std::vector<std::unique_ptr<explain::NamedExplainer>> explainers;
    SessionOptions so;
    so.threads = session_threads;
    for (int t = 0; t < o.threads; ++t)
      explainers.push_back(std::make_unique<explain::NamedExplainer>(model, o.method, so, o.layer));
    fs::create_directories(o.out);

    Queue queue(paths);
    std::vector<WorkerStats> stats(o.threads);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < o.threads; ++t)
      workers.emplace_back(work, std::ref(*explainers[t]), std::cref(o), std::cref(pre), std::ref(queue),
                           std::ref(stats[t]));
    for (auto& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    WorkerStats total;
    for (const auto& s : stats) {
      total.images += s.images, total.maps += s.maps, total.failures += s.failures;
      if (!s.error.empty()) std::fprintf(stderr, "explain_folder: %s\n", (total.error = s.error).c_str());
    }
    std::printf("%s: %ld images, %ld maps (%s) in %s with %d workers x %d threads: %.3f s, %.2f images/s\n",
                o.folder.c_str(), total.images, total.maps, o.method.c_str(), o.out.c_str(), o.threads,
                session_threads, seconds, total.images / seconds);
    return total.error.empty() && total.failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "explain_folder: %s\n", e.what());
    return 1;
  }
}
