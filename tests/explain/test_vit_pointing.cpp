// A meaning check for the transformer explanations without downloads (issue 8): a tiny ViT trained by
// tools/python/train_tiny_vit.py on synthetic 64x64 images whose class is the shape of one object at a random
// place (tests/data/vit_pointing: the model, 64 held-out images, their boxes). The pointing game (Zhang et al. 2018):
// a map hits when its maximum lies in the object's box grown by 4 pixels (the usual 15-pixel tolerance at 224,
// scaled to 64). Each method's hit rate over the images is printed; the best must reach 90%.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "explain/attention.h"
#include "explain/explain.h"
#include "tests/support/testdata.h"
#include "tools/glassbox/image.h"

namespace glassbox::test {
namespace {

struct Item {
  std::string file;
  int64_t label = 0;
  int64_t box[4] = {0, 0, 0, 0};  // x0, y0, x1, y1 (x1, y1 exclusive)
};

// boxes.json: a list of {"file": ..., "label": int, "box": [x0, y0, x1, y1], ...}; read by keys, in order.
std::vector<Item> read_boxes(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::vector<Item> items;
  size_t at = 0;
  while ((at = s.find("\"file\"", at)) != std::string::npos) {
    Item it;
    const size_t q0 = s.find('"', s.find(':', at) + 1), q1 = s.find('"', q0 + 1);
    it.file = s.substr(q0 + 1, q1 - q0 - 1);
    const size_t end = s.find('}', q1);
    const size_t lab = s.find("\"label\"", q1);
    if (lab < end) it.label = std::stoll(s.substr(s.find(':', lab) + 1));
    const size_t box = s.find("\"box\"", q1);
    if (box < end) {
      size_t p = s.find('[', box) + 1;
      for (int k = 0; k < 4; ++k) {
        it.box[k] = std::stoll(s.substr(p));
        p = s.find_first_of(",]", p) + 1;
      }
    }
    items.push_back(it);
    at = q1;
  }
  return items;
}

// Whether the maximum of map (H x W, row-major) lies in the box grown by `tolerance` pixels.
bool hit(const float* map, int64_t H, int64_t W, const Item& it, int64_t tolerance) {
  int64_t best = 0;
  for (int64_t i = 1; i < H * W; ++i)
    if (map[i] > map[best]) best = i;
  const int64_t y = best / W, x = best % W;
  return x >= it.box[0] - tolerance && x < it.box[2] + tolerance && y >= it.box[1] - tolerance &&
         y < it.box[3] + tolerance;
}

TEST(VitPointingGame, BestMethodPointsAtTheEvidence) {
  const std::string dir = source_dir() + "/tests/data/vit_pointing";
  auto model = Model::load(dir + "/model.onnx");
  const auto items = read_boxes(dir + "/boxes.json");
  ASSERT_GE(items.size(), 32u);
  const tools::Preprocess pre = tools::Preprocess::for_model(model->input_shape(), model->metadata("glassbox.preprocess"));
  std::vector<tools::Image> images;
  for (const auto& it : items) images.push_back(tools::load_image(dir + "/" + it.file));
  const Tensor x = tools::make_batch(images, pre);
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3);
  ASSERT_EQ(H, 64);
  // Explain the true class of each image.
  explain::Target truth;
  for (const auto& it : items) truth.classes.push_back(it.label);

  std::vector<std::pair<std::string, Tensor>> maps;
  for (auto m : {explain::AttentionMethod::raw, explain::AttentionMethod::rollout,
                 explain::AttentionMethod::grad_rollout}) {
    explain::AttentionOptions o;
    o.method = m;
    maps.emplace_back(explain::attention_method_name(m), explain::AttentionExplainer(model, {}, o).explain(x, truth).maps);
  }
  const auto cams = explain::Explainer(model).explain(
      x, truth, {explain::CamMethod::gradcam, explain::CamMethod::gradcampp, explain::CamMethod::xgradcam,
                 explain::CamMethod::layercam, explain::CamMethod::hirescam});
  for (const auto& [m, t] : cams.maps) maps.emplace_back(explain::method_name(m), t);
  // Accuracy of the model on these images, for the record.
  const Tensor logits = cams.logits.to(Device::cpu());
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    int64_t arg = 0;
    for (int64_t c = 1; c < logits.dim(1); ++c)
      if (logits.data<float>()[n * logits.dim(1) + c] > logits.data<float>()[n * logits.dim(1) + arg]) arg = c;
    correct += arg == items[n].label;
  }
  std::printf("tiny ViT accuracy on the %lld pointing images: %.1f%%\n", static_cast<long long>(N), 100.0 * correct / N);
  double best = 0;
  for (const auto& [name, t] : maps) {
    const Tensor h = t.to(Device::cpu());
    ASSERT_EQ(h.shape(), (Shape{N, H, W})) << name;
    int64_t hits = 0;
    for (int64_t n = 0; n < N; ++n) hits += hit(h.data<float>() + n * H * W, H, W, items[n], 4);
    const double rate = double(hits) / N;
    std::printf("pointing game %-20s %5.1f%% (%lld of %lld)\n", name.c_str(), 100 * rate,
                static_cast<long long>(hits), static_cast<long long>(N));
    best = std::max(best, rate);
  }
  EXPECT_GE(best, 0.9);
}

}  // namespace
}  // namespace glassbox::test
