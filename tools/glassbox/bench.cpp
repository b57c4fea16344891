// glassbox bench: forward latency and throughput on random input, per batch size and convolution variant.
//
// Each (batch, variant) gets its own session with its input already on the device. A round times, for every
// variant in turn, one forward pass waited for (latency) and K back-to-back passes with one wait at the end
// (throughput); the report gives medians over rounds and, for each variant, the median of its per-round ratio to
// the first variant (machines drift: neighbours in time compare better than medians taken minutes apart).
// --per-layer times every convolution step of the first batch size under each variant (synchronized per step)
// and reports achieved TFLOP/s and the fraction of the device's fp32 peak.
#include <algorithm>
#include <functional>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "explain/explain.h"
#include "tools/glassbox/cli_common.h"
#include "explain/ascent.h"
#include "explain/attention.h"
#include "explain/perturbation.h"
#include "explain/pixel.h"
#include "tools/glassbox/args.h"
#include "tools/glassbox/bench_util.h"

namespace glassbox::tools {

namespace {

Tensor random_input(const Model& model, long batch, Device device) {
  return random_tensor(input_shape_at(model, batch), 12345).to(device);
}

// One timed configuration: a session and its resident input.
struct Runner {
  Runner(std::string v, std::unique_ptr<Session> s, Tensor x)
      : variant(std::move(v)), session(std::move(s)), input(std::move(x)) {}
  std::string variant;
  std::unique_ptr<Session> session;
  Tensor input;
  long repeat = 1;  // forwards per throughput sample
  std::vector<double> latency_ms, per_forward_ms;
  // Milliseconds per forward over k back-to-back passes, waited for at the end.
  double time(long k) {
    const double t0 = now_ms();
    for (long i = 0; i < k; ++i) session->run(input);
    session->synchronize();
    return (now_ms() - t0) / double(k);
  }
};

// Per step, the median of its time over `rounds` profiled forward passes (each step waited for); with json_path,
// every step as {"node", "op", "shape", "ms"} (the per-layer comparison of tools/python/bench_cpu.py reads it).
void per_operator_profile(Session& session, const Tensor& input, long rounds, const std::string& json_path) {
  std::vector<StepTime> steps;
  std::vector<std::vector<double>> samples;
  for (long r = 0; r < std::max(1L, rounds); ++r) {
    session.run(input);
    const auto run = session.profile();
    if (steps.empty()) steps = run, samples.resize(run.size());
    for (size_t i = 0; i < run.size() && i < samples.size(); ++i) samples[i].push_back(run[i].ms);
  }
  for (size_t i = 0; i < steps.size(); ++i) steps[i].ms = median(samples[i]);
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    GB_CHECK(f, "cannot write ", json_path);
    f << "[";
    for (size_t i = 0; i < steps.size(); ++i)
      f << (i ? ",\n " : "") << "{\"node\": \"" << json_escape(steps[i].node) << "\", \"op\": \""
        << json_escape(steps[i].label) << "\", \"shape\": \"" << shape_str(steps[i].shape) << "\", \"ms\": "
        << steps[i].ms << "}";
    f << "]\n";
  }
  std::map<std::string, double> by_op;
  double total = 0;
  for (const auto& s : steps) by_op[s.label] += s.ms, total += s.ms;
  std::sort(steps.begin(), steps.end(), [](const StepTime& x, const StepTime& y) { return x.ms > y.ms; });
  std::printf("%-14s %8s %6s\n", "operator", "ms", "share");
  for (const auto& [op, ms] : by_op) std::printf("%-14s %8.2f %5.1f%%\n", op.c_str(), ms, 100 * ms / total);
  std::printf("\nslowest steps:\n");
  for (size_t i = 0; i < steps.size() && i < 15; ++i)
    std::printf("%8.2f ms  %-14s %-20s %s\n", steps[i].ms, steps[i].label.c_str(), shape_str(steps[i].shape).c_str(),
                steps[i].node.c_str());
}

// Per convolution step: time under each variant, FLOPs = 2 x outputs x (C/G x KH x KW).
void per_layer_table(const std::shared_ptr<const Model>& model, long batch, Device device,
                     const std::vector<std::string>& variants, long rounds) {
  const Tensor input = random_input(*model, batch, device);
  std::vector<std::vector<double>> ms(variants.size());  // [variant][conv step]
  std::vector<std::string> names;
  std::vector<double> gflop;
  for (size_t v = 0; v < variants.size(); ++v) {
    SessionOptions o;
    o.device = device;
    o.kernel_variants["conv2d"] = variants[v];
    o.profile = true;
    Session s(model, o);
    s.run(input);  // plan, memory, autotune
    const Plan& plan = s.plan_for({input.shape()});
    std::vector<std::vector<double>> samples;
    for (long r = 0; r < rounds; ++r) {
      s.run(input);
      const auto& prof = s.profile();
      size_t conv = 0;
      for (size_t i = 0; i < plan.steps.size(); ++i) {
        const Node& n = model->graph().nodes[plan.steps[i].node];
        if (n.op != "Conv") continue;
        if (samples.size() <= conv) samples.emplace_back();
        samples[conv].push_back(prof[i].ms);
        if (v == 0 && r == 0) {
          const Shape& w = plan.shapes[n.inputs[1]];
          const Shape& y = plan.shapes[plan.steps[i].outputs[0]];
          gflop.push_back(2.0 * double(numel(y)) * double(w[1] * w[2] * w[3]) / 1e9);
          names.push_back(shape_str(plan.shapes[n.inputs[0]]) + " * " + shape_str(w) + " -> " + shape_str(y) + " " +
                          prof[i].label);
        }
        ++conv;
      }
    }
    for (auto& smp : samples) ms[v].push_back(median(smp));
  }
  double peak = 0;
  if (!device.is_cpu()) peak = cuda_device_info(device.index).fp32_peak_tflops();
  std::printf("\n| # | convolution (x * w -> y) | GFLOP |");
  for (const auto& v : variants) std::printf(" %s ms |", v.c_str());
  std::printf(" best hand-written | TFLOP/s | %% of fp32 peak |");
  const auto cudnn = std::find(variants.begin(), variants.end(), "cudnn");
  if (cudnn != variants.end()) std::printf(" best / cudnn |");
  std::printf("\n|---|---|---|");
  for (size_t v = 0; v < variants.size() + 3 + (cudnn != variants.end()); ++v) std::printf("---|");
  std::printf("\n");
  std::vector<double> totals(variants.size(), 0.0);
  double best_total = 0;
  for (size_t c = 0; c < names.size(); ++c) {
    std::printf("| %zu | %s | %.2f |", c, names[c].c_str(), gflop[c]);
    double best = 0;
    std::string best_name;
    for (size_t v = 0; v < variants.size(); ++v) {
      std::printf(" %.3f |", ms[v][c]);
      totals[v] += ms[v][c];
      if (variants[v].rfind("cudnn", 0) != 0 && (best_name.empty() || ms[v][c] < best))
        best = ms[v][c], best_name = variants[v];
    }
    best_total += best;
    const double tflops = best > 0 ? gflop[c] / best : 0;
    std::printf(" %s | %.1f | %.0f%% |", best_name.c_str(), tflops, peak > 0 ? 100 * tflops / peak : 0.0);
    if (cudnn != variants.end()) std::printf(" %.2f |", best / ms[cudnn - variants.begin()][c]);
    std::printf("\n");
  }
  std::printf("| | all convolutions | |");
  for (double t : totals) std::printf(" %.2f |", t);
  std::printf(" %.2f (best per layer) | | |\n", best_total);
  if (peak > 0) std::printf("fp32 peak of this device: %.1f TFLOP/s\n", peak);
}

// The session options the timed runs use: the base ones without per-step profiling (it waits for every step).
SessionOptions unprofiled(const SessionOptions& base) {
  SessionOptions o = base;
  o.profile = false;
  return o;
}

// The header of an explanation table whose rows interleaved_row prints; `method_column` names its method column.
void print_explain_header(const char* method_column) {
  std::printf("\n| model | batch | device | %s | forward ms | explain ms | explain / forward | explain images/s | "
              "forward MiB | explain MiB |\n|---|---|---|---|---|---|---|---|---|---|\n",
              method_column);
}

// Explanation time against forward time, per batch: the forward session and the explainer alternate round by
// round; the ratio is the median of per-round ratios (explain ms / forward ms). `explain_once` runs one explanation
// of x and waits for it; `explain_session` is its session (for the memory column).
void interleaved_row(const std::string& label, const std::string& methods, const std::shared_ptr<const Model>& model,
                     const SessionOptions& o, const Tensor& x, const std::function<void()>& explain_once,
                     Session& explain_session, long rounds, long warmup) {
  Session forward(model, o);
  auto time_forward = [&] {
    const double t0 = now_ms();
    forward.run(x);
    forward.synchronize();
    return now_ms() - t0;
  };
  auto time_explain = [&] {
    const double t0 = now_ms();
    explain_once();
    return now_ms() - t0;
  };
  for (long i = 0; i < warmup + 1; ++i) time_forward(), time_explain();
  std::vector<double> f, e, ratio;
  for (long r = 0; r < rounds; ++r) {
    f.push_back(time_forward());
    e.push_back(time_explain());
    ratio.push_back(e.back() / f.back());
  }
  std::printf("| %s | %lld | %s | %s | %.2f | %.2f | %.3f | %.1f | %.1f | %.1f |\n", label.c_str(),
              static_cast<long long>(x.dim(0)), o.device.str().c_str(), methods.c_str(), median(f), median(e),
              median(ratio), 1000.0 * x.dim(0) / median(e), forward.memory().total() / 1048576.0,
              explain_session.memory().total() / 1048576.0);
  std::fflush(stdout);
}

void explain_table(const std::string& label, const std::shared_ptr<const Model>& model, const SessionOptions& base,
                   const std::string& layer,
                   const std::vector<long>& batches, const std::string& method_list, long rounds, long warmup) {
  const auto methods = explain::parse_methods(method_list);
  print_explain_header("methods");
  for (long batch : batches) {
    const Tensor x = random_input(*model, batch, base.device);
    const SessionOptions o = unprofiled(base);
    explain::ExplainOptions eo;
    eo.layer = layer;
    explain::Explainer ex(model, o, eo);
    interleaved_row(label, method_list, model, o, x, [&] {
      ex.explain(x, {}, methods);
      ex.session().synchronize();
    }, ex.session(), rounds, warmup);
  }
}

// Attention explanations (raw, rollout, grad-rollout) against the forward pass, as explain_table does.
void attention_table(const std::string& label, const std::shared_ptr<const Model>& model, const SessionOptions& base,
                     const std::vector<long>& batches, const std::string& method_list, float discard_ratio,
                     long rounds, long warmup) {
  print_explain_header("attention method");
  for (long batch : batches)
    for (const auto& name : split_list(method_list)) {
      const Tensor x = random_input(*model, batch, base.device);
      const SessionOptions o = unprofiled(base);
      explain::AttentionOptions ao;
      std::string api_name = name;  // the CLI's grad-rollout is the API's grad_rollout
      std::replace(api_name.begin(), api_name.end(), '-', '_');
      ao.method = explain::parse_attention_method(api_name);
      ao.discard_ratio = ao.method == explain::AttentionMethod::rollout ? discard_ratio : 0.f;
      explain::AttentionExplainer ex(model, o, ao);
      interleaved_row(label, name, model, o, x, [&] {
        ex.explain(x);
        ex.session().synchronize();
      }, ex.session(), rounds, warmup);
    }
}

// Pixel-space methods (saliency, Deconvnet, guided backpropagation, guided Grad-CAM, SmoothGrad: a forward and a
// backward to the input, SmoothGrad on `samples` noisy copies per image) against the forward pass, as
// explain_table does; SmoothGrad's row also gives the ratio per copy.
void saliency_table(const std::string& label, const std::shared_ptr<const Model>& model, const SessionOptions& base,
                    const std::vector<long>& batches, const std::string& method_list, int samples, long rounds,
                    long warmup) {
  print_explain_header("pixel method");
  for (long batch : batches)
    for (const auto& name : split_list(method_list)) {
      const explain::PixelMethod m = explain::parse_pixel_method(name);
      const Tensor x = random_input(*model, batch, base.device);
      const SessionOptions o = unprofiled(base);
      explain::PixelOptions po;
      po.noise_samples = samples;
      explain::PixelExplainer ex(model, o, po);
      const std::string shown =
          m == explain::PixelMethod::smoothgrad ? name + " (" + std::to_string(samples) + " copies)" : name;
      interleaved_row(label, shown, model, o, x, [&] {
        ex.explain(x, {}, {m});
        ex.session().synchronize();
      }, ex.session(), rounds, warmup);
    }
}

// Perturbation methods on one image against the throughput limit: the distinct copies the method ran (F)
// times our forward's per-image time at the chunk's batch size (the copies' own batch). Rounds alternate the
// method and that forward; the ratio is the median of per-round ratios T / (F * forward ms per image).
void perturbation_table(const std::string& label, const std::shared_ptr<const Model>& model,
                        const SessionOptions& base, const explain::PerturbationOptions& po, const std::string& list,
                        long rounds, long warmup) {
  std::vector<explain::PerturbationMethod> methods;
  for (const auto& name : split_list(list)) {
    explain::PerturbationMethod m;
    GB_CHECK(explain::parse_perturbation_method(name, m), "--perturbation: unknown method '", name, "'");
    methods.push_back(m);
  }
  const Tensor one = random_input(*model, 1, base.device);
  const SessionOptions o = unprofiled(base);
  explain::PerturbationExplainer ex(model, o, po);
  const int64_t chunk = ex.batch_for(one.shape());
  const Tensor copies = random_input(*model, chunk, base.device);
  Session forward(model, o);
  std::printf("\nlayer %s, %lld copies per forward pass\n\n| model | device | method | copies (F) | constant channels "
              "skipped | ms per image | forward ms per image (batch %lld) | limit F x forward ms | vs limit | vs one "
              "forward |\n|---|---|---|---|---|---|---|---|---|---|\n",
              ex.layer().c_str(), static_cast<long long>(chunk), static_cast<long long>(chunk));
  for (explain::PerturbationMethod m : methods) {
    explain::PerturbationExplainer::Result last;
    auto time_method = [&] {
      const double t0 = now_ms();
      last = ex.explain(one, {}, {m});
      ex.session().synchronize();
      return now_ms() - t0;
    };
    auto time_forward = [&] {
      const double t0 = now_ms();
      forward.run(copies);
      forward.synchronize();
      return (now_ms() - t0) / double(chunk);
    };
    for (long i = 0; i < warmup + 1; ++i) time_method(), time_forward();
    std::vector<double> t, f, ratio;
    for (long r = 0; r < rounds; ++r) {
      t.push_back(time_method());
      f.push_back(time_forward());
      ratio.push_back(t.back() / (double(last.stats.forward_images) * f.back()));
    }
    const double F = double(last.stats.forward_images);
    std::printf("| %s | %s | %s | %lld | %lld of %lld | %.1f | %.3f | %.1f | %.3f | %.1f |\n", label.c_str(),
                base.device.str().c_str(), explain::perturbation_method_name(m),
                static_cast<long long>(last.stats.forward_images), static_cast<long long>(last.stats.skipped_channels),
                static_cast<long long>(last.stats.channels), median(t), median(f), F * median(f), median(ratio),
                median(t) / median(f));
    std::fflush(stdout);
  }
}

// Gradient ascent: milliseconds per Adam step for a batch of class objectives (pixel parameterization, transforms
// on), against one forward + backward to the input of the same batch; rounds alternate the two (median of
// per-round ratios).
void ascent_table(const std::string& label, const std::shared_ptr<const Model>& model, const SessionOptions& base,
                  const std::vector<long>& batches, long steps, long rounds) {
  std::printf("\n| model | batch | device | ms per ascent step | ascent steps/s | forward+backward ms | step / "
              "(forward+backward) |\n|---|---|---|---|---|---|---|\n");
  for (long batch : batches) {
    const Tensor x = random_input(*model, batch, base.device);
    Session fb(model, base);
    const std::string input = model->input_names()[0];
    fb.track_gradients({input});
    const Tensor logits = fb.run(x).output();
    const Tensor seed = Tensor::zeros(logits.shape());
    explain::AscentOptions o;
    o.height = x.dim(2), o.width = x.dim(3), o.steps = int(steps), o.log_every = int(steps);
    explain::Dreamer dreamer(model, base, o);
    std::vector<explain::Objective> objectives;
    for (long b = 0; b < batch; ++b) objectives.push_back(explain::Objective::of(explain::Term::logit(b)));
    auto time_ascent = [&] {
      const double t0 = now_ms();
      dreamer.run(objectives);
      dreamer.session().synchronize();
      return (now_ms() - t0) / double(steps);
    };
    auto time_fb = [&] {
      const double t0 = now_ms();
      fb.run(x);
      fb.backward({seed});
      fb.synchronize();
      return now_ms() - t0;
    };
    time_ascent(), time_fb();  // plans, memory
    std::vector<double> t, f, ratio;
    for (long r = 0; r < rounds; ++r) {
      t.push_back(time_ascent());
      f.push_back(time_fb());
      ratio.push_back(t.back() / f.back());
    }
    std::printf("| %s | %ld | %s | %.1f | %.2f | %.1f | %.3f |\n", label.c_str(), batch, base.device.str().c_str(),
                median(t), 1000.0 / median(t), median(f), median(ratio));
    std::fflush(stdout);
  }
}

}  // namespace

