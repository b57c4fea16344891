// The glassbox command line: inspect, run, explain (explain.h, perturbation.h), saliency (saliency.cpp), attention
// (attention.cpp), features and filters (features.cpp), bench (bench.cpp), bench kernels (bench_kernels.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "engine/model.h"
#include "tools/glassbox/args.h"
#include "explain/explain.h"
#include "explain/perturbation.h"
#include "tools/glassbox/image.h"
#include "tools/glassbox/overlay.h"
#include "tools/glassbox/attention.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/dream.h"
#include "tools/glassbox/features.h"
#include "tools/glassbox/saliency.h"
#include "tools/glassbox/labels.h"

namespace fs = std::filesystem;
using namespace glassbox;
using namespace glassbox::tools;

namespace {

const char* kUsage = R"(glassbox — an open inference engine for vision networks

usage:
  glassbox inspect MODEL.onnx [--batch N]
      list inputs, outputs, metadata and every layer (ONNX value name, operator, output shape)
  glassbox run MODEL.onnx IMAGE... [--top K] [--json] [--logits] [--batch N] [--labels FILE]
               [--preprocess SPEC] [--resize N] [--crop N] [--mean R,G,B] [--std R,G,B] [--threads N]
               [--max-pixels N] [--memory-limit GIB] [--conv-variant NAME]
      classify images; --json prints one record per image (top-k index, name, probability; --logits adds all)
  glassbox explain MODEL.onnx IMAGE... [--method NAME[,NAME...]|all] [--layer NAME] [--class K | --top K]
                   [--fuse-layers NAME[,NAME...]] [--probability] [--out DIR] [--save-raw] [--colormap jet|turbo|viridis] [--html FILE] [--batch N]
                   [--device cpu|cuda] [preprocessing options as for run]
      class activation maps (cam, gradcam, gradcampp, xgradcam, layercam, hirescam, gradcam_elementwise,
      smoothgradcampp; default gradcam) of the top class (or --class K, or the --top K classes), for the logit
      (or --probability); one overlay PNG per image, method and class in DIR (default explanations), and with
      --save-raw each map as .npy (float32, H x W at the input's resolution, in [0, 1]). --layer: an ONNX value
      name or a friendly scope such as "layer4"; default: the last 4-D activation before global pooling;
      --fuse-layers: LayerCAM's multi-layer fusion with these (shallower) layers. --tensorboard DIR (explain,
      saliency, features): every picture also as a TensorBoard image in an event file in DIR.
      Perturbation methods (scorecam, sscam, iscam, ablationcam, reciprocam, rise; not in "all") take
      [--chunk N] (copies per forward pass; default from a 1 GiB budget) [--samples N] [--noise-std S] [--seed N]
      [--rise-masks N] [--rise-cells N] [--rise-probability P] [--channel-softmax] [--one-hot]; progress on stderr
  glassbox explain MODEL.onnx --dataset DIR|FILE.json [--out DIR] [--method NAME] [--layer NAME]
                   [--class K|label | --top K] [--probability] [--batch N] [--decode-threads N] [--queue N]
                   [--overlays] [--colormap NAME] [--device cpu|cuda] [--threads N] [--quiet]
                   [preprocessing options as for run]
      a whole dataset (every image below DIR, or DIR/dataset.json's with labels and boxes) as a pipeline:
      decoding on --decode-threads, explaining batches, writing on a writer thread; per image
      DIR/maps/<image>.<method>.<class>.npy (and .png with --overlays) and a JSON line in
      DIR/results.rank<R>.jsonl, written as they come: a stopped run resumes without recomputing. Under mpirun
      each rank takes images i % ranks == rank (and GPU local rank % GPUs); rank 0 writes DIR/summary.json.
      --class label explains each image's dataset label. docs/dataset.md
  glassbox evaluate MODEL.onnx (DIR | FILE.json | IMAGE...) [--methods NAME[,NAME...]|cams|all] [--layer NAME]
                    [--class K|label | --top K] [--probability] [--pixels-per-step N] [--deletion zero|blur]
                    [--insertion blur|zero] [--tolerance PX] [--bootstrap N] [--seed N] [--confidence L]
                    [--batch N] [--chunk N] [--out DIR] [--quiet] [perturbation and preprocessing options as above]
      how faithful each method's maps are: deletion and insertion AUC (Petsiuk et al. 2018; 224 pixels per step,
      deletion to zero, insertion from a blur), Average Drop and Increase in Confidence (Chattopadhay et al.
      2018) and, where DIR/dataset.json has boxes, the pointing game (15 px) and the energy-based pointing game;
      a table of mean [95% percentile-bootstrap interval over the maps] per method and metric, and in DIR
      (default evaluation) evaluation.json, curves.csv and curves/<method>.png. "cams": every CAM method (the
      gradient and perturbation families but RISE); target: each image's top class. docs/evaluation.md
  glassbox saliency MODEL.onnx IMAGE... [--method gradient|deconvnet|guided|guided-gradcam|smoothgrad[,...]|all]
                    [--class K | --top K] [--probability] [--layer NAME] [--samples N] [--noise-std S] [--out DIR]
      pixel-space explanations: the gradient at the input (saliency), Deconvnet, guided backpropagation (backward
      rules of the rectifiers, chosen per call), guided Grad-CAM (--layer) and SmoothGrad; per image, method and
      class a map overlay PNG in DIR (default saliency), and for Deconvnet/guided the signal as an RGB picture;
      --project-channel C [--peak]: Deconvnet's projection of channel C of --layer (its whole map, or its
      strongest activation) back to pixels
  glassbox attention MODEL.onnx IMAGE... [--method raw|rollout|grad-rollout] [--head-fusion mean|max|min]
                     [--discard-ratio R] [--block B] [--class K | --top K] [--probability] [--out DIR] [--save-raw]
                     [--colormap NAME] [--batch N] [--device cpu|cuda] [preprocessing options as for run]
      attention explanations of vision transformers (the Softmax outputs [N, heads, T, T], one per block):
      raw (the class token's attention to the patches in block B, default -1: the last), rollout (Abnar &
      Zuidema 2020; default; --discard-ratio R sets the R * T^2 smallest fused attentions to 0 first) or
      grad-rollout (Chefer et al. 2021: heads fused from max(dL/dA * A, 0) for the target class); heads fused
      by their mean (default), max or min; per image (and class, for grad-rollout) an overlay PNG in DIR
      (default attention) on the patch grid upsampled to the input, in [0, 1]
  glassbox features MODEL.onnx IMAGE... [--layer NAME] [--top K] [--rank mean|max] [--normalize channel|shared]
                    [--colormap viridis|gray|jet|turbo] [--out DIR] [--batch N] [--device cpu|cuda]
                    [preprocessing options as for run]
      feature maps of a layer (default: the last 4-D activation before global pooling): per image
      DIR/<image>_<layer>_grid.png (every channel, or the top K by mean or max activation, ranked per image;
      each tile min-max normalized, or --normalize shared over all tiles; channel numbers in the corners) and
      DIR/<image>_<layer>_energy.png (the mean over channels, upsampled over the image); then the layer's
      statistics over all images: zeros, dead channels (never positive), constant channels, mean activation
      (DIR default features)
  glassbox filters MODEL.onnx [--layer NAME] [--max-filters N] [--max-channels N] [--normalize filter|shared]
                   [--out DIR]
      the weights of the Conv that computes the layer (directly or through an activation; default: the first
      Conv) as DIR/<layer>_filters.png, after the importer's BatchNormalization folding (the weights the engine
      runs): RGB tiles when the filters read 3 channels, else a gray grid of filters (rows) x input channels
      (columns; depthwise: one tile per filter); 0 is mid gray, +-max|w| per filter (or shared) white / black;
      --max-filters (default 64) and --max-channels (default 32) cap the grid
  glassbox dream MODEL.onnx (--layer L --channel C[,C...] [--neuron] | --layer L --energy | --class K[,K...]
                 (or --batch-classes K[,K...]) [--probability]) [--steps N] [--size S (8..4096)]
                 [--param pixel|fourier] [--lr X] [--seed N] [--l2 X]
                 [--tv X] [--blur-every N] [--no-transforms] [--out DIR] [--tensorboard DIR]
      activation maximization by gradient ascent (Adam) on pixels or a decorrelated Fourier basis, with random
      jitter, scale and rotation each step; one batch row per objective; DIR/dream_<objective>.png, the objective
      every 32 steps, and the final class probabilities
  glassbox bench MODEL.onnx [--device cpu|cuda] [--batch N[,N...]] [--conv-variant NAME[,NAME...]] [--iters N]
                 [--warmup N] [--threads N] [--sgemm-variant NAME] [--json FILE]
                 [--profile [--profile-rounds N] [--profile-json FILE]] [--per-layer]
                 [--explain METHOD[,METHOD...] [--layer NAME]] [--perturbation METHOD[,...] [--chunk N]
                 [--rise-masks N]] [--attention raw|rollout|grad-rollout[,...] [--discard-ratio R]] [--ascent STEPS]
                 [--saliency gradient|deconvnet|guided|guided-gradcam|smoothgrad[,...] [--samples N]] [--serve]
      latency and throughput on random input already on the device, per batch size and conv variant,
      interleaved (a markdown table; --json FILE writes the rows with memory); --profile adds per-operator
      times (each step's median over --profile-rounds passes; --profile-json FILE writes every step); --per-layer times each convolution under each variant (TFLOP/s, share of the fp32 peak);
      --explain times explanations (top-1 class) against the forward pass, interleaved; --perturbation
      times perturbation methods on one image against F x our forward's per-image time (F: the copies run);
      --attention times attention explanations against the forward pass, interleaved (rollout with
      --discard-ratio, default 0.9); --ascent STEPS times gradient-ascent steps (one class objective per batch
      row) against forward+backward; --saliency times pixel-space methods (a forward and a full backward to the
      input; SmoothGrad on --samples noisy copies, default 16) against the forward pass, interleaved;
      --serve answers "run K" lines on stdin with the mean milliseconds of K forward passes (for the
      interleaved peer comparisons of tools/python/bench_cpu.py and bench_gpu.py)
  glassbox bench MODEL.onnx --dataset DIR [--explain METHOD] [--batch N] [--rounds R] [--decode-threads N]
                 [--device cpu|cuda] [--threads N] [--json FILE]
      the dataset runner (explain --dataset; default method gradcam, batch 8, 3 rounds) end to end into a temporary
      folder against forward passes and the same explainer on in-memory tensors, interleaved: images/s, the ratios
      dataset / forward and dataset / in-memory explain, and the pipeline stages' utilization
  glassbox bench kernels [MODEL.onnx] [--op conv2d|depthwise|sgemm] [--shapes SPEC] [--batch N] [--device cpu|cuda]
                         [--variants NAME[,NAME...]] [--iters N] [--sample-ms MS] [--threads N] [--no-check]
                         [--json FILE]
      the kernel workbench: every registered variant of an operator (or --variants) on the model's distinct
      convolutions at --batch (default 1; --op depthwise: the depthwise ones under the depthwise variants; --op
      sgemm: their im2col GEMMs, on the CPU's micro-kernels) or on
      --shapes, each checked against a float64 reference (FAIL and exit 1 on a mismatch; a variant that cannot
      run a shape shows its error), then timed round by round: ms, GFLOP/s, GB/s, % of the device's peak FLOP/s
      and bandwidth (CPU: measured by probes at start), time ratio to the first variant and to cuDNN (CUDA, the
      "cudnn" variant). SPEC for conv2d: "N,C,H,W:M,KH,KW[:stride[,pad[,dilation[,groups]]]];..." (bias, no
      activation, constant weights as a model's), for sgemm "M,N,K;...". docs/kernels.md

preprocessing SPEC: "resize=256;crop=224;mean=123.675,116.28,103.53;std=58.395,57.12,57.375;interp=bilinear"
(pixels 0..255, RGB; resize and crop 0 (none) to 16384, the crop within the resize, mean finite, std positive),
as torchvision's Resize + CenterCrop + Normalize compute it on PIL images. Default: the model's
"glassbox.preprocess" metadata, else torchvision's ImageNet values; where the model's input is S x S, the crop is S.
--max-pixels N (default 67108864) bounds every image held: decoded (checked from its header first) and resized.
--memory-limit GIB (every command that runs a model): the most memory one plan may need, checked before
allocating (0: none; default 3/4 of the physical memory).

options: every command refuses an option it does not know (naming the nearest known one), an option given twice
or without its value, and a value given to a flag; --name=value is --name value. Numbers are checked against
their range.
output names: an image's outputs are named by its file's stem; where two inputs of one call share a stem, each
of them is named by its path instead ("a/cat.png" -> "a_cat"; then "_<argument number>" if that still collides),
with one stderr line per renamed input.
non-finite outputs: an image whose logits hold a NaN or an infinity is an error (run, explain) naming the first
step whose output held one; no classes or maps are written for it.
)";

int cmd_inspect(const Args& a) {
  GB_CHECK(a.positional.size() == 1, "inspect takes one MODEL.onnx");
  auto model = Model::load(a.positional[0]);
  const Graph& g = model->graph();
  std::printf("model    %s\nopset    %d\n", a.positional[0].c_str(), g.opset);
  for (int v : g.inputs) std::printf("input    %s %s\n", g.values[v].name.c_str(), shape_str(g.values[v].shape).c_str());
  for (int v : g.outputs) std::printf("output   %s\n", g.values[v].name.c_str());
  for (const auto& [k, v] : g.metadata) std::printf("metadata %s = %s\n", k.c_str(), v.c_str());
  const auto layers = model->layers(a.integer("batch", 1, 1, 4096));
  size_t w = 4;
  for (const auto& l : layers) w = std::max(w, l.name.size());
  std::printf("\n%-*s  %-20s  %s\n", int(w), "name", "operator", "output shape");
  for (const auto& l : layers) std::printf("%-*s  %-20s  %s\n", int(w), l.name.c_str(), l.op.c_str(), shape_str(l.shape).c_str());
  std::printf("\n%zu layers\n", layers.size());
  return 0;
}

// --labels FILE, else the file the model's "glassbox.labels" metadata names in the model's folder (a bad name is
// one warning line and class numbers), else none.
std::vector<std::string> labels_for(const Model& model, const std::string& model_path, const Args& a) {
  if (a.has("labels")) return tools::load_labels(a.get("labels"));
  const std::string name = model.metadata("glassbox.labels");
  if (name.empty()) return {};
  try {
    const std::string path = tools::labels_path_in(fs::path(model_path).parent_path().string(), name);
    if (!fs::exists(path)) return {};
    return tools::load_labels(path);
  } catch (const Error& e) {
    std::fprintf(stderr, "glassbox: warning: %s; class numbers only\n", e.what());
    return {};
  }
}

std::string label_of(const std::vector<std::string>& labels, int64_t c) {
  return c < int64_t(labels.size()) ? labels[c] : "class " + std::to_string(c);
}

// The k most probable classes of logits z[0..C): softmax (max subtracted) in float64, then a partial sort.
std::vector<std::pair<int64_t, double>> top_classes(const float* z, int64_t C, int64_t k) {
  const float m = *std::max_element(z, z + C);
  std::vector<double> prob(C);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += prob[c] = std::exp(double(z[c]) - m);
  std::vector<int64_t> order(C);
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, C);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t x, int64_t y) { return prob[x] > prob[y]; });
  std::vector<std::pair<int64_t, double>> top;
  for (int64_t j = 0; j < k; ++j) top.emplace_back(order[j], prob[order[j]] / s);
  return top;
}

