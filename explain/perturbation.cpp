#include "explain/perturbation.h"

#include <algorithm>
#include <cmath>

#include "explain/method_names.h"

namespace glassbox::explain {

namespace {
const std::pair<PerturbationMethod, const char*> kMethods[] = {
    {PerturbationMethod::scorecam, "scorecam"},       {PerturbationMethod::sscam, "sscam"},
    {PerturbationMethod::iscam, "iscam"},             {PerturbationMethod::ablationcam, "ablationcam"},
    {PerturbationMethod::reciprocam, "reciprocam"},   {PerturbationMethod::rise, "rise"},
};

using kernels::ConstView;
using kernels::View;
using kernels::view_of;

}  // namespace

bool parse_perturbation_method(const std::string& name, PerturbationMethod& method) {
  return find_method(kMethods, name, method);
}

const char* perturbation_method_name(PerturbationMethod m) { return name_in(kMethods, m); }

std::vector<PerturbationMethod> all_perturbation_methods() { return methods_in(kMethods); }

PerturbationExplainer::PerturbationExplainer(std::shared_ptr<const Model> model, SessionOptions session,
                                             PerturbationOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_(model_, std::move(session)) {
  layer_ = options_.layer.empty() ? default_layer(*model_) : model_->resolve(options_.layer);
  GB_CHECK(options_.samples >= 1, "samples must be at least 1, not ", options_.samples);
  GB_CHECK(options_.rise_masks >= 1 && options_.rise_cells >= 1 && options_.rise_probability > 0.f &&
               options_.rise_probability <= 1.f,
           "RISE needs masks >= 1, cells >= 1 and 0 < probability <= 1");
  session_.capture({layer_});
  session_.enable_run_from(layer_);
}

int64_t PerturbationExplainer::batch_for(const Shape& image) {
  return copies_per_pass(session_, image, options_.batch, options_.memory_budget);
}

Tensor PerturbationExplainer::upload_indices(const std::vector<int64_t>& v) {
  Tensor host = Tensor::empty({int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) host.data<float>()[i] = float(v[i]);
  return session_.place(host);
}

void PerturbationExplainer::report(int64_t add) {
  done_ += add;
  if (options_.progress) options_.progress(done_, total_);
}

PerturbationExplainer::Result PerturbationExplainer::explain(const Tensor& batch, const Target& target,
                                                             const std::vector<PerturbationMethod>& methods) {
  GB_CHECK(!methods.empty(), "no explanation method asked for");
  kernels::Backend& backend = session_.backend();
  const Tensor x = session_.place(batch);
  input_shape_ = x.shape();
  const glassbox::Result r = session_.run(x);
  Result out;
  Explanation& e = out.targets;
  e.logits = r.output();
  const Targets targets = make_targets(session_, e.logits, target);
  const int64_t N = e.logits.dim(0), K = targets.K;
  e.classes = targets.classes;

  const Tensor layer_value = r.capture(layer_);
  const bool tokens = layer_value.rank() == 3;
  for (PerturbationMethod m : methods)
    GB_CHECK(!tokens || m == PerturbationMethod::scorecam || m == PerturbationMethod::sscam ||
                 m == PerturbationMethod::iscam || m == PerturbationMethod::rise,
             perturbation_method_name(m), " perturbs the layer itself, which needs a 4-D layer; '", layer_,
             "' holds a transformer's tokens ", shape_str(layer_value.shape()),
             " (on tokens: scorecam, sscam, iscam, rise, or the gradient methods)");
  const Tensor A = feature_maps(session_, x.shape(), layer_value, layer_);
  const int64_t Ch = A.dim(1), h = A.dim(2), w = A.dim(3), H = x.dim(2), W = x.dim(3);

  // Constant channels, once per call (the only wait for the device): the Score-CAM family skips channels with
  // min == max (no usable mask), Ablation-CAM those that are all zero (ablating them changes nothing).
  std::vector<std::vector<int64_t>> varying(N), nonzero(N);
  const bool any_score = std::any_of(methods.begin(), methods.end(), [](PerturbationMethod m) {
    return m == PerturbationMethod::scorecam || m == PerturbationMethod::sscam || m == PerturbationMethod::iscam;
  });
  const bool any_ablation = std::count(methods.begin(), methods.end(), PerturbationMethod::ablationcam) > 0;
  if (any_score || any_ablation) {
    Tensor ranges = session_.allocate({N * Ch, 2});
    backend.row_ranges({A.data<float>(), {N * Ch, h * w}, A.device()}, view_of(ranges));
    const Tensor host = ranges.to(Device::cpu());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < Ch; ++c) {
        const float lo = host.data<float>()[(n * Ch + c) * 2], hi = host.data<float>()[(n * Ch + c) * 2 + 1];
        if (lo != hi) varying[n].push_back(c);
        if (lo != hi || lo != 0.f) nonzero[n].push_back(c);
      }
  }

  // Forward passes this call will run, for the progress callback.
  done_ = 0, total_ = 0;
  for (PerturbationMethod m : methods) {
    int64_t per_call = 0;
    for (int64_t n = 0; n < N; ++n) {
      if (m == PerturbationMethod::scorecam) per_call += int64_t(varying[n].size());
      if (m == PerturbationMethod::sscam || m == PerturbationMethod::iscam)
        per_call += int64_t(varying[n].size()) * options_.samples;
      if (m == PerturbationMethod::ablationcam) per_call += int64_t(nonzero[n].size());
      if (m == PerturbationMethod::reciprocam) per_call += h * w;
      if (m == PerturbationMethod::rise) per_call += options_.rise_masks;
    }
    total_ += per_call;
  }

  // The methods that run from the layer first: they read the base run's values, which a full forward of masked
  // inputs replaces.
  std::vector<PerturbationMethod> order = methods;
  std::stable_partition(order.begin(), order.end(), [](PerturbationMethod m) {
    return m == PerturbationMethod::ablationcam || m == PerturbationMethod::reciprocam;
  });
  const bool at_input = options_.upsample;
  for (PerturbationMethod m : order) {
    const bool pixels = m == PerturbationMethod::rise;  // RISE's maps are at the input's resolution
    Tensor small = session_.allocate({N * K, pixels ? H : h, pixels ? W : w});
    switch (m) {
      case PerturbationMethod::scorecam:
      case PerturbationMethod::sscam:
      case PerturbationMethod::iscam: score_family(m, x, A, e.classes, K, varying, small, out.stats); break;
      case PerturbationMethod::ablationcam: ablation(A, e.logits, e.classes, K, nonzero, small, out.stats); break;
      case PerturbationMethod::reciprocam: reciprocam(A, e.classes, K, small, out.stats); break;
      case PerturbationMethod::rise: rise(x, e.classes, K, small, out.stats); break;
    }
    Tensor maps = small;
    if (at_input && !pixels) {
      maps = session_.allocate({N * K, H, W});
      backend.resize_bilinear(view_of(small), view_of(maps));
    }
    if (options_.normalize) backend.normalize_minmax(view_of(maps));
    out.maps[m] = maps;
  }
  return out;
}

// L = ReLU(weights [K, M] x selected [M, h*w]) into map rows [K, h, w]; without channels (M = 0) L = 0.
void PerturbationExplainer::channel_map(const Tensor& weights, const Tensor& selected, Tensor& map) {
  kernels::Backend& backend = session_.backend();
  if (!selected.defined()) {
    const Tensor zeros = session_.place(Tensor::zeros(map.shape()));
    backend.copy(view_of(zeros), view_of(map));
    return;
  }
  const int64_t K = map.dim(0), P = map.dim(1) * map.dim(2), M = selected.dim(0);
  kernels::GemmAttrs gemm;
  gemm.beta = 0.f;
  gemm.act.kind = kernels::Activation::relu;
  backend.gemm(gemm, view_of(weights), {selected.data<float>(), {M, P}, selected.device()}, {},
               {map.data<float>(), {K, P}, map.device()});
}

// Score-CAM, SS-CAM, IS-CAM for each image: the varying channels' masks chunk by chunk, their masked inputs, the
// target probabilities into scores [K, channels]; then L = ReLU(w [K, channels] x A [channels, h*w]).
void PerturbationExplainer::score_family(PerturbationMethod m, const Tensor& x, const Tensor& A, const Tensor& classes,
                                         int64_t K, const std::vector<std::vector<int64_t>>& channels, Tensor& maps,
                                         PerturbationStats& stats) {
  kernels::Backend& backend = session_.backend();
  const int64_t N = x.dim(0), Ch = A.dim(1), h = A.dim(2), w = A.dim(3), H = x.dim(2), W = x.dim(3);
  const int64_t B = batch_for(x.shape());
  const int S = m == PerturbationMethod::scorecam ? 1 : options_.samples;
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<int64_t>& idx = channels[n];
    const int64_t M = int64_t(idx.size());
    stats.channels += Ch, stats.skipped_channels += Ch - M;
    Tensor map_n = maps.slice(n * K, (n + 1) * K);
    if (M == 0) {  // no usable channel: every weight is 0
      channel_map({}, {}, map_n);
      continue;
    }
    const Tensor A_n = A.slice(n, n + 1);
    Tensor selected = session_.allocate({M, h, w});
    backend.gather_rows({A_n.data<float>(), {Ch, h, w}, A.device()}, view_of(upload_indices(idx)), view_of(selected));
    const Tensor x_n = x.slice(n, n + 1).reshape({x.dim(1), H, W});
    const Tensor classes_n = classes.slice(n * K, (n + 1) * K);
    Tensor scores = session_.allocate({K, M});
    for (int64_t j0 = 0; j0 < M; j0 += B) {
      const int64_t b = std::min(B, M - j0);
      Tensor masks = session_.allocate({b, H, W});
      backend.resize_bilinear(view_of(selected.slice(j0, j0 + b)), view_of(masks));
      backend.normalize_minmax(view_of(masks));
      Tensor inputs = session_.allocate({b, x.dim(1), H, W});
      double coefficient = 0;
      for (int s = 0; s < S; ++s) {
        coefficient += double(s + 1) / S;  // IS-CAM: c_i = sum_{t <= i} t / samples
        const float scale = m == PerturbationMethod::iscam ? float(coefficient) : 1.f;
        const float noise = m == PerturbationMethod::sscam ? options_.noise_std : 0.f;
        // The noise of draw s for the image's j-th varying channel: the same whatever the image's place in the
        // batch and the chunk size.
        const uint64_t offset = (uint64_t(s) * uint64_t(M) + uint64_t(j0)) * uint64_t(H * W);
        backend.score_inputs(scale, noise, options_.seed, offset, view_of(x_n), view_of(masks), view_of(inputs));
        const Tensor logits = session_.run(inputs).output();
        backend.target_scores(true, 1.f / float(S), s > 0, view_of(logits), view_of(classes_n), j0, view_of(scores));
        stats.forward_images += b;
        report(b);
      }
    }
    Tensor weights = scores;
    if (options_.channel_softmax) {
      weights = session_.allocate({K, M});
      backend.softmax(1, view_of(scores), view_of(weights));
    }
    channel_map(weights, selected, map_n);
  }
}

// Ablation-CAM: for each image, copies of its feature map with one nonzero channel zeroed, run from the layer;
// w_k = (y_c - y_c^k) / y_c on logits; L = ReLU(w [K, channels] x A [channels, h*w]).
void PerturbationExplainer::ablation(const Tensor& A, const Tensor& logits, const Tensor& classes, int64_t K,
                                     const std::vector<std::vector<int64_t>>& channels, Tensor& maps,
                                     PerturbationStats& stats) {
  kernels::Backend& backend = session_.backend();
  const int64_t N = A.dim(0), Ch = A.dim(1), h = A.dim(2), w = A.dim(3);
  const int64_t B = batch_for(input_shape_);
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<int64_t>& idx = channels[n];
    const int64_t M = int64_t(idx.size());
    stats.channels += Ch, stats.skipped_channels += Ch - M;
    Tensor map_n = maps.slice(n * K, (n + 1) * K);
    if (M == 0) {  // no usable channel: every weight is 0
      channel_map({}, {}, map_n);
      continue;
    }
    const Tensor A_n = A.slice(n, n + 1).reshape({Ch, h, w});
    const Tensor classes_n = classes.slice(n * K, (n + 1) * K);
    const Tensor index = upload_indices(idx);
    Tensor base = session_.allocate({K, 1}), ablated = session_.allocate({K, M});
    backend.target_scores(false, 1.f, false, view_of(logits.slice(n, n + 1)), view_of(classes_n), 0, view_of(base));
    for (int64_t j0 = 0; j0 < M; j0 += B) {
      const int64_t b = std::min(B, M - j0);
      Tensor copies = session_.allocate({b, Ch, h, w});
      backend.ablate_channels(view_of(A_n), view_of(index.slice(j0, j0 + b)), view_of(copies));
      const Tensor out = session_.run_from(copies, n, 1).output();
      backend.target_scores(false, 1.f, false, view_of(out), view_of(classes_n), j0, view_of(ablated));
      stats.forward_images += b;
      report(b);
    }
    // w = (y - y_k) / y, broadcast over the channels.
    Tensor weights = session_.allocate({K, M});
    backend.binary(kernels::BinaryOp::sub, {}, view_of(base), view_of(ablated), view_of(weights));
    backend.binary(kernels::BinaryOp::div, {}, view_of(weights), view_of(base), view_of(weights));
    Tensor selected = session_.allocate({M, h, w});
    backend.gather_rows(view_of(A_n), view_of(index), view_of(selected));
    channel_map(weights, selected, map_n);
  }
}

