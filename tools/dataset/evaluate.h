// Evaluating explanation methods on a set of images (glassbox evaluate): every method's maps of each image's target
// scored by the quality metrics of explain/metrics.h (deletion and insertion AUC, Average Drop, Increase in
// Confidence, and where the dataset has boxes the pointing game and its energy-based form), then a table with
// percentile-bootstrap confidence intervals and the curves as PNG. docs/evaluation.md.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explain/explain.h"
#include "explain/metrics.h"
#include "explain/perturbation.h"
#include "tools/dataset/dataset.h"

namespace glassbox::tools::dataset {

// The percentile bootstrap of a mean (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", Sec. 13.3):
// `resamples` means of n values drawn with replacement (std::mt19937_64 seeded with `seed`), and the interval
// between their (1 - level) / 2 and (1 + level) / 2 quantiles (linear interpolation between order statistics,
// position q (B - 1)). n == 0: all NaN; n == 1: the value thrice.
struct Interval {
  double mean = 0, lo = 0, hi = 0;
  int64_t n = 0;
};
Interval bootstrap_mean(const std::vector<double>& values, int resamples = 1000, uint64_t seed = 0,
                        double level = 0.95);

struct EvaluateOptions {
  std::vector<std::string> methods;  // NamedExplainer names
  SessionOptions session;
  explain::ExplainOptions gradient;          // the layer and options of the gradient family
  explain::PerturbationOptions perturbation; // ... and of the perturbation family
  explain::Target target;                    // default: each image's top class
  bool target_label = false;                 // explain each image's dataset label (every image needs one)
  Preprocess preprocess;
  int batch = 8;                             // images per explanation
  int64_t max_pixels = 64LL << 20;
  explain::MetricOptions metrics;
  double tolerance = 15;                     // pointing game, in the maps' pixels
  // After each batch of each method: the method, images done of that method, images in all.
  std::function<void(const std::string& method, int64_t done, int64_t total)> progress;
};

// The scores of one map (image, target class).
struct MapScore {
  std::string image;
  int64_t cls = 0;
  double deletion = 0, insertion = 0;  // AUCs
  double drop = 0;                     // 100 max(0, Y - O) / Y
  int increase = 0;                    // [O > Y]
  int hit = -1;                        // pointing game: 1 hit, 0 miss, -1 no box
  double energy = 0;                   // energy-based pointing game (NaN without a box)
};

struct MethodEvaluation {
  std::string method, layer;
  std::vector<MapScore> maps;
  std::vector<std::vector<float>> deletion, insertion;  // each map's curve, S + 1 points
  double explain_s = 0, metrics_s = 0;                  // wall time of the explanations and of the metrics
};

struct Evaluation {
  int64_t steps = 0;                     // S
  std::vector<std::string> images;       // evaluated (decoded)
  std::vector<std::string> failed;       // "file: reason" for images that did not decode
  bool boxes = false;                    // some image has a box inside its crop: the pointing games count
  std::vector<MethodEvaluation> methods;
};

// Every method over every image of the dataset, `batch` images at a time; the maps of method m are scored on that
// method's own session. Throws glassbox::Error for an unknown method, a missing label with target_label, or a
// dataset where no image decodes.
Evaluation evaluate(std::shared_ptr<const Model> model, const Dataset& data, const EvaluateOptions& options);

// One column of the table: its name, which direction is better, and the value per map (NaN: not counted).
struct MetricColumn {
  std::string name;
  bool higher_is_better = true;
  std::function<double(const MapScore&)> value;
};
std::vector<MetricColumn> metric_columns(const Evaluation& e);  // the pointing games only with boxes

// Every method's interval for every metric column (bootstrap over the maps; a map whose value is NaN does not
// count), computed once for the table and the files.
struct Summary {
  int resamples = 1000;
  uint64_t seed = 0;
  double level = 0.95;
  std::vector<MetricColumn> columns;              // metric_columns(e)
  std::vector<std::vector<Interval>> intervals;   // [method][column]
};
Summary summarize(const Evaluation& e, int resamples = 1000, uint64_t seed = 0, double level = 0.95);

// A markdown table: one row per method, one column per metric "mean [lo, hi]", the number of maps, and the
// seconds spent explaining and scoring.
std::string evaluation_table(const Evaluation& e, const Summary& summary);

// evaluation.json (every map's scores and every method's summary with its interval), curves.csv (the mean
// deletion and insertion curve of each method) and curves/<method>.png (each map's curves faint, their mean bold;
// deletion red, insertion blue; x: the fraction of pixels moved, y: the target's probability, both 0 to 1) in
// `out_dir`. Returns the paths written.
std::vector<std::string> write_evaluation(const Evaluation& e, const Summary& summary, const std::string& out_dir);

}  // namespace glassbox::tools::dataset
