#include "explain/explain.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "explain/attention.h"
#include "explain/method_names.h"
#include "explain/tokens.h"

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

}  // namespace

CamMethod parse_method(const std::string& name) {
  CamMethod m;
  GB_CHECK(find_method(kMethods, name, m), "unknown explanation method '", name, "' (available: ", names_in(kMethods),
           ")");
  return m;
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

const char* method_name(CamMethod m) { return name_in(kMethods, m); }

std::vector<CamMethod> all_methods() { return methods_in(kMethods); }

Targets make_targets(Session& session, const Tensor& logits, const Target& target) {
  GB_CHECK(logits.rank() == 2, "explanations need logits [N, classes]; the model's output is ",
           shape_str(logits.shape()));
  const int64_t N = logits.dim(0), C = logits.dim(1);
  Targets t;
  t.K = target.classes.empty() ? std::clamp<int64_t>(target.top, 1, C) : 1;
  Tensor given;
  if (!target.classes.empty()) {
    GB_CHECK(target.classes.size() == 1 || int64_t(target.classes.size()) == N, "give one target class per image (",
             N, ") or one for all, not ", target.classes.size());
    Tensor host = Tensor::empty({N});
    for (int64_t n = 0; n < N; ++n) {
      const int64_t c = target.classes[target.classes.size() == 1 ? 0 : n];
      GB_CHECK(c >= 0 && c < C, "target class ", c, " is out of range (", C, " classes)");
      host.data<float>()[n] = float(c);
    }
    given = session.place(host);
  }
  t.classes = session.allocate({N * t.K});
  t.seeds = session.allocate({N * t.K, C});
  session.backend().target_seeds(target.probability, kernels::view_of(logits),
                                 given.defined() ? kernels::view_of(given) : kernels::ConstView{},
                                 kernels::view_of(t.seeds), kernels::view_of(t.classes));
  return t;
}

Targets copy_targets(Session& session, const Tensor& copy_logits, const Tensor& classes, int64_t K, bool probability) {
  const int64_t N = classes.dim(0) / K, S = copy_logits.dim(0) / N;
  Targets t;
  t.K = K;
  Tensor given = session.allocate({N * S * K});
  session.backend().repeat_rows({classes.data<float>(), {N, K}, classes.device()},
                                {given.data<float>(), {N * S, K}, given.device()});
  t.classes = session.allocate({N * S * K});
  t.seeds = session.allocate({N * S * K, copy_logits.dim(1)});
  session.backend().target_seeds(probability, kernels::view_of(copy_logits), kernels::view_of(given),
                                 kernels::view_of(t.seeds), kernels::view_of(t.classes));
  return t;
}

namespace {

// The axes a ReduceMean node reduces (attribute before opset 18, constant input from 18 on), made non-negative for
// an input of rank r; empty when they are not known (all axes, or computed).
std::vector<int64_t> reduced_axes(const Graph& g, const Node& n, int64_t r) {
  std::vector<int64_t> axes = n.attrs.ints("axes");
  if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
    const Tensor& t = g.values[n.inputs[1]].constant;
    if (!t.defined() || t.dtype() != DType::i64) return {};
    axes.assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
  }
  for (int64_t& a : axes) a = a < 0 ? a + r : a;
  std::sort(axes.begin(), axes.end());
  return axes;
}

// The head's pooling of a classifier: a node that averages a feature map or tokens over their positions —
// GlobalAveragePool; ReduceMean over axes {2, 3} of [N, C, H, W], {1, 2} of channel-last [N, H, W, C], or {1} of
// tokens [N, T, D] (ranks from the model's layer shapes).
bool is_position_pooling(const Graph& g, const Node& n, const std::map<int, size_t>& rank) {
  if (n.inputs.empty() || !rank.count(n.inputs[0])) return false;
  const size_t r = rank.at(n.inputs[0]);
  if (n.op == "GlobalAveragePool") return r == 4;
  if (n.op != "ReduceMean") return false;
  const std::vector<int64_t> axes = reduced_axes(g, n, int64_t(r));
  return (r == 4 && (axes == std::vector<int64_t>{2, 3} || axes == std::vector<int64_t>{1, 2})) ||
         (r == 3 && axes == std::vector<int64_t>{1});
}

}  // namespace

