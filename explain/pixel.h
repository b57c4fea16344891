// Pixel-space explanations: gradients at the input under a backward rule for the rectifiers (kernels::BackwardRule,
// chosen per call on the same plan — no second graph), on device buffers, batched, K targets per image from one
// backward pass each.
//
//   gradient        saliency (Simonyan et al. 2014): the gradient dY/dx; map = max over colour channels of |.|
//   deconvnet       Deconvnet (Zeiler & Fergus 2014): rectifiers pass ReLU(dy) back (leaky_relu: leaky(dy))
//   guided          guided backpropagation (Springenberg et al. 2015): rectifiers pass dy * [x > 0] * [dy > 0]
//                   back (ReLU6/Clip: [lo < x < hi]); LeakyReLU: its slope times [dy > 0]
//   guided_gradcam  guided backpropagation times Grad-CAM at `layer`, upsampled and min-max normalized
//                   (Selvaraju et al. 2017)
//   smoothgrad      SmoothGrad (Smilkov et al. 2017): the mean over `noise_samples` noisy copies (one batch, noise
//                   N(0, (noise_std * (max - min of the image))^2)) of the gradient and of its saliency map
//
// Activations other than the rectifiers (sigmoid, hard_swish, ...) take their gradient under every rule.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "explain/explain.h"

namespace glassbox::explain {

enum class PixelMethod { gradient, deconvnet, guided, guided_gradcam, smoothgrad };

PixelMethod parse_pixel_method(const std::string& name);  // "gradient", "deconvnet", "guided", "guided-gradcam", ...
const char* pixel_method_name(PixelMethod m);
std::vector<PixelMethod> all_pixel_methods();

struct PixelOptions {
  std::string layer;         // guided Grad-CAM's layer; "" = default_layer(model)
  bool normalize = true;     // each saliency map min-max scaled to [0, 1]
  int noise_samples = 16;    // SmoothGrad's copies per image
  float noise_std = 0.15f;   // SmoothGrad's noise, relative to the image's range
  uint32_t noise_seed = 0;
};

struct PixelExplanation {
  Explanation targets;                        // logits and classes (its maps stay empty)
  std::map<PixelMethod, Tensor> gradients;    // [N * K, C, H, W]: the signal at the input (raw)
  std::map<PixelMethod, Tensor> maps;         // [N * K, H, W]: max over channels of |signal|
};

class PixelExplainer {
 public:
  explicit PixelExplainer(std::shared_ptr<const Model> model, SessionOptions session = {}, PixelOptions options = {});
  const std::string& layer() const { return layer_; }
  Session& session() { return session_; }
  PixelExplanation explain(const Tensor& batch, const Target& target, const std::vector<PixelMethod>& methods);
  // Deconvnet's own use (Zeiler & Fergus 2014): one channel of a layer projected back to pixels under a rule. The
  // seed at the layer is the channel's activation map, or with peak only its strongest activation per image; the
  // other channels are 0 (Backend::channel_seed). Returns the signal at the input [N, C, H, W] on the device.
  Tensor project(const Tensor& batch, const std::string& layer, int64_t channel, bool peak,
                 kernels::BackwardRule rule = kernels::BackwardRule::deconvnet);

 private:
  std::shared_ptr<const Model> model_;
  PixelOptions options_;
  SessionOptions session_options_;
  std::string input_, layer_;
  Session session_;
  std::unique_ptr<Session> projector_;  // gradients from project()'s layer to the input
  std::string projector_layer_;
};

}  // namespace glassbox::explain
