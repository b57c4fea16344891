// Attention explanations (definitions and papers in attention.h). Everything after the forward pass runs as
// backend operators on the session's device: head fusion, discarding, the rollout matrices (kernels.h), the
// batched matmul of the rollout product, the class token's row read as a strided copy onto the patch grid, then the
// CAM family's bilinear upsampling and min-max normalization. One forward for the batch; grad_rollout adds one
// backward over the K targets of every image, from the logits down to the first attention block.
#include "explain/attention.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "explain/method_names.h"

namespace glassbox::explain {

namespace {
const std::pair<AttentionMethod, const char*> kAttentionMethods[] = {
    {AttentionMethod::raw, "raw"},
    {AttentionMethod::rollout, "rollout"},
    {AttentionMethod::grad_rollout, "grad_rollout"},
};
const std::pair<HeadFusion, const char*> kFusions[] = {
    {HeadFusion::mean, "mean"},
    {HeadFusion::max, "max"},
    {HeadFusion::min, "min"},
};
}  // namespace

AttentionMethod parse_attention_method(const std::string& name) {
  std::string n = name;
  for (char& c : n)
    if (c == '-') c = '_';
  AttentionMethod m;
  GB_CHECK(find_method(kAttentionMethods, n, m), "unknown attention method '", name,
           "' (available: ", names_in(kAttentionMethods), ")");
  return m;
}
const char* attention_method_name(AttentionMethod m) { return name_in(kAttentionMethods, m); }
std::vector<AttentionMethod> all_attention_methods() { return methods_in(kAttentionMethods); }

HeadFusion parse_head_fusion(const std::string& name) {
  HeadFusion f;
  GB_CHECK(find_method(kFusions, name, f), "unknown head fusion '", name, "' (available: ", names_in(kFusions), ")");
  return f;
}
const char* head_fusion_name(HeadFusion f) { return name_in(kFusions, f); }

std::vector<std::string> attention_layers(const Model& model) {
  const Graph& g = model.graph();
  // Shapes need a plan of every value; a model without Softmax (most CNNs, asked by default_layer) skips it.
  if (std::none_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == "Softmax"; })) return {};
  std::map<std::string, Shape> shapes;
  for (const auto& l : model.layers(1)) shapes[l.name] = l.shape;
  std::vector<std::string> out;
  for (const Node& n : g.nodes) {
    if (n.op != "Softmax" || n.outputs.empty()) continue;
    const std::string& name = g.values[n.outputs[0]].name;
    const auto it = shapes.find(name);
    if (it == shapes.end()) continue;
    const Shape& s = it->second;
    int64_t axis = n.attrs.i("axis", g.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += int64_t(s.size());
    if (s.size() == 4 && s[2] == s[3] && axis == 3) out.push_back(name);
  }
  return out;
}

std::vector<int64_t> AttentionExplanation::class_list() const { return host_classes(classes); }

