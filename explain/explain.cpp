#include "explain/explain.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace glassbox::explain {

namespace {
const std::pair<CamMethod, const char*> kMethods[] = {
    {CamMethod::cam, "cam"},
    {CamMethod::gradcam, "gradcam"},
    {CamMethod::gradcampp, "gradcampp"},
    {CamMethod::xgradcam, "xgradcam"},
    {CamMethod::layercam, "layercam"},
    {CamMethod::hirescam, "hirescam"},
    {CamMethod::gradcam_elementwise, "gradcam_elementwise"},
    {CamMethod::smoothgradcampp, "smoothgradcampp"},
};

// d score / d logits per image: one-hot for a logit, p_c (e_c - p) for a softmax probability.
Tensor seed_for(const Tensor& logits, const std::vector<int64_t>& cls, bool probability) {
  const int64_t N = logits.dim(0), C = logits.dim(1);
  Tensor seed = Tensor::zeros({N, C});
  for (int64_t n = 0; n < N; ++n) {
    float* s = seed.data<float>() + n * C;
    const int64_t c = cls[n];
    if (!probability) {
      s[c] = 1.f;
      continue;
    }
    const float* z = logits.data<float>() + n * C;
    const float m = *std::max_element(z, z + C);
    double sum = 0;
    for (int64_t j = 0; j < C; ++j) sum += std::exp(double(z[j]) - m);
    const double pc = std::exp(double(z[c]) - m) / sum;
    for (int64_t j = 0; j < C; ++j) s[j] = float(-pc * std::exp(double(z[j]) - m) / sum);
    s[c] = float(pc * (1 - pc));
  }
  return seed;
}
}  // namespace

CamMethod parse_method(const std::string& name) {
  std::string known;
  for (const auto& [m, n] : kMethods) {
    if (name == n) return m;
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  fail("unknown explanation method '", name, "' (available: ", known, ")");
}

std::vector<CamMethod> parse_methods(const std::string& list) {
  if (list == "all") return all_methods();
  std::vector<CamMethod> methods;
  size_t start = 0;
  for (size_t i = 0; i <= list.size(); ++i)
    if (i == list.size() || list[i] == ',') {
      if (i > start) methods.push_back(parse_method(list.substr(start, i - start)));
      start = i + 1;
    }
  GB_CHECK(!methods.empty(), "no explanation method in '", list, "'");
  return methods;
}

const char* method_name(CamMethod m) {
  for (const auto& [k, n] : kMethods)
    if (k == m) return n;
  return "?";
}

std::vector<CamMethod> all_methods() {
  std::vector<CamMethod> v;
  for (const auto& [m, n] : kMethods) v.push_back(m);
  return v;
}

std::string default_layer(const Model& model) {
  const Graph& g = model.graph();
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it)
    if (it->op == "GlobalAveragePool" || it->op == "ReduceMean" || it->op == "AveragePool")
      return g.values[it->inputs[0]].name;
  std::string last;
  for (const auto& l : model.layers())
    if (l.shape.size() == 4) last = l.name;
  GB_CHECK(!last.empty(), "the model has no 4-D activation to explain; give a layer");
  return last;
}

