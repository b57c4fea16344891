// glassbox evaluate's library: the methods' maps scored by explain/metrics.h, bootstrap intervals, the outputs.
#include "tools/dataset/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "explain/named.h"
#include "tools/glassbox/plot.h"

namespace glassbox::tools::dataset {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> host_floats(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return std::vector<float>(h.data<float>(), h.data<float>() + h.numel());
}

// One batch of decoded images: the network's input, the files, and each image's boxes in the crop's pixels.
struct Batch {
  Tensor x;
  std::vector<const Item*> items;
  std::vector<std::vector<explain::Box>> boxes;
};

// Items [start, start + count) of the dataset decoded into one batch (false: none decoded). Failures are recorded
// in `failed` when given (the first method's pass); each method decodes again, which costs little next to the
// metrics' forward passes and keeps one batch of pixels in memory.
bool decode_batch(const Dataset& data, const EvaluateOptions& o, size_t start, size_t count, Batch& b,
                  std::vector<std::string>* failed) {
  std::vector<Image> images;
  for (size_t i = start; i < std::min(data.items.size(), start + count); ++i) {
    const Item& item = data.items[i];
    try {
      images.push_back(load_image(item.path, o.max_pixels));
      (void)crop_geometry(images.back().width, images.back().height, o.preprocess);  // its pixel limit, per image
    } catch (const std::exception& e) {
      if (failed) failed->push_back(item.file + ": " + e.what());
      continue;
    }
    b.items.push_back(&item);
    std::vector<explain::Box> boxes;
    const int w = images.back().width, h = images.back().height;
    for (const auto& box : item.boxes) {
      // A box that cannot be scored is said once (the first method's pass), never dropped without a word.
      const char* why = nullptr;
      std::array<int64_t, 4> c{};
      if (!(box[0] <= box[2] && box[1] <= box[3])) why = "is inverted (expected x0 <= x1 and y0 <= y1)";
      else if (box[2] < 0 || box[3] < 0 || box[0] >= w || box[1] >= h) why = "lies outside the image";
      else if (!box_in_crop(box, w, h, o.preprocess, c)) why = "lies outside the centre crop the network sees";
      else boxes.push_back({c[0], c[1], c[2], c[3]});
      if (why && failed)
        std::fprintf(stderr, "glassbox: warning: %s: box [%g, %g, %g, %g] %s (image %dx%d); not scored\n",
                     item.file.c_str(), box[0], box[1], box[2], box[3], why, w, h);
    }
    b.boxes.push_back(std::move(boxes));
  }
  if (images.empty()) return false;
  b.x = make_batch(images, o.preprocess);
  return true;
}

// The metrics of one batch's maps (K per image) appended to `me`; true when some map had a box.
bool score_batch(Session& session, const Batch& b, const explain::NamedExplanation& e,
                 const explain::MetricOptions& metrics, double tolerance, MethodEvaluation& me) {
  const explain::Curves curves = explain::deletion_insertion(session, b.x, e.maps, e.targets.classes, metrics);
  const explain::ConfidenceChange change = explain::confidence_change(session, b.x, e.maps, e.targets.classes, metrics);
  const int64_t R = e.maps.dim(0), K = R / int64_t(b.items.size());
  std::vector<std::vector<explain::Box>> boxes;
  bool any_box = false;
  for (int64_t r = 0; r < R; ++r) {
    boxes.push_back(b.boxes[size_t(r / K)]);
    any_box = any_box || !boxes.back().empty();
  }
  explain::Pointing pointing;
  if (any_box) pointing = explain::pointing_game(session, e.maps, boxes, tolerance);
  const std::vector<int64_t> classes = explain::host_classes(e.targets.classes);
  const std::vector<float> del = host_floats(curves.deletion), ins = host_floats(curves.insertion);
  const std::vector<float> del_auc = host_floats(curves.deletion_auc), ins_auc = host_floats(curves.insertion_auc);
  const size_t P = size_t(curves.steps + 1);
  for (int64_t r = 0; r < R; ++r) {
    MapScore s;
    s.image = b.items[size_t(r / K)]->file, s.cls = classes[size_t(r)];
    s.deletion = del_auc[size_t(r)], s.insertion = ins_auc[size_t(r)];
    s.drop = change.drop[size_t(r)], s.increase = change.increase[size_t(r)];
    s.hit = any_box ? pointing.hit[size_t(r)] : -1;
    s.energy = any_box ? pointing.energy[size_t(r)] : kNaN;
    me.maps.push_back(s);
    me.deletion.emplace_back(del.begin() + r * P, del.begin() + (r + 1) * P);
    me.insertion.emplace_back(ins.begin() + r * P, ins.begin() + (r + 1) * P);
  }
  return any_box;
}

}  // namespace

