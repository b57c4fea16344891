// glassbox bench MODEL.onnx --dataset DIR: end-to-end images/s of the dataset runner (tools/dataset) against the
// engine's own throughput on in-memory tensors, with the runner's stage utilizations (docs/benchmarks.md).
//
// What is timed, per round, the three in turn (the order rotated round by round, the machine's drift shared):
//   (A) dataset::run over the whole dataset — decode and preprocess on --decode-threads, explain with --explain,
//       write the maps and records — into a fresh temporary output folder (removed afterwards; progress line off):
//       RunStats::wall_s, from the first decode to the last record. The runner builds its explainer before the
//       clock starts; its session's first plan for each batch shape falls inside, as in any real run.
//   (B) forward passes on in-memory tensors: as many images as (A) explained, in batches of --batch (the last one
//       the remainder), random input already on the device, one wait at the end.
//   (C) the same explainer (NamedExplainer with --explain) on those tensors, one wait at the end (maps stay on the
//       device).
// B and C run on warm sessions: one untimed round of A, B and C precedes the timed ones. The ratios are medians of
// per-round ratios: dataset / forward (what the method and the pipeline cost together) and dataset / in-memory
// explain (what the pipeline alone costs).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explain/named.h"
#include "tools/dataset/dataset.h"
#include "tools/glassbox/args.h"
#include "tools/glassbox/bench_util.h"
#include "tools/glassbox/cli_common.h"

namespace fs = std::filesystem;