// The number of values of z[0..n) that are NaN or infinite.
int64_t non_finite_count(const float* z, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) k += !std::isfinite(z[i]);
  return k;
}

// The first step (in the order the model runs them) whose output holds a NaN or an infinity for this one image,
// found by running it again with every layer captured: "'name' (Op)", or "" when none does.
std::string first_non_finite_step(const std::shared_ptr<const Model>& model, const SessionOptions& options,
                                  const Tensor& image) {
  const auto layers = model->layers(image.dim(0));
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);
  Session session(model, options);
  session.capture(names);
  const Result r = session.run(image);
  for (const auto& l : layers) {
    const Tensor t = r.capture(l.name).to(Device::cpu());
    if (non_finite_count(t.data<float>(), t.numel())) return "'" + l.name + "' (" + l.op + ")";
  }
  return "";
}

// An image whose logits are not all finite: one stderr line naming the first step that produced a NaN or an
// infinity (and with json a record), instead of classes.
void report_non_finite(const std::shared_ptr<const Model>& model, const SessionOptions& options, const Tensor& batch,
                       size_t i, const std::string& name, int64_t count, bool json) {
  const int64_t per_image = batch.numel() / batch.dim(0);
  Shape one = batch.shape();
  one[0] = 1;
  const Tensor image = Tensor::from_vector<float>(
      one, std::vector<float>(batch.data<float>() + i * per_image, batch.data<float>() + (i + 1) * per_image));
  const std::string step = first_non_finite_step(model, options, image);
  const std::string what = name + ": the model's output holds " + std::to_string(count) + " non-finite values (NaN or " +
                           "infinity)" + (step.empty() ? "" : "; the first step producing one is " + step);
  std::fprintf(stderr, "glassbox: %s\n", what.c_str());
  if (json) std::printf("{\"image\": \"%s\", \"error\": \"%s\"}\n", json_escape(name).c_str(), json_escape(what).c_str());
}

