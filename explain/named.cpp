#include "explain/named.h"

#include <algorithm>

namespace glassbox::explain {

namespace {
// The attention methods' names here: "raw" alone would not say what it is among the CAM names.
const std::pair<AttentionMethod, const char*> kAttention[] = {
    {AttentionMethod::raw, "raw_attention"}, {AttentionMethod::rollout, "rollout"},
    {AttentionMethod::grad_rollout, "grad_rollout"}};
}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (CamMethod m : all_methods()) names.push_back(method_name(m));
  for (PerturbationMethod m : all_perturbation_methods()) names.push_back(perturbation_method_name(m));
  for (const auto& [m, name] : kAttention) names.push_back(name);
  return names;
}

namespace {
template <class Options>
Options with_layer(const std::string& layer) {
  Options o;
  o.layer = layer;
  return o;
}
}  // namespace

NamedExplainer::NamedExplainer(std::shared_ptr<const Model> model, const std::string& method, SessionOptions session,
                               const std::string& layer)
    : NamedExplainer(std::move(model), method, std::move(session), with_layer<ExplainOptions>(layer),
                     with_layer<PerturbationOptions>(layer)) {}

NamedExplainer::NamedExplainer(std::shared_ptr<const Model> model, const std::string& method, SessionOptions session,
                               const ExplainOptions& gradient, const PerturbationOptions& perturbation)
    : method_(method) {
  if (parse_perturbation_method(method, perturbation_method_)) {
    perturbation_ = std::make_unique<PerturbationExplainer>(std::move(model), std::move(session), perturbation);
    return;
  }
  for (const auto& [m, name] : kAttention)
    if (method == name) {
      GB_CHECK(gradient.layer.empty(), "method '", method, "' reads every block's attention and takes no layer ('",
               gradient.layer, "' given)");
      AttentionOptions options;
      options.method = m;
      attention_ = std::make_unique<AttentionExplainer>(std::move(model), std::move(session), options);
      attention_layer_ = attention_->layers().back();
      return;
    }
  // Not a perturbation method: a gradient one (parse_method), or an error that lists both families' names.
  const std::vector<std::string> names = method_names();
  if (std::find(names.begin(), names.end(), method) == names.end()) {
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
    fail("unknown explanation method '", method, "' (available: ", list, ")");
  }
  gradient_method_ = parse_method(method);
  gradient_ = std::make_unique<Explainer>(std::move(model), std::move(session), gradient);
}

NamedExplainer::~NamedExplainer() = default;

const std::string& NamedExplainer::layer() const {
  return gradient_ ? gradient_->layer() : perturbation_ ? perturbation_->layer() : attention_layer_;
}

Session& NamedExplainer::session() {
  return gradient_ ? gradient_->session() : perturbation_ ? perturbation_->session() : attention_->session();
}

NamedExplanation NamedExplainer::explain(const Tensor& batch, const Target& target) {
  NamedExplanation out;
  if (gradient_) {
    out.targets = gradient_->explain(batch, target, {gradient_method_});
    out.maps = out.targets.maps.at(gradient_method_);
    out.targets.maps.clear();
  } else if (perturbation_) {
    auto r = perturbation_->explain(batch, target, {perturbation_method_});
    out.targets = std::move(r.targets);
    out.maps = r.maps.at(perturbation_method_);
  } else {
    auto r = attention_->explain(batch, target);
    out.targets.logits = r.logits;
    out.targets.classes = r.classes;
    out.maps = r.maps;
  }
  return out;
}

}  // namespace glassbox::explain
