// Attention explanations of vision transformers on device buffers: raw attention, attention rollout (Abnar &
// Zuidema 2020, "Quantifying Attention Flow in Transformers") and gradient-weighted attention rollout (Chefer, Gur
// & Wolf 2021, "Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder
// Transformers", Eq. 5-6).
//
//   glassbox::explain::AttentionExplainer ex(model);                  // options: method, head fusion, discard ratio
//   auto e = ex.explain(batch, Target{});                             // one forward (+ one backward for grad_rollout)
//   e.maps                                                            // [N * K, H, W] at the input's size, in [0, 1]
//
// Definitions, with A_b block b's attention [N, heads, T, T] (the output of its Softmax), P prefix tokens (class,
// distillation) and the h x w patch grid (explain/tokens.h; patch (i, j) is token P + i w + j):
//   fuse_heads    mean, max or min over the heads: [N, T, T]
//   raw           fuse_heads(A_block)[n, 0, P:] on the grid (the class token's attention to the patches; block: the
//                 last by default)
//   rollout       R = I; for each block in order: Abar = fuse_heads(A_b); the k = floor(discard_ratio T^2) smallest
//                 entries of each image's Abar other than (0, 0) set to 0 (ties: the lower flat index first);
//                 Ahat = (Abar + I) / 2, each row divided by its sum; R = Ahat R. Map: R[0, P:].
//   grad_rollout  G_b = dL/dA_b for the target score L (the logit of the target class, or its probability);
//                 Abar_b = fuse_heads(max(G_b * A_b, 0)) (mean: the paper's); R = I; for each block in order
//                 R = R + Abar_b R. Map: R[0, P:]; one map per target.
// Then, as the CAMs: upsampled bilinearly to the input's size and min-max normalized to [0, 1] (both optional).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "explain/explain.h"
#include "explain/tokens.h"

namespace glassbox::explain {

using kernels::HeadFusion;

enum class AttentionMethod { raw, rollout, grad_rollout };

// "raw", "rollout", "grad_rollout" (also "grad-rollout"); errors list the names.
AttentionMethod parse_attention_method(const std::string& name);
const char* attention_method_name(AttentionMethod m);
std::vector<AttentionMethod> all_attention_methods();
HeadFusion parse_head_fusion(const std::string& name);  // "mean", "max", "min"
const char* head_fusion_name(HeadFusion f);

// The attention matrices of a transformer: the outputs of its Softmax nodes whose output is [N, heads, T, T]
// (rank 4, square in the last two dimensions, softmax over the last axis), in topological order: one per block.
// Capturing them is Session::capture.
std::vector<std::string> attention_layers(const Model& model);

struct AttentionOptions {
  AttentionMethod method = AttentionMethod::rollout;
  HeadFusion fusion = HeadFusion::mean;
  float discard_ratio = 0.f;  // rollout: the fraction of each fused attention discarded, in [0, 1]
  int block = -1;             // raw: which block's attention (0 = the first; negative counts from the end)
  bool upsample = true;       // maps at the input's resolution (bilinear; images [N, C, H, W] only); else on the grid
  bool normalize = true;      // each map min-max scaled to [0, 1]
  // The patch grid; with height * width == 0, token_grid's (from the patch embedding). The prefix is then
  // T - height * width.
  TokenGrid grid;
};

struct AttentionExplanation {
  Tensor logits;   // [N, classes] on the session's device
  Tensor classes;  // [N * K] (floats) on the session's device: the class map i explains (image i / K)
  Tensor maps;     // [N * K, H, W] on the session's device; raw and rollout do not depend on the class: an image's
                   // K maps are equal
  TokenGrid grid;  // the patch grid the maps come from
  std::vector<int64_t> class_list() const;  // the classes on the host (waits for the queued work)
};

class AttentionExplainer {
 public:
  // Errors: no attention layer in the model (a CNN), a discard ratio outside [0, 1], a block out of range.
  explicit AttentionExplainer(std::shared_ptr<const Model> model, SessionOptions session = {},
                              AttentionOptions options = {});
  const std::vector<std::string>& layers() const { return layers_; }
  const AttentionOptions& options() const { return options_; }
  Session& session() { return session_; }
  // The maps of the K targets of every image (top-k or given classes) from one forward pass (and for grad_rollout
  // one backward pass from the logits down to the first attention block, over the K targets of every image as one
  // batch; a model whose Reshapes fix the batch size can take one target per image only). Everything stays on the
  // session's device: nothing waits for it until a result is copied to the host.
  AttentionExplanation explain(const Tensor& batch, const Target& target = {});

 private:
  std::shared_ptr<const Model> model_;
  AttentionOptions options_;
  std::vector<std::string> layers_;
  Session session_;
};

}  // namespace glassbox::explain