int cmd_run(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "run takes MODEL.onnx and at least one IMAGE");
  const std::string model_path = a.positional[0];
  auto model = Model::load(model_path);
  const Preprocess pre = preprocess_for(*model, a);
  const auto labels = labels_for(*model, model_path, a);
  const int64_t top = a.integer("top", 5, 1, 1 << 20);
  const int64_t batch = a.integer("batch", 8, 1, 4096);
  const bool json = a.flag("json"), with_logits = a.flag("logits");
  const SessionOptions options = session_options(a);
  Session session(model, options);
  int failures = 0;

  for_each_image_batch(a, pre, batch, failures, [&](const LoadedImages& loaded, int64_t) {
    const auto& names = loaded.names;
    const Result r = session.run(loaded.batch);
    const Tensor logits = r.output().to(Device::cpu());  // waits for the device's queued work
    GB_CHECK(logits.rank() == 2, "the model's output has shape ", shape_str(logits.shape()), "; run expects [N, classes]");
    const int64_t C = logits.dim(1);
    for (size_t i = 0; i < names.size(); ++i) {
      const float* z = logits.data<float>() + i * C;
      if (const int64_t bad = non_finite_count(z, C)) {
        ++failures;
        report_non_finite(model, options, loaded.batch, i, names[i], bad, json);
        continue;
      }
      const auto best = top_classes(z, C, top);
      if (json) {
        std::printf("{\"image\": \"%s\", \"top\": [", json_escape(names[i]).c_str());
        for (size_t j = 0; j < best.size(); ++j)
          std::printf("%s{\"index\": %lld, \"name\": \"%s\", \"probability\": %.6g}", j ? ", " : "",
                      static_cast<long long>(best[j].first), json_escape(label_of(labels, best[j].first)).c_str(),
                      best[j].second);
        std::printf("]");
        if (with_logits) {
          std::printf(", \"logits\": [");
          for (int64_t c = 0; c < C; ++c) std::printf("%s%.8g", c ? ", " : "", z[c]);
          std::printf("]");
        }
        std::printf("}\n");
      } else {
        std::printf("%s\n", names[i].c_str());
        for (size_t j = 0; j < best.size(); ++j)
          std::printf("  %2lld. %6.2f%%  %4lld  %s\n", static_cast<long long>(j + 1), 100 * best[j].second,
                      static_cast<long long>(best[j].first), label_of(labels, best[j].first).c_str());
        if (with_logits) {
          std::printf("  logits:");
          for (int64_t c = 0; c < C; ++c) std::printf(" %.6g", z[c]);
          std::printf("\n");
        }
      }
    }
  }, json);
  std::fflush(stdout);
  return failures ? 1 : 0;
}

