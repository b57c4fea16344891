// Gradient class activation maps on device buffers: CAM, Grad-CAM, Grad-CAM++, XGrad-CAM, LayerCAM, HiResCAM,
// Grad-CAM element-wise and Smooth Grad-CAM++ (formulas and papers: kernels::CamMethod in kernels/kernels.h).
//
//   glassbox::explain::Explainer ex(model);                        // layer: the last 4-D activation before pooling
//   auto e = ex.explain(batch, {}, {CamMethod::gradcam, CamMethod::gradcampp});   // one forward, one backward
//   e.maps[CamMethod::gradcam]                                     // [N, H, W] at the input's size, in [0, 1]
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"

namespace glassbox::explain {

using kernels::CamMethod;

CamMethod parse_method(const std::string& name);  // "gradcam", "gradcampp", ... (errors list the names)
// "all", or names separated by commas: "gradcam,gradcampp".
std::vector<CamMethod> parse_methods(const std::string& list);
const char* method_name(CamMethod m);
std::vector<CamMethod> all_methods();

// What each map explains: the top-k classes of each image, or given classes; the score is the logit, or the
// softmax probability (its gradient through the softmax, taken from the logits).
struct Target {
  int top = 1;                   // with classes empty: the `top` highest-scoring classes, K maps per image
  std::vector<int64_t> classes;  // one class per image, or one for every image
  bool probability = false;
};

struct ExplainOptions {
  std::string layer;          // any name Model::resolve takes; "" = default_layer(model)
  // LayerCAM's multi-layer fusion (Jiang et al. 2021): more layers (usually shallower) whose LayerCAM maps are
  // fused with `layer`'s: each map M upsampled to the output, scaled by tanh(fuse_gamma * M / max M), then the
  // element-wise maximum. Other methods use `layer` alone. The backward then runs down to the shallowest layer.
  std::vector<std::string> fuse_layers;
  float fuse_gamma = 2.f;
  bool upsample = true;       // maps at the input's resolution (bilinear); else at the layer's
  bool normalize = true;      // each map min-max scaled to [0, 1]
  int noise_samples = 8;      // Smooth Grad-CAM++: noisy copies per image ...
  float noise_std = 0.15f;    // ... with noise N(0, (noise_std * (max - min of the image))^2)
  uint32_t noise_seed = 0;
};

struct Explanation {
  Tensor logits;                     // [N, classes] on the session's device
  Tensor classes;                    // [N * K] on the session's device: the class map i explains (image i / K)
  std::map<CamMethod, Tensor> maps;  // [N * K, H, W] on the session's device
  // The classes on the host (waits for the queued work).
  std::vector<int64_t> class_list() const;
};

// The targets of a batch on the session's device from its logits [N, C]: K per image (the top K, or one given
// class), their classes [N * K] (floats) and seeds [N * K, C] = d score / d logits (Backend::target_seeds).
// Given classes are checked here (range, count) before they go to the device.
struct Targets {
  int64_t K = 1;
  Tensor classes, seeds;
};
Targets make_targets(Session& session, const Tensor& logits, const Target& target);
// The targets of S copies per image (Smooth Grad-CAM++, SmoothGrad): copy n*S + s of image n gets image n's K
// classes (classes [N * K], from make_targets), and seeds [N * S * K, C] from the copies' logits [N * S, C]: rows
// (n*S + s)*K + k, the row order of Session::backward for K seeds per copy.
Targets copy_targets(Session& session, const Tensor& copy_logits, const Tensor& classes, int64_t K, bool probability);

// Copies per forward pass for methods that run perturbed copies of images of shape `image` [N, C, H, W] (the
// perturbation family, the quality metrics): `batch` when positive, else as many as `memory_budget` bytes allow at
// one copy's arena share plus its input twice (a generous bound), clamped to [1, 1024].
int64_t copies_per_pass(Session& session, const Shape& image, int64_t batch, size_t memory_budget);

// The classes of a map batch ([N * K] floats on a device) on the host (waits for the queued work).
std::vector<int64_t> host_classes(const Tensor& classes);

// Where Grad-CAM looks. A CNN: the last global pooling's input (the last 4-D activation). A vision transformer (a
// model with attention, explain/attention.h) whose head averages positions after the last attention (Swin, MaxViT,
// MobileViT, LeViT: GlobalAveragePool, or ReduceMean over the positions of [N, C, H, W], [N, H, W, C] or [N, T, D]):
// that pooling's input. A class-token transformer (ViT, DeiT): the input of the last attention, the output of the
// last LayerNormalization before the last attention Softmax (the tokens [N, T, D]; after the last block only the
// class token reaches the logits, so later token gradients are zero).
std::string default_layer(const Model& model);

// Whether a 4-D layer is channel-last [N, H, W, C] (Swin's stages, timm's NHWC blocks): a LayerNormalization over
// its last axis makes or reads it, a Transpose with perm [0, 3, 1, 2] reads it, or a ReduceMean over axes {1, 2}
// (the head's pooling) reads it.
bool channel_last(const Model& model, const std::string& layer);

// A layer's activation (or gradient) as feature maps [M, C, h, w] for the CAM family: itself when 4-D (channel-last
// layers, channel_last(), read as [M, C, H, W] by one strided copy); a
// transformer's tokens [M, T, D] as the patch grid [M, D, h, w], the class and distillation tokens dropped
// (explain/tokens.h: the grid from the patch embedding at these input shapes), by one strided copy on the device.
Tensor feature_maps(Session& session, const Shape& input_shape, const Tensor& A, const std::string& layer);

class Explainer {
 public:
  explicit Explainer(std::shared_ptr<const Model> model, SessionOptions session = {}, ExplainOptions options = {});
  const std::string& layer() const { return layer_; }
  Session& session() { return session_; }
  // Every method asked for, for every target, from one forward pass and one backward pass over the K targets of
  // each image as one batch (Smooth Grad-CAM++ adds one forward and one backward over the noisy copies). Targets,
  // seeds, noise, maps and their post-processing stay on the session's device: nothing waits for the device
  // until a result is copied to the host.
  Explanation explain(const Tensor& batch, const Target& target, const std::vector<CamMethod>& methods);

 private:
  // Maps of `method` at `layer` from A, G into out [N * K, H, W] at the output's resolution (not normalized).
  void layer_map(CamMethod method, int samples, const Tensor& A, const Tensor& G, Tensor& out);

  std::shared_ptr<const Model> model_;
  ExplainOptions options_;
  std::string layer_;
  std::vector<std::string> fuse_layers_;
  Session session_;
};

}  // namespace glassbox::explain