std::string default_layer(const Model& model) {
  const Graph& g = model.graph();
  const std::vector<std::string> attention = attention_layers(model);
  if (!attention.empty()) {
    // A transformer whose head averages positions after its last attention (Swin, MaxViT, MobileViT, LeViT): the
    // input of that pooling, the last feature map or token grid the logits see.
    std::map<int, size_t> rank;
    for (const auto& l : model.layers()) rank[g.find_value(l.name)] = l.shape.size();
    const int last = g.find_value(attention.back());
    bool after_attention = false;
    std::string pooled;
    for (const Node& n : g.nodes) {
      if (after_attention && is_position_pooling(g, n, rank)) pooled = g.values[n.inputs[0]].name;
      if (std::find(n.outputs.begin(), n.outputs.end(), last) != n.outputs.end()) after_attention = true;
    }
    if (!pooled.empty()) return pooled;
    // A class-token transformer (ViT, DeiT): the last LayerNormalization before the last attention.
    std::string norm;
    for (const Node& n : g.nodes) {
      if (std::find(n.outputs.begin(), n.outputs.end(), last) != n.outputs.end()) break;
      if (n.op == "LayerNormalization") norm = g.values[n.outputs[0]].name;
    }
    GB_CHECK(!norm.empty(), "the model has attention but no LayerNormalization before its last attention and no "
                            "pooling of positions after it; give the layer whose tokens to explain");
    return norm;
  }
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it)
    if (it->op == "GlobalAveragePool" || it->op == "ReduceMean" || it->op == "AveragePool")
      return g.values[it->inputs[0]].name;
  std::string last;
  for (const auto& l : model.layers())
    if (l.shape.size() == 4) last = l.name;
  GB_CHECK(!last.empty(), "the model has no 4-D activation to explain; give a layer");
  return last;
}

bool channel_last(const Model& model, const std::string& layer) {
  const Graph& g = model.graph();
  const int v = g.find_value(layer);
  if (v < 0) return false;
  const auto last_axis_norm = [](const Node& n) {
    const int64_t a = n.attrs.i("axis", -1);
    return n.op == "LayerNormalization" && (a == -1 || a == 3);
  };
  const std::vector<int> producers = g.producers();
  if (producers[v] >= 0 && last_axis_norm(g.nodes[producers[v]])) return true;
  const std::vector<std::vector<int>> consumers = g.consumers();
  for (int ni : consumers[v]) {
    const Node& n = g.nodes[ni];
    if (n.inputs.empty() || n.inputs[0] != v) continue;
    if (last_axis_norm(n)) return true;
    if (n.op == "Transpose" && n.attrs.ints("perm") == std::vector<int64_t>{0, 3, 1, 2}) return true;
    if (n.op == "ReduceMean" && reduced_axes(g, n, 4) == std::vector<int64_t>{1, 2}) return true;
  }
  return false;
}

Tensor feature_maps(Session& session, const Shape& input_shape, const Tensor& A, const std::string& layer) {
  if (A.rank() == 4 && !channel_last(session.model(), layer)) return A;
  if (A.rank() == 4) {  // [M, H, W, C] read as [M, C, H, W]: maps[m, c, i, j] = A[m, i, j, c]
    const int64_t M = A.dim(0), H = A.dim(1), W = A.dim(2), C = A.dim(3);
    Tensor maps = session.allocate({M, C, H, W});
    session.backend().strided_copy(0, {H * W * C, 1, W * C, C}, kernels::view_of(A), kernels::view_of(maps));
    return maps;
  }
  GB_CHECK(A.rank() == 3, "layer '", layer, "' has shape ", shape_str(A.shape()),
           "; class activation maps need [N, C, H, W] (or channel-last [N, H, W, C]), or a transformer's tokens "
           "[N, T, D]");
  const TokenGrid grid = token_grid(session.model(), session.plan_for({input_shape}), A.dim(1));
  const int64_t M = A.dim(0), T = A.dim(1), D = A.dim(2);
  Tensor maps = session.allocate({M, D, grid.height, grid.width});
  // maps[m, d, i, j] = A[m, prefix + i * width + j, d]
  session.backend().strided_copy(grid.prefix * D, {T * D, 1, grid.width * D, D}, kernels::view_of(A),
                                 kernels::view_of(maps));
  return maps;
}

std::vector<int64_t> host_classes(const Tensor& classes) {
  const Tensor h = classes.to(Device::cpu());
  std::vector<int64_t> out(h.numel());
  for (int64_t i = 0; i < h.numel(); ++i) out[i] = static_cast<int64_t>(h.data<float>()[i]);
  return out;
}

std::vector<int64_t> Explanation::class_list() const { return host_classes(classes); }

int64_t copies_per_pass(Session& session, const Shape& image, int64_t batch, size_t memory_budget) {
  if (batch > 0) return batch;
  GB_CHECK(image.size() == 4, "copies_per_pass takes the input's shape [N, C, H, W], not ", shape_str(image));
  Shape one = image;
  one[0] = 1;
  const size_t per_copy = session.plan_for({one}).arena_bytes + 2 * sizeof(float) * size_t(numel(one));
  return std::clamp<int64_t>(int64_t(memory_budget / std::max<size_t>(per_copy, 1)), 1, 1024);
}