Explainer::Explainer(std::shared_ptr<const Model> model, SessionOptions session, ExplainOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_(model_, std::move(session)) {
  layer_ = options_.layer.empty() ? default_layer(*model_) : model_->resolve(options_.layer);
  session_.capture({layer_});
  session_.track_gradients({layer_});
}

Explanation Explainer::explain(const Tensor& batch, const Target& target, const std::vector<CamMethod>& methods) {
  GB_CHECK(!methods.empty(), "no explanation method asked for");
  kernels::Backend& backend = session_.backend();
  if (std::count(methods.begin(), methods.end(), CamMethod::cam)) {
    const Graph& g = model_->graph();
    const int v = g.find_value(layer_);
    bool feeds_pool = false;
    for (const Node& n : g.nodes)
      feeds_pool = feeds_pool || (n.op == "GlobalAveragePool" && n.inputs[0] == v);
    GB_CHECK(feeds_pool, "CAM needs the layer to feed a global average pool and a linear classifier; '", layer_,
             "' does not (use gradcam, which equals CAM up to a ReLU and a scale on such heads)");
  }
  Result r = session_.run(batch);
  Explanation e;
  e.logits = r.output().to(Device::cpu());
  const int64_t N = e.logits.dim(0), C = e.logits.dim(1);
  GB_CHECK(target.classes.empty() || target.classes.size() == 1 || int64_t(target.classes.size()) == N,
           "give one target class per image (", N, ") or one for all, not ", target.classes.size());
  const int64_t K = target.classes.empty() ? std::clamp<int64_t>(target.top, 1, C) : 1;
  std::vector<std::vector<int64_t>> per_rank(K, std::vector<int64_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    if (!target.classes.empty()) {
      const int64_t c = target.classes[target.classes.size() == 1 ? 0 : n];
      GB_CHECK(c >= 0 && c < C, "target class ", c, " is out of range (", C, " classes)");
      per_rank[0][n] = c;
      continue;
    }
    std::vector<int64_t> order(C);
    std::iota(order.begin(), order.end(), 0);
    const float* z = e.logits.data<float>() + n * C;
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int64_t a, int64_t b) { return z[a] > z[b]; });
    for (int64_t k = 0; k < K; ++k) per_rank[k][n] = order[k];
  }
  e.classes.resize(N * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) e.classes[n * K + k] = per_rank[k][n];

  const Tensor A = r.capture(layer_);
  const Shape& as = A.shape();
  GB_CHECK(as.size() == 4, "layer '", layer_, "' has shape ", shape_str(as), "; class activation maps need [N, C, H, W]");
  const int64_t H = options_.upsample ? batch.dim(2) : as[2], W = options_.upsample ? batch.dim(3) : as[3];
  for (CamMethod m : methods) e.maps[m] = session_.allocate({N * K, H, W});

  // Post-processing on the device: upsample, normalize, then into rows n*K + k of the method's maps.
  Tensor small = session_.allocate({N, as[2], as[3]});
  Tensor large = options_.upsample ? session_.allocate({N, H, W}) : small;
  auto finish = [&](CamMethod m, int64_t k) {
    if (options_.upsample) backend.resize_bilinear(kernels::view_of(small), kernels::view_of(large));
    if (options_.normalize) backend.normalize_minmax(kernels::view_of(large));
    for (int64_t n = 0; n < N; ++n) {
      const Tensor src = large.slice(n, n + 1);
      Tensor dst = e.maps[m].slice(n * K + k, n * K + k + 1);
      backend.copy(kernels::view_of(src), kernels::view_of(dst));
    }
  };

  // One backward per target rank; every method reads the same A and G.
  for (int64_t k = 0; k < K; ++k) {
    const Tensor G = session_.backward({seed_for(e.logits, per_rank[k], target.probability)}).at(layer_);
    for (CamMethod m : methods) {
      if (m == CamMethod::smoothgradcampp) continue;
      backend.cam(m, 1, kernels::view_of(A), kernels::view_of(G), kernels::view_of(small));
      finish(m, k);
    }
  }

  if (std::count(methods.begin(), methods.end(), CamMethod::smoothgradcampp)) {
    // The noisy copies as one batch: image n's copies are rows n*S .. n*S+S-1.
    const int64_t S = std::max(1, options_.noise_samples);
    const Tensor host = batch.to(Device::cpu());
    const int64_t image = host.numel() / N;
    Tensor noisy = Tensor::empty({N * S, host.dim(1), host.dim(2), host.dim(3)});
    std::mt19937 rng(options_.noise_seed);
    for (int64_t n = 0; n < N; ++n) {
      const float* x = host.data<float>() + n * image;
      const auto [lo, hi] = std::minmax_element(x, x + image);
      std::normal_distribution<float> noise(0.f, options_.noise_std * (*hi - *lo));
      for (int64_t s = 0; s < S; ++s) {
        float* y = noisy.data<float>() + (n * S + s) * image;
        for (int64_t i = 0; i < image; ++i) y[i] = x[i] + noise(rng);
      }
    }
    Result rn = session_.run(noisy);
    const Tensor logits = rn.output().to(Device::cpu());
    for (int64_t k = 0; k < K; ++k) {
      std::vector<int64_t> cls(N * S);
      for (int64_t i = 0; i < N * S; ++i) cls[i] = per_rank[k][i / S];
      const Tensor G = session_.backward({seed_for(logits, cls, target.probability)}).at(layer_);
      backend.cam(CamMethod::smoothgradcampp, int(S), kernels::view_of(rn.capture(layer_)), kernels::view_of(G),
                  kernels::view_of(small));
      finish(CamMethod::smoothgradcampp, k);
    }
  }
  return e;
}

}  // namespace glassbox::explain