// ReciproCAM: one copy per position, masked around it, run from the layer; the map is the probabilities.
void PerturbationExplainer::reciprocam(const Tensor& A, const Tensor& classes, int64_t K, Tensor& maps,
                                       PerturbationStats& stats) {
  kernels::Backend& backend = session_.backend();
  const int64_t N = A.dim(0), Ch = A.dim(1), h = A.dim(2), w = A.dim(3), P = h * w;
  const int64_t B = batch_for(input_shape_);
  for (int64_t n = 0; n < N; ++n) {
    const Tensor A_n = A.slice(n, n + 1).reshape({Ch, h, w});
    const Tensor classes_n = classes.slice(n * K, (n + 1) * K);
    Tensor map_n = maps.slice(n * K, (n + 1) * K);
    for (int64_t j0 = 0; j0 < P; j0 += B) {
      const int64_t b = std::min(B, P - j0);
      Tensor copies = session_.allocate({b, Ch, h, w});
      backend.spatial_masked_copies(options_.gaussian, j0, view_of(A_n), view_of(copies));
      const Tensor out = session_.run_from(copies, n, 1).output();
      backend.target_scores(true, 1.f, false, view_of(out), view_of(classes_n), j0,
                            {map_n.data<float>(), {K, P}, A.device()});
      stats.forward_images += b;
      report(b);
    }
  }
}