Interval bootstrap_mean(const std::vector<double>& values, int resamples, uint64_t seed, double level) {
  Interval r;
  r.n = int64_t(values.size());
  if (values.empty()) return {kNaN, kNaN, kNaN, 0};
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / double(values.size());
  if (values.size() == 1 || resamples < 2) return r.lo = r.hi = r.mean, r;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (size_t i = 0; i < values.size(); ++i) s += values[pick(rng)];
    m = s / double(values.size());
  }
  std::sort(means.begin(), means.end());
  auto quantile = [&](double q) {
    const double pos = q * double(means.size() - 1);
    const size_t i = size_t(std::floor(pos));
    const double f = pos - double(i);
    return i + 1 < means.size() ? means[i] + f * (means[i + 1] - means[i]) : means[i];
  };
  r.lo = quantile((1 - level) / 2), r.hi = quantile((1 + level) / 2);
  return r;
}

Evaluation evaluate(std::shared_ptr<const Model> model, const Dataset& data, const EvaluateOptions& o) {
  GB_CHECK(!o.methods.empty(), "evaluate: no method given");
  GB_CHECK(!data.items.empty(), "evaluate: the dataset ", data.root, " has no images");
  if (o.target_label)
    for (const Item& item : data.items)
      GB_CHECK(item.label >= 0, "evaluate: explaining the dataset labels, but ", item.file, " has none");
  explain::MetricOptions metrics = o.metrics;
  metrics.run_deletion = metrics.run_insertion = true;
  Evaluation ev;
  const size_t batch = size_t(std::max(1, o.batch));
  for (size_t mi = 0; mi < o.methods.size(); ++mi) {
    const std::string& method = o.methods[mi];
    explain::NamedExplainer ex(model, method, o.session, o.gradient, o.perturbation);
    MethodEvaluation me;
    me.method = method, me.layer = ex.layer();
    Session& session = ex.session();
    int64_t done = 0;
    for (size_t start = 0; start < data.items.size(); start += batch) {
      Batch b;
      if (decode_batch(data, o, start, batch, b, mi == 0 ? &ev.failed : nullptr)) {
        explain::Target target = o.target;
        if (o.target_label) {
          target.classes.clear();
          for (const Item* item : b.items) target.classes.push_back(item->label);
        }
        auto t0 = std::chrono::steady_clock::now();
        const explain::NamedExplanation e = ex.explain(b.x, target);
        session.synchronize();
        me.explain_s += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        ev.boxes = score_batch(session, b, e, metrics, o.tolerance, me) || ev.boxes;
        ev.steps = int64_t(me.deletion.back().size()) - 1;
        me.metrics_s += seconds_since(t0);
        if (mi == 0)
          for (const Item* item : b.items) ev.images.push_back(item->file);
        done += int64_t(b.items.size());
      }
      if (o.progress) o.progress(method, done, int64_t(data.items.size()));
    }
    GB_CHECK(!me.maps.empty(), "evaluate: none of the ", data.items.size(), " images of ", data.root, " decoded");
    ev.methods.push_back(std::move(me));
  }
  return ev;
}

std::vector<MetricColumn> metric_columns(const Evaluation& e) {
  std::vector<MetricColumn> c = {
      {"deletion AUC", false, [](const MapScore& s) { return s.deletion; }},
      {"insertion AUC", true, [](const MapScore& s) { return s.insertion; }},
      {"average drop %", false, [](const MapScore& s) { return s.drop; }},
      {"increase in confidence %", true, [](const MapScore& s) { return 100.0 * s.increase; }},
  };
  if (e.boxes) {
    c.push_back({"pointing game %", true, [](const MapScore& s) { return s.hit < 0 ? kNaN : 100.0 * s.hit; }});
    c.push_back({"energy pointing game", true, [](const MapScore& s) { return s.energy; }});
  }
  return c;
}

namespace {

std::string format_interval(const Interval& i, bool percent) {
  if (i.n == 0) return "-";
  char b[96];
  if (percent) std::snprintf(b, sizeof b, "%.1f [%.1f, %.1f]", i.mean, i.lo, i.hi);
  else std::snprintf(b, sizeof b, "%.3f [%.3f, %.3f]", i.mean, i.lo, i.hi);
  return b;
}

std::vector<float> mean_curve(const std::vector<std::vector<float>>& curves) {
  std::vector<float> m(curves.empty() ? 0 : curves[0].size(), 0.f);
  for (const auto& c : curves)
    for (size_t i = 0; i < m.size(); ++i) m[i] += c[i] / float(curves.size());
  return m;
}

}  // namespace

