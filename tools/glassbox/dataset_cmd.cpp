// glassbox explain MODEL.onnx --dataset DIR: a thin layer over tools/dataset (the pipeline, resume, sharding) and
// its ranks (MPI under mpirun). docs/dataset.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tools/dataset/comm.h"
#include "tools/dataset/dataset.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/overlay.h"

namespace glassbox::tools {

int cmd_explain_dataset(const Args& a) {
  dataset::Comm comm(nullptr, nullptr);
  try {
    // A glassbox without MPI started by mpirun would run the whole dataset in every process, into the same files.
    GB_CHECK(comm.mpi() || dataset::Comm::launcher_size() == 1, "started by mpirun with ",
             dataset::Comm::launcher_size(), " ranks, but this glassbox is built without MPI (GLASSBOX_MPI=OFF)");
    GB_CHECK(a.positional.size() == 1, "explain --dataset takes MODEL.onnx and no image arguments");
    dataset::Options o;
    o.rank = comm.rank();
    o.ranks = comm.size();
    o.out = a.get("out", "explanations");
    o.model_file = a.positional[0];
    const std::vector<std::string> methods = a.list("method", "gradcam");
    GB_CHECK(methods.size() == 1, "explain --dataset runs one --method at a time, not ", a.get("method"));
    o.method = methods[0];
    o.layer = a.get("layer");
    o.target = target_or_label(a, o.target_label);
    o.session = session_options(a);
    // Ranks on one node share its cores (unless --threads says otherwise) and take its GPUs in turn.
    if (a.get("threads").empty() && comm.local_size() > 1)
      o.session.threads = std::max(1, int(std::thread::hardware_concurrency()) / comm.local_size());
    if (o.session.device.kind == DeviceKind::cuda && a.get("device").find(':') == std::string::npos) {
      const int gpus = cuda_device_count();
      GB_CHECK(gpus > 0, "--device cuda: no CUDA device");
      o.session.device = Device::cuda(comm.local_rank() % gpus);
    }
    o.batch = int(a.integer("batch", 8, 1, 4096));
    o.decode_threads = int(a.integer("decode-threads", 2, 1, 256));
    o.queue_batches = int(a.integer("queue", 4, 1, 1024));
    o.max_pixels = max_pixels_option(a);
    o.overlays = a.flag("overlays");
    o.colormap = a.get("colormap", "jet");
    check_colormap(o.colormap);
    o.progress = !a.flag("quiet");
    const long stop_after = long(a.integer("stop-after", 0, 0, INT32_MAX));  // hidden, for the resume test: exit as if killed
    if (stop_after > 0)
      o.on_written = [stop_after](int64_t n) {
        if (n < stop_after) return;
        std::fprintf(stderr, "\nstopping after %ld images (--stop-after)\n", stop_after);
        std::_Exit(3);
      };

    auto model = Model::load(a.positional[0]);
    o.preprocess = preprocess_for(*model, a);
    const dataset::Dataset data = dataset::Dataset::open(a.get("dataset"), o.out);
    int64_t torn = 0;
    const size_t already = dataset::read_results(o.out, &torn).size();
    if (comm.rank() == 0)
      std::printf("dataset %s: %zu images%s; %d rank%s; method %s; output %s\n", data.root.c_str(),
                  data.items.size(), data.described ? " (dataset.json)" : "", comm.size(), comm.size() > 1 ? "s" : "",
                  o.method.c_str(), o.out.c_str());
    if (comm.rank() == 0 && (already || torn))
      std::printf("resuming: %zu records in %s, %lld torn lines ignored\n", already, o.out.c_str(),
                  static_cast<long long>(torn));
    std::fflush(stdout);

    const dataset::RunStats s = dataset::run(model, data, o);
    if (s.incomplete)
      std::printf("rank %d: %lld recorded images had missing or incomplete outputs: computed again\n", comm.rank(),
                  static_cast<long long>(s.incomplete));
    std::printf("rank %d: skipped %lld already done; computed %lld images (%lld failed) of %lld in %.2f s: "
                "%.2f images/s; utilization: decode %.0f%% (%d threads), compute %.0f%%, write %.0f%%\n",
                comm.rank(), static_cast<long long>(s.skipped), static_cast<long long>(s.computed),
                static_cast<long long>(s.failed), static_cast<long long>(s.shard), s.wall_s, s.images_per_s(),
                100 * s.decode.utilization(s.wall_s), s.decode.threads, 100 * s.compute.utilization(s.wall_s),
                100 * s.write.utilization(s.wall_s));
    std::fflush(stdout);

    // Rank 0 gathers every rank's statistics (after every rank has flushed and closed its results) and writes the
    // summary from all the results files.
    const std::vector<double> all = comm.gather({double(s.shard), double(s.skipped), double(s.computed),
                                                 double(s.failed), s.wall_s, s.decode.busy_s,
                                                 double(s.decode.threads), s.compute.busy_s, s.write.busy_s});
    if (comm.rank() == 0) {
      std::vector<dataset::RunStats> ranks;
      for (size_t r = 0; r + 9 <= all.size(); r += 9) {
        dataset::RunStats x;
        x.shard = int64_t(all[r]), x.skipped = int64_t(all[r + 1]), x.computed = int64_t(all[r + 2]);
        x.failed = int64_t(all[r + 3]), x.wall_s = all[r + 4];
        x.decode = {all[r + 5], int(all[r + 6])}, x.compute = {all[r + 7], 1}, x.write = {all[r + 8], 1};
        ranks.push_back(x);
      }
      const std::string summary = dataset::write_summary(o.out, data, o.method, ranks);
      std::printf("wrote %s/summary.json\n%s", o.out.c_str(), summary.c_str());
    }
    int failed = int(s.failed);
    std::fflush(stdout);
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glassbox: %s\n", e.what());
    if (comm.size() > 1) comm.abort(1);
    return 1;
  }
}

}  // namespace glassbox::tools