// bench runs one table per call; an option that the chosen table does not read is refused, not ignored.
void check_bench_mode(const Args& a) {
  const std::vector<std::string> common = {"batch", "threads", "device", "conv-variant", "sgemm-variant"};
  const std::vector<std::pair<std::string, std::vector<std::string>>> modes = {
      {"serve", {"serve", "explain", "perturbation", "layer", "chunk", "rise-masks"}},
      {"ascent", {"ascent", "iters"}},
      {"perturbation", {"perturbation", "layer", "chunk", "rise-masks", "samples", "iters", "warmup"}},
      {"saliency", {"saliency", "samples", "iters", "warmup"}},
      {"attention", {"attention", "discard-ratio", "iters", "warmup"}},
      {"explain", {"explain", "layer", "iters", "warmup"}},
      {"per-layer", {"per-layer", "iters"}},
  };
  std::string mode = "forward";
  std::vector<std::string> allowed = {"iters", "warmup", "sample-ms", "json", "profile", "profile-rounds", "profile-json"};
  for (const auto& [name, options] : modes)
    if (a.options.count(name) || std::count(a.flags.begin(), a.flags.end(), name)) {
      mode = name, allowed = options;
      break;
    }
  allowed.insert(allowed.end(), common.begin(), common.end());
  std::vector<std::string> given;
  for (const auto& [k, v] : a.options) given.push_back(k);
  given.insert(given.end(), a.flags.begin(), a.flags.end());
  for (const auto& k : given)
    GB_CHECK(std::find(allowed.begin(), allowed.end(), k) != allowed.end(), "bench: --", k, " does not apply to the ",
             mode == "forward" ? "forward table" : "--" + mode + " table", " (bench runs one table per call)");
}