// One overlay PNG per image, method and target (DIR/<image>_<method>_<class>.png), and with --save-raw the map as
// .npy (float32, H x W at the input's resolution, normalized to [0, 1]).
int cmd_explain(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "explain takes MODEL.onnx and at least one IMAGE");
  const std::string model_path = a.positional[0];
  auto model = Model::load(model_path);
  const Preprocess pre = preprocess_for(*model, a);
  const auto labels = labels_for(*model, model_path, a);
  const int64_t batch = a.integer("batch", 8, 1, 4096);
  const std::string out_dir = a.get("out", "explanations"), cmap = a.get("colormap", "jet");
  tools::check_colormap(cmap);
  // Gradient methods ("all" = every one of them) and perturbation methods, by name.
  std::vector<explain::CamMethod> methods;
  std::vector<explain::PerturbationMethod> perturbation;
  for (const auto& name : a.list("method", "gradcam")) {
    explain::PerturbationMethod pm;
    if (explain::parse_perturbation_method(name, pm)) {
      perturbation.push_back(pm);
      continue;
    }
    for (auto m : explain::parse_methods(name)) methods.push_back(m);
  }
  const explain::Target target = target_from(a);
  explain::ExplainOptions eo;
  eo.layer = a.get("layer");
  if (a.has("fuse-layers")) eo.fuse_layers = a.list("fuse-layers");
  std::unique_ptr<explain::Explainer> explainer;
  if (!methods.empty()) explainer = std::make_unique<explain::Explainer>(model, session_options(a), eo);
  std::unique_ptr<explain::PerturbationExplainer> perturber;
  if (!perturbation.empty()) {
    explain::PerturbationOptions po = perturbation_options(a);
    po.layer = eo.layer;
    perturber = std::make_unique<explain::PerturbationExplainer>(model, session_options(a), po);
  }
  const std::string layer = explainer ? explainer->layer() : perturber->layer();
  fs::create_directories(out_dir);
  PictureSink pictures(a);
  std::printf("layer %s\n", layer.c_str());
  int failures = 0;
  // --html FILE: a page with each image, its top-5 classes and every map (PNG paths relative to the page).
  std::string html;
  const std::string html_path = a.get("html");
  for_each_image_batch(a, pre, batch, failures, [&](const LoadedImages& loaded, int64_t step) {
    const auto& images = loaded.images;  // what the network saw
    const auto& names = loaded.names;
    const Tensor& batch_tensor = loaded.batch;
    // Maps by method name from either family; the targets (logits, classes) from whichever ran.
    std::map<std::string, Tensor> all_maps;
    explain::Explanation e;
    if (explainer) {
      e = explainer->explain(batch_tensor, target, methods);
      for (const auto& [m, t] : e.maps) all_maps[explain::method_name(m)] = t;
    }
    if (perturber) {
      auto r = perturber->explain(batch_tensor, target, perturbation);
      if (!explainer) e = r.targets;
      for (const auto& [m, t] : r.maps) all_maps[explain::perturbation_method_name(m)] = t;
      if (r.stats.channels)
        std::printf("constant channels skipped: %lld of %lld; %lld forward passes\n",
                    static_cast<long long>(r.stats.skipped_channels), static_cast<long long>(r.stats.channels),
                    static_cast<long long>(r.stats.forward_images));
    }
    const std::vector<int64_t> classes = e.class_list();
    const Tensor logits = e.logits.to(Device::cpu());
    const int64_t K = int64_t(classes.size() / images.size()), C = logits.dim(1);
    // An image whose logits are not finite gets one error line naming where they stopped being finite, no maps.
    std::vector<bool> finite(images.size(), true);
    for (size_t i = 0; i < images.size(); ++i)
      if (const int64_t bad = non_finite_count(logits.data<float>() + i * C, C)) {
        ++failures, finite[i] = false;
        report_non_finite(model, session_options(a), batch_tensor, i, names[i], bad, false);
      }
    std::vector<std::string> rows(images.size());  // the HTML row of each image
    if (!html_path.empty())
      for (size_t i = 0; i < images.size(); ++i) {
        if (!finite[i]) continue;
        const std::string seen = (fs::path(out_dir) / (loaded.stems[i] + "_input.png")).string();
        tools::save_png(seen, images[i]);
        rows[i] = "<tr><td><img src=\"" + fs::path(seen).filename().string() + "\"><br>" + json_escape(names[i]) + "<ol>";
        for (const auto& [c, p] : top_classes(logits.data<float>() + i * C, C, 5)) {
          char line[256];
          std::snprintf(line, sizeof line, "<li>%.1f%% %s</li>", 100 * p, label_of(labels, c).c_str());
          rows[i] += line;
        }
        rows[i] += "</ol></td>";
      }
    for (const auto& [method_name, maps_on_device] : all_maps) {
      const char* method = method_name.c_str();
      const Tensor maps = maps_on_device.to(Device::cpu());
      const int64_t H = maps.dim(1), W = maps.dim(2);
      for (size_t i = 0; i < images.size(); ++i) {
        if (!finite[i]) continue;
        const tools::Image& seen = images[i];
        GB_CHECK(seen.width == W && seen.height == H, "maps are ", W, "x", H, " but the input image is ", seen.width,
                 "x", seen.height);
        for (int64_t k = 0; k < K; ++k) {
          const int64_t row = int64_t(i) * K + k, cls = classes[row];
          const float* map = maps.data<float>() + row * H * W;
          const std::string stem = loaded.stems[i] + "_" + method + "_" + std::to_string(cls);
          const std::string png = (fs::path(out_dir) / (stem + ".png")).string();
          pictures.save(png, tools::overlay(seen, map, cmap), step);
          if (a.flag("save-raw")) tools::save_npy((fs::path(out_dir) / (stem + ".npy")).string(), map, {H, W});
          std::printf("%s  %-20s %4lld %-24s -> %s\n", names[i].c_str(), method,
                      static_cast<long long>(cls), label_of(labels, cls).c_str(), png.c_str());
          if (!html_path.empty())
            rows[i] += "<td><img src=\"" + stem + ".png\"><br>" + method + ": " + label_of(labels, cls) + "</td>";
        }
      }
    }
    for (const auto& r : rows)
      if (!r.empty()) html += r + "</tr>\n";
  });
  if (!html_path.empty()) {
    std::ofstream f(html_path);
    GB_CHECK(f, "cannot write ", html_path);
    f << "<!doctype html><meta charset=\"utf-8\"><title>glassbox explanations</title>\n"
      << "<style>body{font-family:sans-serif}td{vertical-align:top;text-align:center;font-size:12px}"
      << "img{width:224px}</style>\n<h1>" << json_escape(fs::path(model_path).filename().string())
      << "</h1><p>layer " << json_escape(layer) << ", colormap " << cmap << "</p>\n<table>\n" << html
      << "</table>\n";
    std::printf("wrote %s\n", html_path.c_str());
  }
  std::fflush(stdout);
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    // The options each command knows, in groups several commands share.
    const CommandOptions pre = preprocess_options();
    const CommandOptions session{{"threads", "device", "conv-variant", "sgemm-variant", "memory-limit"}, {}};
    const CommandOptions target{{"class", "top"}, {"probability"}};
    const CommandOptions perturbation{
        {"chunk", "samples", "noise-std", "seed", "rise-masks", "rise-cells", "rise-probability"},
        {"channel-softmax", "one-hot"}};
    auto known = [](std::vector<std::string> values, std::vector<std::string> flags,
                    std::initializer_list<CommandOptions> groups) {
      CommandOptions o{std::move(values), std::move(flags)};
      for (const auto& g : groups) o.add(g);
      return o;
    };
    auto parse = [&](int first, const std::string& name, const CommandOptions& options) {
      return parse_args(argc, argv, first, name, options);
    };
    if (cmd == "inspect") return cmd_inspect(parse(2, cmd, {{"batch"}, {}}));
    if (cmd == "run") return cmd_run(parse(2, cmd, known({"top", "batch", "labels"}, {"json", "logits"}, {pre, session})));
    if (cmd == "explain" && std::any_of(argv + 2, argv + argc, [](const char* s) {
          return !std::strcmp(s, "--dataset") || !std::strncmp(s, "--dataset=", 10);
        }))
      return cmd_explain_dataset(parse(2, "explain --dataset",
                                       known({"dataset", "out", "method", "layer", "batch", "decode-threads", "queue",
                                              "colormap", "stop-after"},
                                             {"overlays", "quiet"}, {pre, session, target})));
    if (cmd == "explain")
      return cmd_explain(parse(2, cmd, known({"method", "layer", "fuse-layers", "out", "colormap", "html", "batch",
                                              "labels", "tensorboard"},
                                             {"save-raw"}, {pre, session, target, perturbation})));
    if (cmd == "evaluate")
      return cmd_evaluate(parse(2, cmd, known({"methods", "method", "layer", "pixels-per-step", "deletion", "insertion",
                                               "tolerance", "bootstrap", "confidence", "batch", "out"},
                                              {"quiet"}, {pre, session, target, perturbation})));
    if (cmd == "bench" && argc > 2 && !std::strcmp(argv[2], "kernels"))
      return cmd_bench_kernels(parse(3, "bench kernels",
                                     known({"op", "shapes", "batch", "variants", "iters", "sample-ms", "json"},
                                           {"no-check"}, {session})));
    if (cmd == "bench")
      return cmd_bench(parse(2, cmd, known({"batch", "iters", "warmup", "json", "profile-rounds", "profile-json",
                                            "explain", "layer", "perturbation", "chunk", "rise-masks", "attention",
                                            "discard-ratio", "ascent", "saliency", "samples", "sample-ms", "dataset",
                                            "decode-threads", "rounds"},
                                           {"serve", "profile", "per-layer"}, {session, pre, target})));
    if (cmd == "saliency")
      return tools::cmd_saliency(parse(2, cmd, known({"method", "layer", "samples", "noise-std", "seed", "out",
                                                      "project-channel", "colormap", "batch", "tensorboard"},
                                                     {"peak"}, {pre, session, target})));
    if (cmd == "attention")
      return tools::cmd_attention(parse(2, cmd, known({"method", "head-fusion", "discard-ratio", "block", "out",
                                                       "colormap", "batch", "tensorboard"},
                                                      {"save-raw"}, {pre, session, target})));
    if (cmd == "features")
      return cmd_features(parse(2, cmd, known({"layer", "top", "rank", "normalize", "colormap", "out", "batch",
                                               "tensorboard"},
                                              {}, {pre, session})));
    if (cmd == "filters")
      return cmd_filters(parse(2, cmd, {{"layer", "max-filters", "max-channels", "normalize", "out"}, {}}));
    if (cmd == "dream")
      return tools::cmd_dream(parse(2, cmd, known({"layer", "channel", "class", "batch-classes", "steps", "size",
                                                   "param", "lr", "seed", "l2", "tv", "blur-every", "out",
                                                   "tensorboard", "labels"},
                                                  {"probability", "neuron", "energy", "no-transforms"},
                                                  {pre, session})));
    std::fprintf(stderr, "glassbox: unknown command '%s' (inspect, run, explain, evaluate, saliency, attention, features, "
                 "filters, dream, bench; glassbox --help)\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glassbox: %s\n", e.what());
    return 1;
  }
}
