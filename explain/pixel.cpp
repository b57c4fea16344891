#include "explain/pixel.h"

#include <algorithm>

#include "explain/method_names.h"

namespace glassbox::explain {

namespace {
const std::pair<PixelMethod, const char*> kMethods[] = {
    {PixelMethod::gradient, "gradient"},
    {PixelMethod::deconvnet, "deconvnet"},
    {PixelMethod::guided, "guided"},
    {PixelMethod::guided_gradcam, "guided-gradcam"},
    {PixelMethod::smoothgrad, "smoothgrad"},
};
using kernels::BackwardRule;
using kernels::view_of;
}  // namespace

PixelMethod parse_pixel_method(const std::string& name) {
  PixelMethod m;
  GB_CHECK(find_method(kMethods, name, m), "unknown saliency method '", name, "' (available: ", names_in(kMethods),
           ")");
  return m;
}

const char* pixel_method_name(PixelMethod m) { return name_in(kMethods, m); }

std::vector<PixelMethod> all_pixel_methods() { return methods_in(kMethods); }

PixelExplainer::PixelExplainer(std::shared_ptr<const Model> model, SessionOptions session, PixelOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_options_(session), session_(model_, session) {
  GB_CHECK(model_->input_names().size() == 1, "pixel-space explanations take single-input models");
  input_ = model_->input_names()[0];
  layer_ = options_.layer.empty() ? default_layer(*model_) : model_->resolve(options_.layer);
  session_.capture({layer_});
  session_.track_gradients({input_, layer_});
}

PixelExplanation PixelExplainer::explain(const Tensor& batch, const Target& target,
                                         const std::vector<PixelMethod>& methods) {
  GB_CHECK(!methods.empty(), "no saliency method asked for");
  kernels::Backend& backend = session_.backend();
  const Tensor x = session_.place(batch);
  GB_CHECK(x.rank() == 4, "pixel-space explanations take images [N, C, H, W], not ", shape_str(x.shape()));
  const Result r = session_.run(x);
  PixelExplanation out;
  Explanation& e = out.targets;
  e.logits = r.output();
  const Targets targets = make_targets(session_, e.logits, target);
  e.classes = targets.classes;
  const int64_t N = x.dim(0), K = targets.K, C = x.dim(1), H = x.dim(2), W = x.dim(3);
  auto has = [&](PixelMethod m) { return std::count(methods.begin(), methods.end(), m) > 0; };
  auto finish = [&](PixelMethod m, const Tensor& g) {  // the signal and its saliency map
    out.gradients[m] = g;
    Tensor map = session_.allocate({g.dim(0), H, W});
    backend.channel_abs_max(view_of(g), view_of(map));
    if (options_.normalize) backend.normalize_minmax(view_of(map));
    out.maps[m] = map;
  };

  // One backward per rule, each for the K targets of every image at once.
  if (has(PixelMethod::gradient) || has(PixelMethod::guided_gradcam)) {
    const auto grads = session_.backward({targets.seeds}, BackwardRule::gradient);
    if (has(PixelMethod::gradient)) finish(PixelMethod::gradient, grads.at(input_));
    if (has(PixelMethod::guided_gradcam)) {
      // Grad-CAM at the layer, upsampled and normalized, times guided backpropagation's signal.
      const Tensor& A = r.capture(layer_);
      GB_CHECK(A.rank() == 4, "guided Grad-CAM needs a [N, C, H, W] layer; '", layer_, "' is ",
               shape_str(A.shape()));
      Tensor small = session_.allocate({N * K, A.dim(2), A.dim(3)}), cam = session_.allocate({N * K, 1, H, W});
      backend.cam(kernels::CamMethod::gradcam, 1, view_of(A), view_of(grads.at(layer_)), view_of(small));
      backend.resize_bilinear(view_of(small), {cam.data<float>(), {N * K, H, W}, cam.device()});
      backend.normalize_minmax({cam.data<float>(), {N * K, H * W}, cam.device()});
      const Tensor guided = session_.backward({targets.seeds}, BackwardRule::guided).at(input_);
      Tensor product = session_.allocate({N * K, C, H, W});
      backend.binary(kernels::BinaryOp::mul, {}, view_of(guided), view_of(cam), view_of(product));
      finish(PixelMethod::guided_gradcam, product);
    }
  }
  if (has(PixelMethod::deconvnet))
    finish(PixelMethod::deconvnet, session_.backward({targets.seeds}, BackwardRule::deconvnet).at(input_));
  if (has(PixelMethod::guided))
    finish(PixelMethod::guided, session_.backward({targets.seeds}, BackwardRule::guided).at(input_));

  if (has(PixelMethod::smoothgrad)) {
    // The noisy copies as one batch (rows n*S + s), the K targets of each its image's, one backward; then the
    // means over the copies of the gradient and of its saliency map.
    const int64_t S = std::max(1, options_.noise_samples);
    Tensor noisy = session_.allocate({N * S, C, H, W});
    backend.noisy_copies(options_.noise_std, options_.noise_seed, view_of(x), view_of(noisy));
    const Result rn = session_.run(noisy);
    const Targets copies = copy_targets(session_, rn.output(), e.classes, K, target.probability);
    const Tensor g = session_.backward({copies.seeds}, BackwardRule::gradient).at(input_);  // rows (n*S + s)*K + k
    Tensor per_copy = session_.allocate({N * S * K, H, W});
    backend.channel_abs_max(view_of(g), view_of(per_copy));
    Tensor mean = session_.allocate({N * K, C, H, W}), map = session_.allocate({N * K, H, W});
    backend.reduce(kernels::ReduceKind::mean, {1}, {g.data<float>(), {N, S, K * C * H * W}, g.device()},
                   {mean.data<float>(), {N, 1, K * C * H * W}, mean.device()});
    backend.reduce(kernels::ReduceKind::mean, {1}, {per_copy.data<float>(), {N, S, K * H * W}, g.device()},
                   {map.data<float>(), {N, 1, K * H * W}, map.device()});
    if (options_.normalize) backend.normalize_minmax(view_of(map));
    out.gradients[PixelMethod::smoothgrad] = mean;
    out.maps[PixelMethod::smoothgrad] = map;
  }
  return out;
}

Tensor PixelExplainer::project(const Tensor& batch, const std::string& layer, int64_t channel, bool peak,
                               BackwardRule rule) {
  const std::string l = model_->resolve(layer);
  if (!projector_ || projector_layer_ != l) {
    projector_ = std::make_unique<Session>(model_, session_options_);
    projector_->capture({l});
    projector_->track_gradients({input_}, {l});
    projector_layer_ = l;
  }
  const Result r = projector_->run(projector_->place(batch));
  const Tensor& A = r.capture(l);
  GB_CHECK(A.rank() >= 2 && channel >= 0 && channel < A.dim(1), "layer '", l, "' of shape ", shape_str(A.shape()),
           " has no channel ", channel);
  Tensor seed = projector_->allocate(A.shape());
  projector_->backend().channel_seed(peak, channel, view_of(A), view_of(seed));
  return projector_->backward({seed}, rule).at(input_);
}

}  // namespace glassbox::explain