AttentionExplainer::AttentionExplainer(std::shared_ptr<const Model> model, SessionOptions session,
                                       AttentionOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_(model_, std::move(session)) {
  GB_CHECK(options_.discard_ratio >= 0.f && options_.discard_ratio <= 1.f, "the discard ratio ",
           options_.discard_ratio, " is outside [0, 1] (the fraction of each fused attention matrix set to 0)");
  layers_ = attention_layers(*model_);
  GB_CHECK(!layers_.empty(), "the model has no attention layers: no Softmax over the last axis makes a [N, heads, "
                             "T, T] value (attention explanations need a vision transformer)");
  const int blocks = int(layers_.size());
  if (options_.method == AttentionMethod::raw) {
    const int b = options_.block < 0 ? blocks + options_.block : options_.block;
    GB_CHECK(b >= 0 && b < blocks, "attention block ", options_.block, " is out of range: the model has ", blocks,
             " attention block(s) (0 .. ", blocks - 1, ", or -1 for the last)");
    options_.block = b;
    session_.capture({layers_[b]});
  } else {
    session_.capture(layers_);
  }
  // The backward runs from the logits down to the first block's attention, no further.
  if (options_.method == AttentionMethod::grad_rollout) session_.track_gradients(layers_);
}

AttentionExplanation AttentionExplainer::explain(const Tensor& batch, const Target& target) {
  kernels::Backend& backend = session_.backend();
  const AttentionMethod method = options_.method;
  const Tensor x = session_.place(batch);
  const Result r = session_.run(x);
  AttentionExplanation e;
  e.logits = r.output();
  const Targets targets = make_targets(session_, e.logits, target);
  e.classes = targets.classes;
  const int64_t K = targets.K, N = e.logits.dim(0);

  const Tensor& first = r.capture(method == AttentionMethod::raw ? layers_[options_.block] : layers_[0]);
  GB_CHECK(first.rank() == 4 && first.dim(2) == first.dim(3) && first.dim(0) == N, "the attention '",
           method == AttentionMethod::raw ? layers_[options_.block] : layers_[0], "' has shape ",
           shape_str(first.shape()), "; [", N, ", heads, T, T] was expected");
  const int64_t T = first.dim(2);
  TokenGrid grid = options_.grid;
  if (grid.height * grid.width > 0) {
    grid.prefix = T - grid.height * grid.width;
    GB_CHECK(grid.prefix >= 0, "the patch grid ", grid.height, " x ", grid.width, " has more patches than the ", T,
             " tokens");
  } else {
    grid = token_grid(*model_, session_.plan_for({x.shape()}), T);
  }
  e.grid = grid;

  // R: the rollout (or the fused attention for raw), one [T, T] matrix per row: N rows, or N * K for grad_rollout.
  const int64_t M = method == AttentionMethod::grad_rollout ? N * K : N;
  Tensor fused = session_.allocate({M, T, T});
  Tensor R, next;
  auto multiply = [&](bool first_block) {  // R = fused R (R = I before the first block: R = fused)
    if (first_block) {
      std::swap(R, fused);
      fused = session_.allocate({M, T, T});
      return;
    }
    if (!next.defined()) next = session_.allocate({M, T, T});
    backend.matmul(kernels::view_of(fused), kernels::view_of(R), kernels::view_of(next));
    std::swap(R, next);
  };
  if (method == AttentionMethod::raw) {
    backend.fuse_heads(options_.fusion, kernels::view_of(first), kernels::view_of(fused));
    R = fused;
  } else if (method == AttentionMethod::rollout) {
    for (size_t b = 0; b < layers_.size(); ++b) {
      const Tensor& A = r.capture(layers_[b]);
      GB_CHECK(A.rank() == 4 && A.dim(0) == N && A.dim(2) == T && A.dim(3) == T, "the attention '", layers_[b],
               "' has shape ", shape_str(A.shape()), "; [", N, ", heads, ", T, ", ", T, "] was expected");
      backend.fuse_heads(options_.fusion, kernels::view_of(A), kernels::view_of(fused));
      if (options_.discard_ratio > 0.f) backend.discard_smallest(options_.discard_ratio, kernels::view_of(fused));
      backend.rollout_step(true, kernels::view_of(fused));
      multiply(b == 0);
    }
  } else {
    const std::map<std::string, Tensor> grads = session_.backward({targets.seeds});
    Tensor product;
    for (size_t b = 0; b < layers_.size(); ++b) {
      const Tensor& A = r.capture(layers_[b]);
      const Tensor& G = grads.at(layers_[b]);
      GB_CHECK(A.rank() == 4 && A.dim(0) == N && A.dim(2) == T && A.dim(3) == T && G.shape()[0] == N * K &&
                   G.numel() == A.numel() * K,
               "the attention '", layers_[b], "' has shape ", shape_str(A.shape()), " and gradient ",
               shape_str(G.shape()), "; [", N, ", heads, ", T, ", ", T, "] was expected");
      const int64_t heads = A.dim(1), X = heads * T * T;
      if (!product.defined() || product.numel() != M * X) product = session_.allocate({M, heads, T, T});
      // max(G * A, 0): row n*K + k of G (target k of image n) times row n of A, broadcast over the targets.
      Tensor product_nk = product.reshape({N, K, X});
      backend.binary(kernels::BinaryOp::mul, {kernels::Activation::relu}, kernels::view_of(A.reshape({N, 1, X})),
                     kernels::view_of(G.reshape({N, K, X})), kernels::view_of(product_nk));
      backend.fuse_heads(options_.fusion, kernels::view_of(product), kernels::view_of(fused));
      backend.rollout_step(false, kernels::view_of(fused));  // I + Abar: R + Abar R = (I + Abar) R
      multiply(b == 0);
    }
  }

  // The class token's row, the patches only: map[m, i, j] = R[m, 0, P + i w + j].
  const int64_t h = grid.height, w = grid.width;
  Tensor small = session_.allocate({M, h, w});
  backend.strided_copy(grid.prefix, {T * T, w, 1}, kernels::view_of(R), kernels::view_of(small));
  if (M != N * K) {  // raw and rollout: the same map for each of an image's K targets
    Tensor repeated = session_.allocate({N * K, h, w});
    backend.repeat_rows(kernels::view_of(small), kernels::view_of(repeated));
    small = repeated;
  }
  if (options_.upsample && x.rank() == 4 && (x.dim(2) != h || x.dim(3) != w)) {
    e.maps = session_.allocate({N * K, x.dim(2), x.dim(3)});
    backend.resize_bilinear(kernels::view_of(small), kernels::view_of(e.maps));
  } else {
    e.maps = small;
  }
  if (options_.normalize) backend.normalize_minmax(kernels::view_of(e.maps));
  return e;
}

}  // namespace glassbox::explain
