// glassbox attention: for each image (and target class, for grad-rollout), DIR/<image>_<method>_<class>.png: the
// map over the image (bilinear from the patch grid, min-max normalized), and with --save-raw the map as .npy.
#include "tools/glassbox/attention.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "explain/attention.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/overlay.h"

namespace glassbox::tools {

namespace fs = std::filesystem;

int cmd_attention(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "attention takes MODEL.onnx and at least one IMAGE");
  auto model = Model::load(a.positional[0]);
  const Preprocess pre = preprocess_for(*model, a);
  const long batch = a.integer("batch", 8, 1, 4096);
  const std::string out_dir = a.get("out", "attention"), cmap = a.get("colormap", "jet");
  check_colormap(cmap);
  explain::AttentionOptions ao;
  ao.method = explain::parse_attention_method(a.get("method", "rollout"));
  ao.fusion = explain::parse_head_fusion(a.get("head-fusion", "mean"));
  ao.discard_ratio = float(a.number("discard-ratio", 0.0, 0.0, 1.0));
  if (a.has("block")) {  // 0 = the first block, -1 = the last (the range: by the explainer, against the model)
    const int64_t b = a.integer("block", -1, -(1 << 20), 1 << 20);
    GB_CHECK(ao.method == explain::AttentionMethod::raw, "--block applies to --method raw only (rollouts use every "
                                                         "block)");
    ao.block = int(b);
  }
  GB_CHECK(ao.discard_ratio == 0.f || ao.method == explain::AttentionMethod::rollout,
           "--discard-ratio applies to --method rollout only");
  const explain::Target target = target_from(a);
  explain::AttentionExplainer explainer(model, session_options(a), ao);
  const char* method = explain::attention_method_name(ao.method);
  std::printf("%s over %zu attention block(s), heads fused by %s\n", method, explainer.layers().size(),
              explain::head_fusion_name(ao.fusion));
  fs::create_directories(out_dir);
  PictureSink pictures(a);
  int failures = 0;
  for_each_image_batch(a, pre, batch, failures, [&](const LoadedImages& loaded, int64_t step) {
    const explain::AttentionExplanation e = explainer.explain(loaded.batch, target);
    const std::vector<int64_t> classes = e.class_list();
    const int64_t K = int64_t(classes.size() / loaded.images.size());
    const Tensor maps = e.maps.to(Device::cpu());
    const int64_t H = maps.dim(1), W = maps.dim(2);
    if (step == 0)
      std::printf("patch grid %lld x %lld, %lld prefix token(s)\n", static_cast<long long>(e.grid.height),
                  static_cast<long long>(e.grid.width), static_cast<long long>(e.grid.prefix));
    for (size_t i = 0; i < loaded.images.size(); ++i) {
      const Image& seen = loaded.images[i];
      GB_CHECK(seen.width == W && seen.height == H, "maps are ", W, "x", H, " but the input image is ", seen.width,
               "x", seen.height);
      for (int64_t k = 0; k < K; ++k) {
        const int64_t row = int64_t(i) * K + k;
        const std::string stem = (fs::path(out_dir) / (loaded.stems[i] + "_" + method +
                                                       "_" + std::to_string(classes[row])))
                                     .string();
        pictures.save(stem + ".png", overlay(seen, maps.data<float>() + row * H * W, cmap), step);
        if (a.flag("save-raw")) save_npy(stem + ".npy", maps.data<float>() + row * H * W, {H, W});
        std::printf("%s  %-12s %4lld -> %s.png\n", loaded.names[i].c_str(), method,
                    static_cast<long long>(classes[row]), stem.c_str());
      }
    }
  });
  std::fflush(stdout);
  return failures ? 1 : 0;
}

}  // namespace glassbox::tools