Explainer::Explainer(std::shared_ptr<const Model> model, SessionOptions session, ExplainOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_(model_, std::move(session)) {
  layer_ = options_.layer.empty() ? default_layer(*model_) : model_->resolve(options_.layer);
  std::vector<std::string> layers = {layer_};
  for (const auto& l : options_.fuse_layers) {
    fuse_layers_.push_back(model_->resolve(l));
    layers.push_back(fuse_layers_.back());
  }
  session_.capture(layers);
  session_.track_gradients(layers);
}

void Explainer::layer_map(CamMethod method, int samples, const Tensor& A, const Tensor& G, Tensor& out) {
  kernels::Backend& backend = session_.backend();
  const Shape& as = A.shape();
  GB_CHECK(as.size() == 4, "a layer of shape ", shape_str(as), " has no class activation map; it needs [N, C, H, W]");
  if (out.dim(1) == as[2] && out.dim(2) == as[3]) {
    backend.cam(method, samples, kernels::view_of(A), kernels::view_of(G), kernels::view_of(out));
    return;
  }
  Tensor small = session_.allocate({out.dim(0), as[2], as[3]});
  backend.cam(method, samples, kernels::view_of(A), kernels::view_of(G), kernels::view_of(small));
  backend.resize_bilinear(kernels::view_of(small), kernels::view_of(out));
}

Explanation Explainer::explain(const Tensor& batch, const Target& target, const std::vector<CamMethod>& methods) {
  GB_CHECK(!methods.empty(), "no explanation method asked for");
  kernels::Backend& backend = session_.backend();
  auto has = [&](CamMethod m) { return std::count(methods.begin(), methods.end(), m) > 0; };
  if (has(CamMethod::cam)) {
    const Graph& g = model_->graph();
    const int v = g.find_value(layer_);
    bool feeds_pool = false;
    for (const Node& n : g.nodes)
      feeds_pool = feeds_pool || (n.op == "GlobalAveragePool" && n.inputs[0] == v);
    GB_CHECK(feeds_pool, "CAM needs the layer to feed a global average pool and a linear classifier; '", layer_,
             "' does not (use gradcam, which equals CAM up to a ReLU and a scale on such heads)");
  }
  const Tensor x = session_.place(batch);
  const Result r = session_.run(x);
  Explanation e;
  e.logits = r.output();
  Targets targets = make_targets(session_, e.logits, target);
  const int64_t K = targets.K;
  const int64_t N = e.logits.dim(0);
  e.classes = targets.classes;
  const Tensor& seeds = targets.seeds;

  const Tensor A = feature_maps(session_, x.shape(), r.capture(layer_), layer_);
  const int64_t H = options_.upsample ? x.dim(2) : A.dim(2), W = options_.upsample ? x.dim(3) : A.dim(3);
  auto finish = [&](Tensor& maps) {
    if (options_.normalize) backend.normalize_minmax(kernels::view_of(maps));
  };

  // One backward for the K targets of every image; every method reads the same A and G.
  const std::map<std::string, Tensor> grads = session_.backward({seeds});
  const Tensor G = feature_maps(session_, x.shape(), grads.at(layer_), layer_);
  for (CamMethod m : methods) {
    if (m == CamMethod::smoothgradcampp) continue;
    Tensor& out = e.maps[m] = session_.allocate({N * K, H, W});
    if (m == CamMethod::layercam && !fuse_layers_.empty()) {
      // LayerCAM's fusion: each layer's map scaled by tanh, upsampled to the output, element-wise maximum.
      Tensor layer = session_.allocate({N * K, H, W});
      layer_map(m, 1, A, G, layer);
      backend.fuse_layer_maps(options_.fuse_gamma, true, kernels::view_of(layer), kernels::view_of(out));
      for (const auto& l : fuse_layers_) {
        layer_map(m, 1, feature_maps(session_, x.shape(), r.capture(l), l),
                  feature_maps(session_, x.shape(), grads.at(l), l), layer);
        backend.fuse_layer_maps(options_.fuse_gamma, false, kernels::view_of(layer), kernels::view_of(out));
      }
    } else {
      layer_map(m, 1, A, G, out);
    }
    finish(out);
  }

  if (has(CamMethod::smoothgradcampp)) {
    // The noisy copies as one batch (image n's copies are rows n*S .. n*S+S-1), made on the device; the K targets
    // of each copy are its image's, in one backward.
    const int64_t S = std::max(1, options_.noise_samples);
    Tensor noisy = session_.allocate({N * S, x.dim(1), x.dim(2), x.dim(3)});
    backend.noisy_copies(options_.noise_std, options_.noise_seed, kernels::view_of(x), kernels::view_of(noisy));
    const Result rn = session_.run(noisy);
    const Targets noisy_targets = copy_targets(session_, rn.output(), e.classes, K, target.probability);
    const Tensor Gn = session_.backward({noisy_targets.seeds}).at(layer_);
    Tensor& out = e.maps[CamMethod::smoothgradcampp] = session_.allocate({N * K, H, W});
    layer_map(CamMethod::smoothgradcampp, int(S), feature_maps(session_, x.shape(), rn.capture(layer_), layer_),
              feature_maps(session_, x.shape(), Gn, layer_), out);
    finish(out);
  }
  return e;
}

}  // namespace glassbox::explain
