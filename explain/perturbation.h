// The perturbation family: class activation maps from forward passes on perturbed copies, on device buffers.
//
//   scorecam     Score-CAM (Wang et al. 2020): M_k = minmax(upsample(A_k)) per channel; w_k = p_c(x * M_k), the
//                target's softmax probability for the masked input (the authors' code); constant channels (no
//                usable mask) get w_k = 0 and cost no forward pass; L = ReLU(sum_k w_k A_k).
//                channel_softmax: w = softmax over channels of those scores (torchcam's and pytorch-grad-cam's
//                variant; any baseline score cancels in it, so none is computed).
//   sscam        SS-CAM (Wang, Naidu et al. 2020), smoothing on the mask (their SS-CAM(1)): w_k = mean over
//                `samples` draws of p_c(x * (M_k + delta)), delta ~ N(0, noise_std^2) per pixel.
//   iscam        IS-CAM (Naidu et al. 2020): w_k = mean over i = 1..samples of p_c(x * (c_i M_k)), c_i = sum_{t<=i}
//                t / samples (the mask integrated step by step, as in the paper's algorithm and torchcam).
//   ablationcam  Ablation-CAM (Desai & Ramaswamy 2020): w_k = (y_c - y_c^k) / y_c, y_c the target's logit and
//                y_c^k the logit with channel k of the layer set to 0 (forward from the layer only); an all-zero
//                channel gets w_k = 0 and costs nothing; L = ReLU(sum_k w_k A_k).
//   reciprocam   ReciproCAM (Byun & Lee 2022): for each position q of the layer, the feature map masked by the
//                3x3 Gaussian around q (or its one-hot) runs through the layers after it; L(q) = p_c of that copy.
//   rise         RISE (Petsiuk et al. 2018): `rise_masks` random masks (cells x cells Bernoulli(p) grids,
//                upsampled, randomly shifted: Backend::rise_masks); L = sum_i p_c(x * M_i) M_i / (masks * p),
//                summed on the device as one matrix product per chunk. Deterministic under `seed`.
//
// Every map is at the layer's resolution (RISE: the input's), upsampled and min-max normalized as options say.
// Copies are made on the device chunk by chunk (never all of them at once), `batch` per forward pass (0: from
// memory_budget); one host synchronization per call finds the constant channels, none inside the loops.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explain/explain.h"

namespace glassbox::explain {

enum class PerturbationMethod { scorecam, sscam, iscam, ablationcam, reciprocam, rise };

// "scorecam", ..., or nothing when the name is not a perturbation method.
bool parse_perturbation_method(const std::string& name, PerturbationMethod& method);
const char* perturbation_method_name(PerturbationMethod m);
std::vector<PerturbationMethod> all_perturbation_methods();

struct PerturbationOptions {
  std::string layer;             // any name Model::resolve takes; "" = default_layer(model)
  bool upsample = true;          // maps at the input's resolution (bilinear); else at the layer's (RISE: input's)
  bool normalize = true;         // each map min-max scaled to [0, 1]
  bool channel_softmax = false;  // Score-CAM family: torchcam / pytorch-grad-cam's softmax over channels
  int samples = 10;              // SS-CAM noise draws, IS-CAM integration steps
  float noise_std = 2.f;         // SS-CAM: the noise on the [0, 1] mask (the paper's and torchcam's 2)
  uint32_t seed = 0;             // SS-CAM noise and RISE masks
  bool gaussian = true;          // ReciproCAM: the 3x3 Gaussian mask (false: one-hot)
  int64_t rise_masks = 4000, rise_cells = 7;
  float rise_probability = 0.5f;
  int64_t batch = 0;                    // copies per forward pass; 0: as many as memory_budget allows
  size_t memory_budget = size_t(1) << 30;  // bytes of device memory for the copies' forward passes
  // Called after each chunk with the forward passes queued so far and the total of this call.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct PerturbationStats {
  int64_t forward_images = 0;     // copies run through the network (or its part after the layer)
  int64_t skipped_channels = 0;   // constant (Score-CAM family) or all-zero (Ablation-CAM) channels, over images
  int64_t channels = 0;           // channels over images
};

class PerturbationExplainer {
 public:
  explicit PerturbationExplainer(std::shared_ptr<const Model> model, SessionOptions session = {},
                                 PerturbationOptions options = {});
  const std::string& layer() const { return layer_; }
  Session& session() { return session_; }
  // The maps of each method for the K targets of every image (Explanation::maps is keyed by CamMethod for the
  // gradient family; these come in `maps` here).
  struct Result {
    Explanation targets;  // logits and classes (its maps stay empty)
    std::map<PerturbationMethod, Tensor> maps;  // [N * K, H, W] on the session's device
    PerturbationStats stats;
  };
  Result explain(const Tensor& batch, const Target& target, const std::vector<PerturbationMethod>& methods);
  // Copies per forward pass for images of this shape (PerturbationOptions::batch or the memory budget).
  int64_t batch_for(const Shape& image);

 private:
  void score_family(PerturbationMethod m, const Tensor& x, const Tensor& A, const Tensor& classes, int64_t K,
                    const std::vector<std::vector<int64_t>>& channels, Tensor& maps, PerturbationStats& stats);
  void ablation(const Tensor& A, const Tensor& logits, const Tensor& classes, int64_t K,
                const std::vector<std::vector<int64_t>>& channels, Tensor& maps, PerturbationStats& stats);
  void reciprocam(const Tensor& A, const Tensor& classes, int64_t K, Tensor& maps, PerturbationStats& stats);
  void rise(const Tensor& x, const Tensor& classes, int64_t K, Tensor& maps, PerturbationStats& stats);
  void channel_map(const Tensor& weights, const Tensor& selected, Tensor& map);
  Tensor upload_indices(const std::vector<int64_t>& v);
  void report(int64_t add);

  std::shared_ptr<const Model> model_;
  PerturbationOptions options_;
  std::string layer_;
  Session session_;
  int64_t done_ = 0, total_ = 0;
  Shape input_shape_;  // of the batch being explained
};

}  // namespace glassbox::explain