int cmd_bench(const Args& a) {
  if (!a.get("dataset").empty()) return cmd_bench_dataset(a);  // the dataset runner end to end (bench_dataset.cpp)
  check_bench_mode(a);
  for (const char* list : {"explain", "perturbation", "saliency", "attention"})
    if (a.has(list)) a.list(list);  // refuses an empty list or name before any table starts
  GB_CHECK(a.positional.size() == 1, "bench takes one MODEL.onnx");
  auto model = Model::load(a.positional[0]);
  const SessionOptions base = session_options(a);
  std::vector<long> batches;
  for (const auto& b : a.list("batch", "1")) {
    GB_CHECK(b.find_first_not_of("0123456789") == std::string::npos && b.size() < 5 && std::stol(b) > 0,
             "--batch: expected positive integers separated by commas, got '", a.get("batch"), "'");
    batches.push_back(std::stol(b));
  }
  std::vector<std::string> variants;
  if (a.has("conv-variant")) variants = a.list("conv-variant");
  if (variants.empty()) variants.push_back(Session(model, base).backend().selected_variant("conv2d"));

  if (a.flag("serve")) {  // one batch, one variant; "run K" -> K forwards, one wait, mean ms per forward
    GB_CHECK(batches.size() == 1 && variants.size() == 1, "--serve takes one batch size and one conv variant");
    SessionOptions o = base;
    o.kernel_variants["conv2d"] = variants[0];
    Runner r(variants[0], std::make_unique<Session>(model, o), random_input(*model, batches[0], base.device));
    // With --explain, a "run" is an explanation (top-1 class, the methods listed) instead of a forward pass.
    std::unique_ptr<explain::Explainer> ex;
    std::vector<explain::CamMethod> methods;
    if (!a.get("explain").empty()) {
      explain::ExplainOptions eo;
      eo.layer = a.get("layer");
      ex = std::make_unique<explain::Explainer>(model, o, eo);
      methods = explain::parse_methods(a.get("explain"));
    }
    // With --perturbation, a "run" is a perturbation method (Score-CAM, ...; chunks of --chunk copies).
    std::unique_ptr<explain::PerturbationExplainer> px;
    std::vector<explain::PerturbationMethod> pmethods;
    if (!a.get("perturbation").empty()) {
      explain::PerturbationOptions po;
      po.layer = a.get("layer");
      po.batch = a.integer("chunk", 0, 0, 1 << 20);
      po.rise_masks = a.integer("rise-masks", po.rise_masks, 1, 1 << 20);
      px = std::make_unique<explain::PerturbationExplainer>(model, o, po);
      for (const auto& name : a.list("perturbation")) {
        explain::PerturbationMethod m;
        GB_CHECK(explain::parse_perturbation_method(name, m), "--perturbation: unknown method '", name, "'");
        pmethods.push_back(m);
      }
    }
    auto time = [&](long k) {
      if (!ex && !px) return r.time(k);
      const double t0 = now_ms();
      for (long i = 0; i < k; ++i) {
        if (ex) ex->explain(r.input, {}, methods);
        if (px) px->explain(r.input, {}, pmethods);
      }
      (ex ? ex->session() : px->session()).synchronize();
      return (now_ms() - t0) / double(k);
    };
    time(px ? 1 : 3);  // plan, memory, autotune, warm caches (one run of a perturbation method is plenty)
    std::printf("ready\n");
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line == "quit") break;
      long k = 1;
      if (line.rfind("run ", 0) == 0) k = std::max(1L, std::atol(line.c_str() + 4));
      std::printf("%.4f\n", time(k));
      std::fflush(stdout);
    }
    return 0;
  }

  if (!a.get("ascent").empty()) {
    ascent_table(model_label(a.positional[0]), model, base, batches, a.integer("ascent", 8, 1, 1 << 20),
                 a.integer("iters", 3, 1, 1 << 20));
    return 0;
  }

  if (!a.get("perturbation").empty() && !a.flag("serve")) {
    explain::PerturbationOptions po;
    po.layer = a.get("layer");
    po.batch = a.integer("chunk", 0, 0, 1 << 20);
    po.rise_masks = a.integer("rise-masks", po.rise_masks, 1, 1 << 20);
    po.samples = int(a.integer("samples", po.samples, 1, 1 << 20));
    perturbation_table(model_label(a.positional[0]), model, base, po, a.get("perturbation"),
                       a.integer("iters", 3, 1, 1 << 20), a.integer("warmup", 0, 0, 1 << 20));
    return 0;
  }

  if (!a.get("saliency").empty()) {
    saliency_table(model_label(a.positional[0]), model, base, batches, a.get("saliency"),
                   int(a.integer("samples", 16, 1, 1 << 20)), a.integer("iters", 5, 1, 1 << 20),
                   a.integer("warmup", 1, 0, 1 << 20));
    return 0;
  }

  if (!a.get("attention").empty()) {
    attention_table(model_label(a.positional[0]), model, base, batches, a.get("attention"),
                    float(a.number("discard-ratio", 0.9, 0.0, 1.0)), a.integer("iters", 5, 1, 1 << 20), a.integer("warmup", 1, 0, 1 << 20));
    return 0;
  }

  if (!a.get("explain").empty()) {
    explain_table(model_label(a.positional[0]), model, base, a.get("layer"), batches, a.get("explain"), a.integer("iters", 5, 1, 1 << 20),
                  a.integer("warmup", 1, 0, 1 << 20));
    return 0;
  }

  if (a.flag("per-layer")) {
    per_layer_table(model, batches[0], base.device, variants, a.integer("iters", 5, 1, 1 << 20));
    return 0;
  }

  const long rounds = a.integer("iters", 10, 1, 1 << 20);
  const long warmup = a.integer("warmup", 2, 0, 1 << 20);
  const double sample_ms = double(a.integer("sample-ms", 100, 1, 600000));
  std::string device_name = base.device.str();
  if (!base.device.is_cpu()) {
    const CudaDeviceInfo info = cuda_device_info(base.device.index);
    device_name = info.name;
    std::printf("device %s (sm_%d%d, %d SMs, %.0f MHz, fp32 peak %.1f TFLOP/s), driver %d, runtime %d\n",
                info.name.c_str(), info.major, info.minor, info.sm_count, info.clock_khz / 1e3,
                info.fp32_peak_tflops(), info.driver_version, info.runtime_version);
  }
  std::string json = "[";
  std::printf("\n| model | batch | device | conv variant | latency ms | images/s | vs %s | memory MiB |\n",
              variants[0].c_str());
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (long batch : batches) {
    std::vector<Runner> runners;
    for (const auto& v : variants) {
      SessionOptions o = unprofiled(base);
      o.kernel_variants["conv2d"] = v;
      Runner r(v, std::make_unique<Session>(model, o), random_input(*model, batch, base.device));
      r.time(1);  // plan, memory, autotune
      for (long i = 0; i < warmup; ++i) r.time(1);
      r.repeat = std::max(1L, std::min(200L, long(sample_ms / std::max(0.01, r.time(1)))));
      runners.push_back(std::move(r));
    }
    std::vector<std::vector<double>> ratios(runners.size());
    for (long round = 0; round < rounds; ++round)
      for (size_t i = 0; i < runners.size(); ++i) {
        Runner& r = runners[i];
        r.latency_ms.push_back(r.time(1));
        r.per_forward_ms.push_back(r.time(r.repeat));
        ratios[i].push_back(r.per_forward_ms.back() / runners[0].per_forward_ms.back());
      }
    for (size_t i = 0; i < runners.size(); ++i) {
      Runner& r = runners[i];
      const double lat = median(r.latency_ms), per = median(r.per_forward_ms), ips = 1000.0 * batch / per;
      const MemoryStats m = r.session->memory();
      std::printf("| %s | %ld | %s | %s | %.3f | %.1f | %.3f | %.1f |\n", model_label(a.positional[0]).c_str(),
                  batch, device_name.c_str(),
                  r.variant.c_str(), lat, ips, median(ratios[i]), m.total() / 1048576.0);
      json += std::string(json.size() > 1 ? ",\n " : "") + "{\"model\": \"" + model_label(a.positional[0]) + "\", \"device\": \"" +
              device_name + "\", \"batch\": " + std::to_string(batch) + ", \"conv_variant\": \"" + r.variant +
              "\", \"latency_ms\": " + json_number(lat) + ", \"ms_per_forward\": " + json_number(per) +
              ", \"images_per_s\": " + json_number(ips) + ", \"ratio_to_first_variant\": " +
              json_number(median(ratios[i])) + ", \"memory_bytes\": {\"arena\": " + std::to_string(m.arena) +
              ", \"constants\": " + std::to_string(m.constants) + ", \"workspace\": " + std::to_string(m.workspace) +
              ", \"results\": " + std::to_string(m.results) + ", \"total\": " + std::to_string(m.total()) + "}}";
    }
    std::fflush(stdout);
  }
  json += "]\n";
  if (!a.get("json").empty()) {
    std::ofstream f(a.get("json"));
    GB_CHECK(f, "cannot write ", a.get("json"));
    f << json;
  }
  if (a.flag("profile")) {
    SessionOptions o = base;
    o.kernel_variants["conv2d"] = variants[0];
    Session s(model, o);
    const Tensor input = random_input(*model, batches.back(), base.device);
    s.run(input);
    const long rounds = a.integer("profile-rounds", 1, 1, 1 << 20);
    std::printf("\nprofile, batch %ld, conv2d=%s (each step waited for; per step the median of %ld pass%s):\n",
                batches.back(), variants[0].c_str(), rounds, rounds == 1 ? "" : "es");
    per_operator_profile(s, input, rounds, a.get("profile-json"));
  }
  return 0;
}

}  // namespace glassbox::tools