namespace glassbox::tools {

int cmd_bench_dataset(const Args& a) {
  GB_CHECK(a.positional.size() == 1, "bench --dataset takes one MODEL.onnx");
  const std::string dir = a.get("dataset");
  auto model = Model::load(a.positional[0]);
  const dataset::Dataset data = dataset::Dataset::open(dir);
  GB_CHECK(!data.items.empty(), "bench --dataset ", dir, ": no images (.png, .jpg, .jpeg, .bmp) in it");

  dataset::Options o;
  o.model_file = a.positional[0];
  const std::vector<std::string> methods = a.list("explain", "gradcam");
  GB_CHECK(methods.size() == 1, "bench --dataset times one --explain method at a time, not ", a.get("explain"));
  o.method = methods[0];
  o.layer = a.get("layer");
  o.target = target_from(a);
  o.session = session_options(a);
  o.session.profile = false;
  o.preprocess = preprocess_for(*model, a);
  o.batch = int(a.integer("batch", 8, 1, 4096));
  o.decode_threads = int(a.integer("decode-threads", o.decode_threads, 1, 256));
  o.progress = false;
  const long rounds = long(a.integer("rounds", a.integer("iters", 3, 1, 1 << 20), 1, 1 << 20));
  const Device device = o.session.device;
  const std::string device_name = device.is_cpu() ? device.str() : cuda_device_info(device.index).name;

  // (A): a fresh output folder per run (an existing one would be resumed, i.e. skipped).
  const fs::path out_root = fs::temp_directory_path() / ("glassbox-bench-dataset-" + std::to_string(::getpid()));
  std::vector<double> a_ips, decode_util, compute_util, write_util;
  int decode_threads = o.decode_threads;
  int64_t images = 0;  // what (A) explained: the images that decode
  auto run_dataset = [&] {
    dataset::Options run = o;
    run.out = out_root.string();
    dataset::RunStats s;
    try {
      s = dataset::run(model, data, run);
    } catch (...) {
      fs::remove_all(out_root);
      throw;
    }
    fs::remove_all(out_root);
    GB_CHECK(s.computed > 0, "bench --dataset ", dir, ": no image decodes");
    images = s.computed;
    decode_threads = s.decode.threads;
    return s;
  };

  run_dataset();  // untimed, as the first B and C below: plans, memory, caches; and `images` for B and C

  // (B) and (C): in-memory batches of `batch` and the remainder, already on the device.
  const int64_t n_full = images / o.batch, n_rest = images % o.batch;
  const Tensor full = random_tensor(input_shape_at(*model, o.batch), 12345).to(device);
  const Tensor rest = random_tensor(input_shape_at(*model, long(std::max<int64_t>(1, n_rest))), 54321).to(device);
  Session forward(model, o.session);
  explain::NamedExplainer explainer(model, o.method, o.session, o.layer);
  auto time_in_memory = [&](const std::function<void(const Tensor&)>& once, Session& session) {
    const double t0 = now_ms();
    for (int64_t i = 0; i < n_full; ++i) once(full);
    if (n_rest) once(rest);
    session.synchronize();
    return 1000.0 * double(images) / (now_ms() - t0);
  };
  auto time_forward = [&] { return time_in_memory([&](const Tensor& x) { forward.run(x); }, forward); };
  auto time_explain = [&] {
    return time_in_memory([&](const Tensor& x) { explainer.explain(x, o.target); }, explainer.session());
  };

  time_forward(), time_explain();
  std::vector<double> b_ips, c_ips, ratio_forward, ratio_explain;
  for (long r = 0; r < rounds; ++r) {
    double dataset_rate = 0, forward_rate = 0, explain_rate = 0;  // images/s of A, B, C
    for (int k = 0; k < 3; ++k) switch ((k + r) % 3) {
        case 0: {
          const dataset::RunStats s = run_dataset();
          dataset_rate = s.images_per_s();
          decode_util.push_back(s.decode.utilization(s.wall_s));
          compute_util.push_back(s.compute.utilization(s.wall_s));
          write_util.push_back(s.write.utilization(s.wall_s));
          break;
        }
        case 1: forward_rate = time_forward(); break;
        case 2: explain_rate = time_explain(); break;
      }
    a_ips.push_back(dataset_rate), b_ips.push_back(forward_rate), c_ips.push_back(explain_rate);
    ratio_forward.push_back(dataset_rate / forward_rate), ratio_explain.push_back(dataset_rate / explain_rate);
  }

  const std::string label = model_label(a.positional[0]);
  std::printf("\n| model | device | method | batch | images | dataset images/s | in-memory forward images/s | "
              "in-memory explain images/s | dataset / forward | dataset / in-memory explain | decode utilization "
              "(threads) | compute utilization | write utilization |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %s | %s | %d | %lld | %.2f | %.2f | %.2f | %.3f | %.3f | %.0f%% (%d) | %.0f%% | %.0f%% |\n",
              label.c_str(), device_name.c_str(), o.method.c_str(), o.batch, static_cast<long long>(images),
              median(a_ips), median(b_ips), median(c_ips), median(ratio_forward), median(ratio_explain),
              100 * median(decode_util), decode_threads, 100 * median(compute_util), 100 * median(write_util));
  std::printf("(%ld rounds; ratios: medians of per-round ratios; utilizations: busy time / (threads x wall), "
              "medians)\nper round, images/s dataset / forward / explain:", rounds);
  for (long r = 0; r < rounds; ++r) std::printf(" %.2f/%.2f/%.2f", a_ips[r], b_ips[r], c_ips[r]);
  std::printf("\n");
  std::fflush(stdout);
  if (!a.get("json").empty()) {
    std::ofstream f(a.get("json"));
    GB_CHECK(f, "cannot write ", a.get("json"));
    f << "[{\"model\": \"" << json_escape(label) << "\", \"device\": \"" << json_escape(device_name)
      << "\", \"method\": \"" << json_escape(o.method) << "\", \"batch\": " << o.batch << ", \"images\": " << images
      << ", \"rounds\": " << rounds << ", \"dataset_images_per_s\": " << json_number(median(a_ips))
      << ", \"forward_images_per_s\": " << json_number(median(b_ips))
      << ", \"explain_images_per_s\": " << json_number(median(c_ips))
      << ", \"dataset_over_forward\": " << json_number(median(ratio_forward))
      << ", \"dataset_over_explain\": " << json_number(median(ratio_explain))
      << ", \"decode_threads\": " << decode_threads << ", \"decode_utilization\": " << json_number(median(decode_util))
      << ", \"compute_utilization\": " << json_number(median(compute_util))
      << ", \"write_utilization\": " << json_number(median(write_util)) << "}]\n";
  }
  return 0;
}

}  // namespace glassbox::tools
