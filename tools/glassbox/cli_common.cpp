#include "tools/glassbox/cli_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>

namespace fs = std::filesystem;

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

CommandOptions preprocess_options() { return {{"preprocess", "resize", "crop", "mean", "std", "max-pixels"}, {}}; }

int64_t max_pixels_option(const Args& a) { return a.integer("max-pixels", kDefaultMaxPixels, 1, int64_t(1) << 40); }

Preprocess preprocess_for(const Model& model, const Args& a) {
  const std::string metadata = model.metadata("glassbox.preprocess");
  Preprocess p;
  try {
    p = Preprocess::for_model(model.input_shape(), metadata);
  } catch (const Error& e) {
    fail("the model's glassbox.preprocess metadata: ", e.what());
  }
  p = Preprocess::parse(a.get("preprocess"), p);
  if (a.has("resize")) p.resize = int(a.integer("resize", 0, 0, Preprocess::kMaxSide));
  if (a.has("crop")) p.crop = int(a.integer("crop", 0, 0, Preprocess::kMaxSide));
  if (a.has("mean")) p = Preprocess::parse("mean=" + a.get("mean"), p);
  if (a.has("std")) p = Preprocess::parse("std=" + a.get("std"), p);
  p.max_pixels = max_pixels_option(a);
  p.validate();
  const Shape& in = model.input_shape();
  if (in.size() == 4 && in[2] > 0 && in[3] == in[2])
    GB_CHECK(p.crop == in[2], "preprocess crop=", p.crop, ", but the model's input is ", in[2], "x", in[3],
             ": give --crop ", in[2], " (or none)");
  return p;
}

std::vector<std::string> output_stems(const std::vector<std::string>& paths) {
  std::vector<std::string> stems(paths.size());
  std::map<std::string, int> count;
  for (size_t i = 0; i < paths.size(); ++i) ++count[stems[i] = fs::path(paths[i]).stem().string()];
  for (size_t i = 0; i < paths.size(); ++i) {
    if (count[stems[i]] < 2) continue;
    std::string s = (fs::path(paths[i]).parent_path() / fs::path(paths[i]).stem()).string();
    for (char& c : s)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
    s.erase(0, s.find_first_not_of('_'));
    stems[i] = s;
  }
  std::map<std::string, int> seen;
  for (size_t i = 0; i < paths.size(); ++i) ++seen[stems[i]];
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string plain = fs::path(paths[i]).stem().string();
    if (seen[stems[i]] > 1) stems[i] += "_" + std::to_string(i + 1);
    if (stems[i] != plain)
      std::fprintf(stderr, "glassbox: %s is written as %s (another input is also named %s)\n", paths[i].c_str(),
                   stems[i].c_str(), plain.c_str());
  }
  return stems;
}

LoadedImages load_images(const std::vector<std::string>& paths, const std::vector<std::string>& stems, size_t start,
                         size_t count, const Preprocess& pre, int& failures, bool json) {
  LoadedImages l;
  auto failed = [&](const std::string& path, const std::string& what) {
    ++failures;
    std::fprintf(stderr, "glassbox: %s\n", what.c_str());
    if (json) std::printf("{\"image\": \"%s\", \"error\": \"%s\"}\n", json_escape(path).c_str(), json_escape(what).c_str());
  };
  for (size_t i = start; i < std::min(paths.size(), start + count); ++i) {
    try {
      Image seen = resize_and_crop(load_image(paths[i], pre.max_pixels), pre);
      GB_CHECK(l.images.empty() || (seen.width == l.images[0].width && seen.height == l.images[0].height),
               "the image is ", seen.width, "x", seen.height, " after preprocessing, the batch's first is ",
               l.images[0].width, "x", l.images[0].height, " (give a crop size: --crop N)");
      l.images.push_back(std::move(seen));
      l.names.push_back(paths[i]);
      l.stems.push_back(stems[i]);
    } catch (const Error& e) {
      const std::string what = e.what();
      failed(paths[i], what.rfind(paths[i], 0) == 0 ? what : paths[i] + ": " + what);
    } catch (const std::bad_alloc&) {
      failed(paths[i], paths[i] + ": out of memory while loading the image");
    }
  }
  if (!l.images.empty()) l.batch = normalize_batch(l.images, pre);
  return l;
}

void for_each_image_batch(const Args& a, const Preprocess& pre, int64_t batch, int& failures,
                          const std::function<void(const LoadedImages&, int64_t step)>& fn, bool json) {
  const std::vector<std::string> paths(a.positional.begin() + 1, a.positional.end());
  const std::vector<std::string> stems = output_stems(paths);
  for (size_t start = 0; start < paths.size(); start += size_t(batch)) {
    const LoadedImages loaded = load_images(paths, stems, start, size_t(batch), pre, failures, json);
    if (!loaded.images.empty()) fn(loaded, int64_t(start / size_t(batch)));
  }
}

explain::PerturbationOptions perturbation_options(const Args& a) {
  explain::PerturbationOptions po;
  po.batch = a.integer("chunk", 0, 0, 1 << 20);
  po.samples = int(a.integer("samples", po.samples, 1, 1 << 20));
  po.noise_std = float(a.number("noise-std", po.noise_std, 0.0, 1e6));
  po.seed = uint32_t(a.integer("seed", 0, 0, UINT32_MAX));
  po.rise_masks = a.integer("rise-masks", po.rise_masks, 1, 1 << 20);
  po.rise_cells = a.integer("rise-cells", po.rise_cells, 1, 4096);
  po.rise_probability = float(a.number("rise-probability", po.rise_probability, 0.0, 1.0));
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
  GB_CHECK(!a.has("class") || !a.has("top"), "give --class or --top, not both");
  if (!a.get("class").empty()) target.classes.assign(1, a.integer("class", 0, 0, INT32_MAX));
  target.top = static_cast<int>(a.integer("top", 1, 1, 1 << 20));
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
