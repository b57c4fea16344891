// glassbox saliency: for each image, method and target class, DIR/<image>_<method>_<class>.png (the saliency map,
// max over colour channels of |signal|, in colour over the image) and, for the signal-shaped methods (Deconvnet,
// guided backpropagation, guided Grad-CAM), DIR/<image>_<method>_<class>_signal.png: the signal at the input as
// an RGB picture, 0 at mid gray (0.5 + v / (2 s) per image, s the 99.5th percentile of |v|).
#include "tools/glassbox/saliency.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "explain/pixel.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/overlay.h"

namespace glassbox::tools {

namespace fs = std::filesystem;

namespace {
// The signal [C, H, W] (C = 3) as an RGB picture, symmetric around mid gray: 0.5 + v / (2 s), clipped, s the
// 99.5th percentile of |v| (a few extreme pixels would otherwise leave the rest gray).
Image signal_picture(const float* g, int64_t C, int64_t H, int64_t W) {
  std::vector<float> magnitude(size_t(C * H * W));
  for (size_t i = 0; i < magnitude.size(); ++i) magnitude[i] = std::fabs(g[i]);
  const size_t at = std::min(magnitude.size() - 1, size_t(0.995 * double(magnitude.size())));
  std::nth_element(magnitude.begin(), magnitude.begin() + at, magnitude.end());
  const float top = magnitude[at];
  Image img;
  img.width = int(W), img.height = int(H);
  img.rgb.resize(size_t(H * W * 3));
  for (int64_t p = 0; p < H * W; ++p)
    for (int64_t c = 0; c < 3; ++c) {
      const float v = top > 0.f ? 0.5f + g[(std::min<int64_t>(c, C - 1)) * H * W + p] / (2.f * top) : 0.5f;
      img.rgb[size_t(p * 3 + c)] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 1.f) * 255.f));
    }
  return img;
}
}  // namespace

int cmd_saliency(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "saliency takes MODEL.onnx and at least one IMAGE");
  auto model = Model::load(a.positional[0]);
  const Preprocess pre = preprocess_for(*model, a);
  const long batch = a.integer("batch", 8, 1, 4096);
  const std::string out_dir = a.get("out", "saliency"), cmap = a.get("colormap", "jet");
  check_colormap(cmap);
  std::vector<explain::PixelMethod> methods;
  const std::vector<std::string> list = a.list("method", "gradient");
  if (list == std::vector<std::string>{"all"}) methods = explain::all_pixel_methods();
  else
    for (const auto& name : list) methods.push_back(explain::parse_pixel_method(name));
  const explain::Target target = target_from(a);
  explain::PixelOptions po;
  po.layer = a.get("layer");
  po.noise_samples = int(a.integer("samples", po.noise_samples, 1, 1 << 20));
  po.noise_std = float(a.number("noise-std", po.noise_std, 0.0, 1e6));
  po.noise_seed = uint32_t(a.integer("seed", 0, 0, UINT32_MAX));
  explain::PixelExplainer explainer(model, session_options(a), po);
  fs::create_directories(out_dir);
  PictureSink pictures(a);
  int failures = 0;
  for_each_image_batch(a, pre, batch, failures, [&](const LoadedImages& loaded, int64_t step) {
    if (a.has("project-channel")) {  // Deconvnet's projection of one channel of --layer (the range: by project)
      const int64_t c = a.integer("project-channel", 0, 0, INT32_MAX);
      const Tensor signal = explainer.project(loaded.batch, explainer.layer(), c, a.flag("peak")).to(Device::cpu());
      const int64_t C = signal.dim(1), H = signal.dim(2), W = signal.dim(3);
      for (size_t i = 0; i < loaded.images.size(); ++i) {
        std::string layer_part = explainer.layer();
        for (char& ch : layer_part)
          if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
        const std::string png = (fs::path(out_dir) / (loaded.stems[i] + "_project_" +
                                                      layer_part + "_" + std::to_string(c) + ".png"))
                                    .string();
        pictures.save(png, signal_picture(signal.data<float>() + int64_t(i) * C * H * W, C, H, W), step);
        std::printf("%s  deconvnet projection of channel %lld of %s -> %s\n", loaded.names[i].c_str(),
                    static_cast<long long>(c), explainer.layer().c_str(), png.c_str());
      }
      return;
    }
    const explain::PixelExplanation e = explainer.explain(loaded.batch, target, methods);
    const std::vector<int64_t> classes = e.targets.class_list();
    const int64_t K = int64_t(classes.size() / loaded.images.size());
    for (const auto& [method, maps_on_device] : e.maps) {
      const Tensor maps = maps_on_device.to(Device::cpu());
      const Tensor signal = e.gradients.at(method).to(Device::cpu());
      const int64_t H = maps.dim(1), W = maps.dim(2), C = signal.dim(1);
      const bool signal_shaped = method == explain::PixelMethod::deconvnet || method == explain::PixelMethod::guided ||
                                 method == explain::PixelMethod::guided_gradcam;
      for (size_t i = 0; i < loaded.images.size(); ++i) {
        const Image& seen = loaded.images[i];
        for (int64_t k = 0; k < K; ++k) {
          const int64_t row = int64_t(i) * K + k;
          const std::string stem = (fs::path(out_dir) / (loaded.stems[i] + "_" +
                                                         explain::pixel_method_name(method) + "_" +
                                                         std::to_string(classes[row])))
                                       .string();
          pictures.save(stem + ".png", overlay(seen, maps.data<float>() + row * H * W, cmap), step);
          if (signal_shaped)
            pictures.save(stem + "_signal.png", signal_picture(signal.data<float>() + row * C * H * W, C, H, W), step);
          std::printf("%s  %-15s %4lld -> %s.png\n", loaded.names[i].c_str(), explain::pixel_method_name(method),
                      static_cast<long long>(classes[row]), stem.c_str());
        }
      }
    }
  });
  std::fflush(stdout);
  return failures ? 1 : 0;
}

}  // namespace glassbox::tools
