#include "tools/glassbox/cli_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace glassbox::tools {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else o += c;
  }
  return o;
}

Preprocess preprocess_for(const Model& model, const Args& a) {
  Preprocess p = Preprocess::for_model(model.input_shape(), model.metadata("glassbox.preprocess"));
  p = Preprocess::parse(a.get("preprocess"), p);
  if (!a.get("resize").empty()) p.resize = static_cast<int>(a.integer("resize", 0));
  if (!a.get("crop").empty()) p.crop = static_cast<int>(a.integer("crop", 0));
  if (!a.get("mean").empty()) p = Preprocess::parse("mean=" + a.get("mean"), p);
  if (!a.get("std").empty()) p = Preprocess::parse("std=" + a.get("std"), p);
  return p;
}

LoadedImages load_images(const std::vector<std::string>& paths, size_t start, size_t count, int64_t max_pixels,
                         int& failures, bool json) {
  LoadedImages l;
  for (size_t i = start; i < std::min(paths.size(), start + count); ++i) {
    try {
      l.images.push_back(tools::load_image(paths[i], max_pixels));
      l.names.push_back(paths[i]);
    } catch (const Error& e) {
      ++failures;
      std::fprintf(stderr, "glassbox: %s\n", e.what());
      if (json) std::printf("{\"image\": \"%s\", \"error\": \"%s\"}\n", json_escape(paths[i]).c_str(), json_escape(e.what()).c_str());
    }
  }
  return l;
}

void for_each_image_batch(const Args& a, int64_t batch, int& failures,
                          const std::function<void(const LoadedImages&, int64_t step)>& fn) {
  const std::vector<std::string> paths(a.positional.begin() + 1, a.positional.end());
  for (size_t start = 0; start < paths.size(); start += size_t(batch)) {
    const LoadedImages loaded = load_images(paths, start, size_t(batch), a.integer("max-pixels", 64L << 20), failures,
                                            false);
    if (!loaded.images.empty()) fn(loaded, int64_t(start / size_t(batch)));
  }
}

explain::PerturbationOptions perturbation_options(const Args& a) {
  explain::PerturbationOptions po;
  po.batch = a.integer("chunk", 0);
  po.samples = int(a.integer("samples", po.samples));
  po.noise_std = float(a.number("noise-std", po.noise_std));
  po.seed = uint32_t(a.integer("seed", 0));
  po.rise_masks = a.integer("rise-masks", po.rise_masks);
  po.rise_cells = a.integer("rise-cells", po.rise_cells);
  po.rise_probability = float(a.number("rise-probability", po.rise_probability));
  po.channel_softmax = a.flag("channel-softmax");
  po.gaussian = !a.flag("one-hot");
  auto last = std::make_shared<double>(-1.0);
  po.progress = [last](int64_t done, int64_t total) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (done < total && t - *last < 0.5) return;
    *last = t;
    std::fprintf(stderr, "\r%lld / %lld forward passes queued%s", static_cast<long long>(done),
                 static_cast<long long>(total), done == total ? "\n" : "");
  };
  return po;
}

explain::Target target_from(const Args& a) {
  explain::Target target;
  GB_CHECK(a.get("class").empty() || a.get("top").empty(), "give --class or --top, not both");
  if (!a.get("class").empty()) target.classes.assign(1, a.integer("class", 0));
  target.top = static_cast<int>(std::max(1L, a.integer("top", 1)));
  target.probability = a.flag("probability");
  return target;
}

explain::Target target_or_label(const Args& a, bool& label) {
  label = a.get("class") == "label";
  if (!label) return target_from(a);
  Args rest = a;
  rest.options.erase("class");
  return target_from(rest);
}

PictureSink::PictureSink(const Args& a) {
  if (!a.get("tensorboard").empty()) tb_ = std::make_unique<EventWriter>(a.get("tensorboard"));
}

void PictureSink::save(const std::string& png_path, const Image& image, int64_t step) {
  save_png(png_path, image);
  if (tb_) tb_->add_image(std::filesystem::path(png_path).stem().string(), step, image);
}

}  // namespace glassbox::tools
