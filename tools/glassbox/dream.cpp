// glassbox dream: images that maximize a channel, a neuron, a layer's energy or a class (explain/ascent.h), one
// batch row per objective: DIR/dream_<objective>.png, the objective every 32 steps, the final top-5 probabilities.
#include "tools/glassbox/dream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "explain/ascent.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/labels.h"

namespace glassbox::tools {

namespace fs = std::filesystem;

namespace {
std::string file_safe(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+')) c = '_';
  return s;
}
}  // namespace

int cmd_dream(const Args& a) {
  GB_CHECK(a.positional.size() == 1, "dream takes MODEL.onnx (and the objective's options)");
  auto model = Model::load(a.positional[0]);
  const Preprocess pre = preprocess_for(*model, a);

  std::vector<explain::Objective> objectives;
  // --class K[,K...] (or its older name --batch-classes): one objective, one batch row, per class.
  GB_CHECK(!(a.has("class") && a.has("batch-classes")), "dream: give --class or --batch-classes, not both");
  const std::string class_option = a.has("batch-classes") ? "batch-classes" : "class";
  const bool has_class = a.has(class_option);
  const std::string layer = a.get("layer");
  GB_CHECK(int(has_class) + int(!layer.empty()) == 1,
           "dream: give --layer L --channel C[,C...] (or --energy), or --class K[,K...]");
  const bool probability = a.flag("probability");
  // Non-negative integers of a list option (their range is checked against the model by the Dreamer).
  auto indices = [&](const std::string& key) {
    std::vector<int64_t> out;
    for (const std::string& k : a.list(key)) {
      GB_CHECK(k.size() <= 9 && k.find_first_not_of("0123456789") == std::string::npos, "dream: --", key,
               ": expected non-negative integers, got '", k.substr(0, 40), "'");
      out.push_back(std::stol(k));
    }
    return out;
  };
  if (has_class)
    for (int64_t k : indices(class_option))
      objectives.push_back(explain::Objective::of(probability ? explain::Term::probability(k) : explain::Term::logit(k)));
  if (!layer.empty()) {
    if (a.flag("energy")) {
      GB_CHECK(!a.has("channel"), "dream: give --channel or --energy, not both");
      objectives.push_back(explain::Objective::of(explain::Term::energy(layer)));
    } else {
      GB_CHECK(a.has("channel"), "dream --layer needs --channel C[,C...] (or --energy)");
      for (int64_t ch : indices("channel"))
        objectives.push_back(explain::Objective::of(a.flag("neuron") ? explain::Term::neuron(layer, ch)
                                                                     : explain::Term::channel(layer, ch)));
    }
  }

  explain::AscentOptions o;
  const int64_t size = a.integer("size", pre.crop > 0 ? pre.crop : 224, 8, 4096);
  o.height = o.width = size;
  o.steps = int(a.integer("steps", o.steps, 1, 1 << 20));
  o.parameterization = explain::parse_parameterization(a.get("param", "pixel"));
  o.lr = float(a.number("lr", o.lr, 0.0, 1e6));
  o.seed = uint32_t(a.integer("seed", 0, 0, UINT32_MAX));
  o.l2 = float(a.number("l2", o.l2, 0.0, 1e6));
  o.tv = float(a.number("tv", o.tv, 0.0, 1e6));
  o.blur_every = int(a.integer("blur-every", o.blur_every, 0, 1 << 20));
  o.transforms = !a.flag("no-transforms");
  o.log_every = 32;
  for (int c = 0; c < 3; ++c) o.mean[c] = pre.mean[c], o.std[c] = pre.std[c];

  explain::Dreamer dreamer(model, session_options(a), o);
  const explain::AscentResult r = dreamer.run(objectives);
  PictureSink pictures(a);  // --tensorboard DIR: the objectives as scalars, the images at the last step
  for (size_t i = 0; i < r.steps.size(); ++i) {
    std::printf("step %4d", r.steps[i]);
    for (size_t b = 0; b < r.objective[i].size(); ++b) {
      std::printf("  %.5g", r.objective[i][b]);
      if (pictures.tensorboard())
        pictures.tensorboard()->add_scalar("objective/" + objectives[b].name(), r.steps[i], r.objective[i][b]);
    }
    std::printf("\n");
  }

  const Tensor images = r.images.to(Device::cpu());
  const int64_t B = images.dim(0), H = images.dim(2), W = images.dim(3), P = H * W;
  const std::string out_dir = a.get("out", "dream");
  fs::create_directories(out_dir);
  Tensor x = Tensor::empty(images.shape());
  for (int64_t b = 0; b < B; ++b) {
    Image img;
    img.width = int(W), img.height = int(H);
    img.rgb.resize(size_t(P * 3));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t q = 0; q < P; ++q) {
        const float v = std::clamp(images.data<float>()[(b * 3 + c) * P + q], 0.f, 1.f);
        img.rgb[size_t(q * 3 + c)] = static_cast<uint8_t>(std::lround(v * 255.f));
        x.data<float>()[(b * 3 + c) * P + q] = (255.f * v - pre.mean[c]) / pre.std[c];
      }
    const std::string path = (fs::path(out_dir) / ("dream_" + file_safe(objectives[size_t(b)].name()) + ".png")).string();
    pictures.save(path, img, r.steps.empty() ? 0 : r.steps.back());
    std::printf("wrote %s\n", path.c_str());
  }

  // The final images' class probabilities (no transforms).
  std::vector<std::string> labels;
  if (!a.get("labels").empty()) labels = load_labels(a.get("labels"));
  Session session(model, session_options(a));
  const Tensor logits = session.run(x).output().to(Device::cpu());
  if (logits.rank() == 2) {
    const int64_t C = logits.dim(1);
    for (int64_t b = 0; b < B; ++b) {
      const float* z = logits.data<float>() + b * C;
      const double m = *std::max_element(z, z + C);
      double sum = 0;
      for (int64_t j = 0; j < C; ++j) sum += std::exp(double(z[j]) - m);
      std::vector<int64_t> order(static_cast<size_t>(C));
      std::iota(order.begin(), order.end(), 0);
      const size_t top = size_t(std::min<int64_t>(5, C));
      std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int64_t i, int64_t j) {
        return z[i] > z[j] || (z[i] == z[j] && i < j);
      });
      std::printf("%s:", objectives[size_t(b)].name().c_str());
      for (const auto& [w, t] : objectives[size_t(b)].terms)
        if (t.kind == explain::TermKind::logit || t.kind == explain::TermKind::probability)
          if (t.index >= 0 && t.index < C) std::printf(" p(%ld) = %.4f;", long(t.index), std::exp(double(z[t.index]) - m) / sum);
      std::printf(" top-%zu", top);
      for (size_t i = 0; i < top; ++i) {
        const int64_t k = order[i];
        std::printf(" %ld%s%s%s %.4f", long(k), labels.empty() ? "" : " (",
                    size_t(k) < labels.size() ? labels[size_t(k)].c_str() : "", labels.empty() ? "" : ")",
                    std::exp(double(z[k]) - m) / sum);
      }
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace glassbox::tools