Summary summarize(const Evaluation& e, int resamples, uint64_t seed, double level) {
  Summary s;
  s.resamples = resamples, s.seed = seed, s.level = level;
  s.columns = metric_columns(e);
  for (const auto& m : e.methods) {
    std::vector<Interval> row;
    for (const auto& c : s.columns) {
      std::vector<double> v;
      for (const MapScore& score : m.maps) {
        const double x = c.value(score);
        if (!std::isnan(x)) v.push_back(x);
      }
      row.push_back(bootstrap_mean(v, resamples, seed, level));
    }
    s.intervals.push_back(std::move(row));
  }
  return s;
}

std::string evaluation_table(const Evaluation& e, const Summary& summary) {
  const auto& cols = summary.columns;
  std::string s = "| method |";
  for (const auto& c : cols) s += " " + c.name + (c.higher_is_better ? " (higher is better)" : " (lower is better)") + " |";
  s += " maps | explain s | metrics s |\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) s += "---|";
  s += "---|---|---|\n";
  for (size_t mi = 0; mi < e.methods.size(); ++mi) {
    const MethodEvaluation& m = e.methods[mi];
    s += "| " + m.method + " |";
    for (size_t c = 0; c < cols.size(); ++c)
      s += " " + format_interval(summary.intervals[mi][c], cols[c].name.find('%') != std::string::npos) + " |";
    char b[96];
    std::snprintf(b, sizeof b, " %zu | %.1f | %.1f |\n", m.maps.size(), m.explain_s, m.metrics_s);
    s += b;
  }
  return s;
}

std::vector<std::string> write_evaluation(const Evaluation& e, const Summary& summary, const std::string& out_dir) {
  fs::create_directories(fs::path(out_dir) / "curves");
  std::vector<std::string> written;
  json doc;
  doc["steps"] = e.steps;
  doc["images"] = e.images;
  doc["failed"] = e.failed;
  doc["bootstrap"] = {{"resamples", summary.resamples}, {"seed", summary.seed}, {"level", summary.level}};
  auto number = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
  for (size_t mi = 0; mi < e.methods.size(); ++mi) {
    const MethodEvaluation& m = e.methods[mi];
    json jm;
    jm["method"] = m.method, jm["layer"] = m.layer, jm["explain_s"] = m.explain_s, jm["metrics_s"] = m.metrics_s;
    for (size_t c = 0; c < summary.columns.size(); ++c) {
      const Interval& i = summary.intervals[mi][c];
      jm["summary"][summary.columns[c].name] = {{"mean", number(i.mean)}, {"lo", number(i.lo)}, {"hi", number(i.hi)},
                                                {"n", i.n}};
    }
    for (const MapScore& s : m.maps)
      jm["maps"].push_back({{"image", s.image}, {"class", s.cls}, {"deletion_auc", s.deletion},
                            {"insertion_auc", s.insertion}, {"drop", s.drop}, {"increase", s.increase},
                            {"hit", s.hit}, {"energy", number(s.energy)}});
    doc["methods"].push_back(jm);
  }
  const std::string json_path = (fs::path(out_dir) / "evaluation.json").string();
  std::ofstream(json_path) << doc.dump(1) << "\n";
  written.push_back(json_path);

  const std::string csv_path = (fs::path(out_dir) / "curves.csv").string();
  std::ofstream csv(csv_path);
  csv << "method,curve,point,fraction,mean_probability\n";
  for (const auto& m : e.methods) {
    const std::vector<float> del = mean_curve(m.deletion), ins = mean_curve(m.insertion);
    std::vector<tools::Series> series;
    for (const auto& c : m.deletion) series.push_back({c, {214, 39, 40}, 0.15f, 1});
    for (const auto& c : m.insertion) series.push_back({c, {31, 119, 180}, 0.15f, 1});
    series.push_back({del, {214, 39, 40}, 1.f, 2});
    series.push_back({ins, {31, 119, 180}, 1.f, 2});
    const std::string png = (fs::path(out_dir) / "curves" / (m.method + ".png")).string();
    save_png(png, tools::line_plot(series));
    written.push_back(png);
    for (const auto& [name, curve] : {std::pair{"deletion", &del}, std::pair{"insertion", &ins}})
      for (size_t i = 0; i < curve->size(); ++i) {
        char line[160];
        std::snprintf(line, sizeof line, "%s,%s,%zu,%.6g,%.6g\n", m.method.c_str(), name, i,
                      double(i) / double(std::max<size_t>(1, curve->size() - 1)), double((*curve)[i]));
        csv << line;
      }
  }
  written.push_back(csv_path);
  return written;
}

}  // namespace glassbox::tools::dataset
