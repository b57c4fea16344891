// glassbox evaluate MODEL.onnx (DIR | FILE.json | IMAGE...): how faithful each method's maps are, as a table with
// bootstrap confidence intervals and the deletion / insertion curves as PNG. A thin layer over
// tools/dataset/evaluate.h; docs/evaluation.md.
#include <cstdio>
#include <filesystem>

#include "explain/named.h"
#include "tools/dataset/evaluate.h"
#include "tools/glassbox/cli_common.h"

namespace glassbox::tools {

namespace fs = std::filesystem;

namespace {

// "cams": every class activation map method (the gradient family and the perturbation family but RISE, which
// does not read a layer); "all": every NamedExplainer method; otherwise a comma-separated list of names.
std::vector<std::string> evaluate_methods(const std::vector<std::string>& list) {
  std::vector<std::string> out;
  for (const std::string& name : list) {
    if (name == "cams" || name == "all") {
      for (explain::CamMethod m : explain::all_methods()) out.push_back(explain::method_name(m));
      for (explain::PerturbationMethod m : explain::all_perturbation_methods())
        if (name == "all" || m != explain::PerturbationMethod::rise) out.push_back(explain::perturbation_method_name(m));
    } else {
      out.push_back(name);
    }
  }
  GB_CHECK(!out.empty(), "--methods: no method given");
  return out;
}

}  // namespace

int cmd_evaluate(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "evaluate takes MODEL.onnx and a folder, a dataset .json or images");
  dataset::EvaluateOptions o;
  const std::string out = a.get("out", "evaluation");
  GB_CHECK(!(a.has("methods") && a.has("method")), "evaluate: give --methods or --method, not both");
  o.methods = evaluate_methods(a.list(a.has("method") ? "method" : "methods", "gradcam"));
  o.session = session_options(a);
  o.gradient.layer = a.get("layer");
  o.perturbation = perturbation_options(a);
  o.perturbation.progress = nullptr;  // the evaluation's own progress line
  o.perturbation.layer = o.gradient.layer;
  o.target = target_or_label(a, o.target_label);
  o.batch = int(a.integer("batch", 8, 1, 4096));
  o.max_pixels = max_pixels_option(a);
  o.metrics.pixels_per_step = a.integer("pixels-per-step", 224, 1, 1 << 30);
  o.metrics.batch = a.integer("chunk", 0, 0, 1 << 20);
  auto substrate = [&](const char* key, explain::Substrate def) {
    const std::string v = a.get(key, def == explain::Substrate::zero ? "zero" : "blur");
    GB_CHECK(v == "zero" || v == "blur", "--", key, ": zero or blur, not '", v, "'");
    return v == "zero" ? explain::Substrate::zero : explain::Substrate::blur;
  };
  o.metrics.deletion = substrate("deletion", explain::Substrate::zero);
  o.metrics.insertion = substrate("insertion", explain::Substrate::blur);
  o.tolerance = a.number("tolerance", 15.0, 0.0, 1e6);
  const int resamples = int(a.integer("bootstrap", 1000, 0, 1 << 20));
  const uint64_t seed = uint64_t(a.integer("seed", 0, 0, INT64_MAX));
  const double level = a.number("confidence", 0.95, 0.0, 1.0);
  GB_CHECK(level > 0 && level < 1, "--confidence: a level in (0, 1), not ", level);
  const bool quiet = a.flag("quiet");
  o.progress = [quiet](const std::string& method, int64_t done, int64_t total) {
    if (!quiet) std::fprintf(stderr, "\r%-20s %lld / %lld images%s", method.c_str(), static_cast<long long>(done),
                             static_cast<long long>(total), done == total ? "\n" : "");
  };

  auto model = Model::load(a.positional[0]);
  o.preprocess = preprocess_for(*model, a);
  // One folder or dataset .json (dataset.h), or image files.
  dataset::Dataset data;
  const std::string first = a.positional[1];
  if (a.positional.size() == 2 && (fs::is_directory(first) || fs::path(first).extension() == ".json")) {
    data = dataset::Dataset::open(first, out);
  } else {
    data.root = ".";
    for (size_t i = 1; i < a.positional.size(); ++i) {
      dataset::Item item;
      item.index = int64_t(i - 1), item.file = item.path = a.positional[i];
      data.items.push_back(item);
    }
  }
  std::printf("evaluate %s: %zu images, %zu method%s, %lld pixels per step; target %s\n", data.root.c_str(),
              data.items.size(), o.methods.size(), o.methods.size() > 1 ? "s" : "",
              static_cast<long long>(o.metrics.pixels_per_step),
              o.target_label ? "the dataset label" : !o.target.classes.empty() ? "the given class" : "the top class");
  std::fflush(stdout);

  const dataset::Evaluation e = dataset::evaluate(model, data, o);
  for (const auto& f : e.failed) std::fprintf(stderr, "glassbox: %s\n", f.c_str());
  const dataset::Summary summary = dataset::summarize(e, resamples, seed, level);
  std::printf("\n%lld images, %lld steps per curve; mean [%g%% bootstrap interval over the maps, %d resamples]\n\n%s\n",
              static_cast<long long>(e.images.size()), static_cast<long long>(e.steps), 100 * level, resamples,
              dataset::evaluation_table(e, summary).c_str());
  for (const auto& path : dataset::write_evaluation(e, summary, out))
    std::printf("wrote %s\n", path.c_str());
  std::fflush(stdout);
  return e.failed.empty() ? 0 : 1;
}

}  // namespace glassbox::tools
