// One explanation method of any family, chosen by name: the names `glassbox explain --method` takes, the gradient
// family's (explain.h) and the perturbation family's (perturbation.h), and a vision transformer's attention methods
// (attention.h) as "raw_attention", "rollout" and "grad_rollout" (heads averaged, nothing discarded). What the C API (glassbox_c.h) and
// the example application (tools/examples) build on.
//
//   glassbox::explain::NamedExplainer ex(model, "reciprocam");     // its own session; layer: default_layer(model)
//   glassbox::explain::Target target;
//   target.top = 2;
//   auto e = ex.explain(batch, target);                            // e.maps [N * 2, H, W], e.targets.classes
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "explain/attention.h"
#include "explain/explain.h"
#include "explain/perturbation.h"

namespace glassbox::explain {

// Every method name NamedExplainer takes: the gradient family's, the perturbation family's, then the attention
// methods'.
std::vector<std::string> method_names();

struct NamedExplanation {
  Explanation targets;  // logits [N, classes] and classes [N * K] (its maps stay empty)
  Tensor maps;          // [N * K, H, W] at the input's resolution, each min-max normalized to [0, 1]
};

class NamedExplainer {
 public:
  // An unknown method is a glassbox::Error listing method_names(). layer: any name Model::resolve takes, "" for
  // default_layer(model) (the attention methods take none: they read every block's attention). The family's other
  // options keep their defaults.
  NamedExplainer(std::shared_ptr<const Model> model, const std::string& method, SessionOptions session = {},
                 const std::string& layer = "");
  // The same with the families' options (each family reads its own; the layer is gradient.layer for the gradient
  // family and perturbation.layer for the perturbation family).
  NamedExplainer(std::shared_ptr<const Model> model, const std::string& method, SessionOptions session,
                 const ExplainOptions& gradient, const PerturbationOptions& perturbation);
  ~NamedExplainer();
  NamedExplainer(const NamedExplainer&) = delete;
  NamedExplainer& operator=(const NamedExplainer&) = delete;

  const std::string& method() const { return method_; }
  const std::string& layer() const;
  Session& session();
  // The maps of the K targets of every image (top-k or given classes), on the session's device.
  NamedExplanation explain(const Tensor& batch, const Target& target);

 private:
  std::string method_;
  CamMethod gradient_method_{};
  PerturbationMethod perturbation_method_{};
  std::unique_ptr<Explainer> gradient_;               // one of these three is set
  std::unique_ptr<PerturbationExplainer> perturbation_;
  std::unique_ptr<AttentionExplainer> attention_;
  std::string attention_layer_;  // attention: the last block's attention (what layer() names)
};

}  // namespace glassbox::explain