// RISE: the same masks for every image, chunk by chunk; saliency [K, H*W] += scores [K, b] x masks [b, H*W].
void PerturbationExplainer::rise(const Tensor& x, const Tensor& classes, int64_t K, Tensor& maps,
                                 PerturbationStats& stats) {
  kernels::Backend& backend = session_.backend();
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3), masks_total = options_.rise_masks;
  const int64_t B = batch_for(x.shape());
  const float scale = 1.f / (float(masks_total) * options_.rise_probability);
  for (int64_t n = 0; n < N; ++n) {
    const Tensor x_n = x.slice(n, n + 1).reshape({x.dim(1), H, W});
    const Tensor classes_n = classes.slice(n * K, (n + 1) * K);
    Tensor map_n = maps.slice(n * K, (n + 1) * K);
    const View saliency{map_n.data<float>(), {K, H * W}, x.device()};
    for (int64_t j0 = 0; j0 < masks_total; j0 += B) {
      const int64_t b = std::min(B, masks_total - j0);
      Tensor masks = session_.allocate({b, H, W}), inputs = session_.allocate({b, x.dim(1), H, W});
      backend.rise_masks(options_.seed, uint64_t(j0), options_.rise_cells, options_.rise_probability, view_of(masks));
      backend.score_inputs(1.f, 0.f, 0, 0, view_of(x_n), view_of(masks), view_of(inputs));
      const Tensor logits = session_.run(inputs).output();
      Tensor scores = session_.allocate({K, b});
      backend.target_scores(true, scale, false, view_of(logits), view_of(classes_n), 0, view_of(scores));
      kernels::GemmAttrs gemm;
      gemm.beta = j0 > 0 ? 1.f : 0.f;  // the first chunk writes, the others add
      backend.gemm(gemm, view_of(scores), {masks.data<float>(), {b, H * W}, x.device()},
                   j0 > 0 ? ConstView(saliency) : ConstView{}, saliency);
      stats.forward_images += b;
      report(b);
    }
  }
}

}  // namespace glassbox::explain
