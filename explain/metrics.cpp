// Explanation quality metrics (metrics.h states every definition and its paper).
#include "explain/metrics.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "explain/explain.h"
#include "kernels/kernels.h"

namespace glassbox::explain {

namespace {

using kernels::ConstView;
using kernels::View;
using kernels::view_of;

struct Inputs {
  Tensor x, maps, classes;
  int64_t N = 0, C = 0, H = 0, W = 0, R = 0, K = 0;
};

Inputs check_inputs(Session& session, const Tensor& images, const Tensor& maps, const Tensor& classes,
                    const char* what) {
  GB_CHECK(images.rank() == 4 && maps.rank() == 3 && classes.rank() == 1 && images.dim(0) >= 1 &&
               maps.dim(0) % images.dim(0) == 0 && maps.dim(0) >= 1 && classes.dim(0) == maps.dim(0) &&
               maps.dim(1) == images.dim(2) && maps.dim(2) == images.dim(3),
           what, ": images ", shape_str(images.shape()), " [N, C, H, W], maps ", shape_str(maps.shape()),
           " [N * K, H, W] and classes ", shape_str(classes.shape()), " [N * K] do not fit");
  Inputs in;
  in.x = session.place(images), in.maps = session.place(maps), in.classes = session.place(classes);
  in.N = images.dim(0), in.C = images.dim(1), in.H = images.dim(2), in.W = images.dim(3);
  in.R = maps.dim(0), in.K = in.R / in.N;
  return in;
}

}  // namespace

Tensor gaussian_blur(Session& session, const Tensor& images, int64_t size, float sigma) {
  GB_CHECK(images.rank() == 4 && size >= 1 && size % 2 == 1 && sigma > 0.f, "gaussian_blur: images ",
           shape_str(images.shape()), " [N, C, H, W], an odd size (", size, ") and sigma > 0 (", sigma, ")");
  const Tensor x = session.place(images);
  const int64_t C = x.dim(1), h = size / 2;
  std::vector<double> g(static_cast<size_t>(size));
  double sum = 0;
  for (int64_t i = 0; i < size; ++i)
    sum += g[size_t(i)] = std::exp(-double((i - h) * (i - h)) / (2.0 * double(sigma) * double(sigma)));
  Tensor w = Tensor::empty({C, 1, size, size});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < size; ++j)
        w.data<float>()[(c * size + i) * size + j] = float(g[size_t(i)] * g[size_t(j)] / (sum * sum));
  const Tensor weights = session.place(w);
  kernels::Conv2dAttrs a;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = h;
  a.groups = C;
  Tensor y = session.allocate(x.shape());
  session.backend().conv2d(a, view_of(x), view_of(weights), {}, view_of(y));
  return y;
}

Curves deletion_insertion(Session& session, const Tensor& images, const Tensor& maps, const Tensor& classes,
                          const MetricOptions& o) {
  GB_CHECK(o.pixels_per_step >= 1, "deletion_insertion: pixels_per_step must be at least 1, not ", o.pixels_per_step);
  const Inputs in = check_inputs(session, images, maps, classes, "deletion_insertion");
  kernels::Backend& backend = session.backend();
  const int64_t C = in.C, H = in.H, W = in.W, P = H * W, R = in.R, K = in.K;
  const int64_t S = (P + o.pixels_per_step - 1) / o.pixels_per_step;
  const int64_t B = copies_per_pass(session, in.x.shape(), o.batch, o.memory_budget);

  Tensor ranks = session.allocate({R, H, W});
  backend.rank_pixels(view_of(in.maps), view_of(ranks));
  const bool blur = (o.run_deletion && o.deletion == Substrate::blur) ||
                    (o.run_insertion && o.insertion == Substrate::blur);
  const Tensor blurred = blur ? gaussian_blur(session, in.x, o.blur_size, o.blur_sigma) : Tensor();
  const Tensor zero = session.place(Tensor::zeros({C, H, W}));
  // AUC weights: (1/2, 1, ..., 1, 1/2) / S.
  Tensor host_w = Tensor::empty({S + 1, 1});
  for (int64_t s = 0; s <= S; ++s) host_w.data<float>()[s] = float((s == 0 || s == S ? 0.5 : 1.0) / double(S));
  const Tensor auc_weights = session.place(host_w);

  Curves out;
  out.steps = S;
  const int64_t total = (int64_t(o.run_deletion) + int64_t(o.run_insertion)) * R * (S + 1);
  int64_t done = 0;
  for (bool deletion : {true, false}) {
    if (deletion ? !o.run_deletion : !o.run_insertion) continue;
    const Substrate kind = deletion ? o.deletion : o.insertion;
    Tensor curve = session.allocate({R, S + 1});
    // The R (S + 1) copies in chunks of B that run across maps: a chunk holds segments of consecutive steps of
    // one map each (made by one ranked_copies, scored by one target_scores into that map's row).
    const int64_t items = R * (S + 1);
    for (int64_t i0 = 0; i0 < items; i0 += B) {
      const int64_t b = std::min(B, items - i0);
      Tensor copies = session.allocate({b, C, H, W});
      struct Segment {
        int64_t r, step, begin, length;
      };
      std::vector<Segment> segments;
      for (int64_t i = i0; i < i0 + b;) {
        const int64_t r = i / (S + 1), step = i % (S + 1), length = std::min(S + 1 - step, i0 + b - i);
        segments.push_back({r, step, i - i0, length});
        const int64_t n = r / K;
        const Tensor image = in.x.slice(n, n + 1).reshape({C, H, W});
        const Tensor substrate = kind == Substrate::blur ? blurred.slice(n, n + 1).reshape({C, H, W}) : zero;
        const Tensor& from = deletion ? image : substrate;
        const Tensor& to = deletion ? substrate : image;
        Tensor part = copies.slice(i - i0, i - i0 + length);
        backend.ranked_copies(step, o.pixels_per_step, view_of(from), view_of(to),
                              view_of(ranks.slice(r, r + 1).reshape({H, W})), view_of(part));
        i += length;
      }
      const Tensor logits = session.run(copies).output();
      for (const Segment& g : segments)
        backend.target_scores(true, 1.f, false, view_of(logits.slice(g.begin, g.begin + g.length)),
                              view_of(in.classes.slice(g.r, g.r + 1)), g.step,
                              {curve.data<float>() + g.r * (S + 1), {1, S + 1}, curve.device()});
      done += b;
      if (o.progress) o.progress(done, total);
    }
    Tensor auc = session.allocate({R});
    kernels::GemmAttrs gemm;
    gemm.beta = 0.f;
    backend.gemm(gemm, view_of(curve), view_of(auc_weights), {}, {auc.data<float>(), {R, 1}, auc.device()});
    (deletion ? out.deletion : out.insertion) = curve;
    (deletion ? out.deletion_auc : out.insertion_auc) = auc;
  }
  return out;
}

ConfidenceChange confidence_change(Session& session, const Tensor& images, const Tensor& maps,
                                   const Tensor& classes, const MetricOptions& o) {
  const Inputs in = check_inputs(session, images, maps, classes, "confidence_change");
  kernels::Backend& backend = session.backend();
  const int64_t N = in.N, C = in.C, H = in.H, W = in.W, R = in.R, K = in.K;
  const int64_t B = copies_per_pass(session, in.x.shape(), o.batch, o.memory_budget);
  ConfidenceChange out;
  out.full = session.allocate({R});
  out.masked = session.allocate({R});
  const int64_t total = N + R;
  int64_t done = 0;
  // Y: the images themselves, B per pass; the K targets of image n into Y[n*K .. n*K + K).
  for (int64_t n0 = 0; n0 < N; n0 += B) {
    const int64_t b = std::min(B, N - n0);
    const Tensor logits = session.run(in.x.slice(n0, n0 + b)).output();
    for (int64_t n = n0; n < n0 + b; ++n)
      backend.target_scores(true, 1.f, false, view_of(logits.slice(n - n0, n - n0 + 1)),
                            view_of(in.classes.slice(n * K, (n + 1) * K)), 0,
                            {out.full.data<float>() + n * K, {K, 1}, out.full.device()});
    done += b;
    if (o.progress) o.progress(done, total);
  }
  // O: each image times each of its maps, B copies per pass across images; the scores of every copy of the chunk
  // for every class of the chunk [b, b], of which the diagonal (copy j, its own class) is kept.
  for (int64_t r0 = 0; r0 < R; r0 += B) {
    const int64_t b = std::min(B, R - r0);
    Tensor copies = session.allocate({b, C, H, W});
    for (int64_t r = r0; r < r0 + b;) {
      const int64_t n = r / K, length = std::min((n + 1) * K, r0 + b) - r;
      Tensor part = copies.slice(r - r0, r - r0 + length);
      backend.score_inputs(1.f, 0.f, 0, 0, view_of(in.x.slice(n, n + 1).reshape({C, H, W})),
                           view_of(in.maps.slice(r, r + length)), view_of(part));
      r += length;
    }
    const Tensor logits = session.run(copies).output();
    Tensor scores = session.allocate({b, b});
    backend.target_scores(true, 1.f, false, view_of(logits), view_of(in.classes.slice(r0, r0 + b)), 0,
                          view_of(scores));
    backend.strided_copy(0, {b + 1}, {scores.data<float>(), {b * b}, scores.device()},
                         {out.masked.data<float>() + r0, {b}, out.masked.device()});
    done += b;
    if (o.progress) o.progress(done, total);
  }
  // The one wait: Y and O to the host, the indicator [O > Y] and the means.
  const Tensor Y = out.full.to(Device::cpu()), O = out.masked.to(Device::cpu());
  double drop = 0, increase = 0;
  for (int64_t r = 0; r < R; ++r) {
    const double y = Y.data<float>()[r], v = O.data<float>()[r];
    const double d = y > 0 ? 100.0 * std::max(0.0, y - v) / y : 0.0;
    out.drop.push_back(float(d));
    out.increase.push_back(v > y ? 1 : 0);
    drop += d, increase += v > y ? 1 : 0;
  }
  out.average_drop = drop / double(R);
  out.increase_in_confidence = 100.0 * increase / double(R);
  return out;
}

Pointing pointing_game(Session& session, const Tensor& maps, const std::vector<std::vector<Box>>& boxes,
                       double tolerance) {
  GB_CHECK(maps.rank() == 3 && maps.dim(0) >= 1 && int64_t(boxes.size()) == maps.dim(0),
           "pointing_game: maps ", shape_str(maps.shape()), " [R, H, W] need one box list per map, not ",
           boxes.size());
  kernels::Backend& backend = session.backend();
  const Tensor m = session.place(maps);
  const int64_t R = m.dim(0), H = m.dim(1), W = m.dim(2), P = H * W;
  // The maximum of each map: target_seeds' top-1 (first maximum, NaN last), one copy of R indices to the host.
  Tensor seeds = session.allocate({R, P}), peak = session.allocate({R});
  backend.target_seeds(false, {m.data<float>(), {R, P}, m.device()}, {}, view_of(seeds), view_of(peak));
  // Energy: the min-max normalized map times the boxes' mask, and the map, averaged per map on the device.
  Tensor host_mask = Tensor::zeros({R, H, W});
  for (int64_t r = 0; r < R; ++r)
    for (const Box& b : boxes[size_t(r)]) {
      GB_CHECK(b.x0 <= b.x1 && b.y0 <= b.y1, "pointing_game: box (", b.x0, ", ", b.y0, ", ", b.x1, ", ", b.y1,
               ") of map ", r, " is empty");
      for (int64_t y = std::max<int64_t>(b.y0, 0); y <= std::min(b.y1, H - 1); ++y)
        for (int64_t x = std::max<int64_t>(b.x0, 0); x <= std::min(b.x1, W - 1); ++x)
          host_mask.data<float>()[(r * H + y) * W + x] = 1.f;
    }
  const Tensor mask = session.place(host_mask);
  Tensor normalized = session.allocate({R, H, W}), inside = session.allocate({R, H, W});
  backend.copy(view_of(m), view_of(normalized));
  backend.normalize_minmax(view_of(normalized));
  backend.binary(kernels::BinaryOp::mul, {}, view_of(normalized), view_of(mask), view_of(inside));
  Tensor sums = session.allocate({2, R, 1, 1});
  backend.reduce(kernels::ReduceKind::mean, {2, 3}, {inside.data<float>(), {1, R, H, W}, m.device()},
                 {sums.data<float>(), {1, R, 1, 1}, m.device()});
  backend.reduce(kernels::ReduceKind::mean, {2, 3}, {normalized.data<float>(), {1, R, H, W}, m.device()},
                 {sums.data<float>() + R, {1, R, 1, 1}, m.device()});
  const Tensor peaks = peak.to(Device::cpu()), means = sums.to(Device::cpu());

  Pointing out;
  int64_t counted = 0, hits = 0;
  double energy = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t p = int64_t(peaks.data<float>()[r]), px = p % W, py = p / W;
    out.peak.push_back(p);
    if (boxes[size_t(r)].empty()) {
      out.hit.push_back(-1);
      out.energy.push_back(NAN);
      continue;
    }
    bool hit = false;
    for (const Box& b : boxes[size_t(r)]) {
      const double dx = double(std::max({b.x0 - px, int64_t(0), px - b.x1}));
      const double dy = double(std::max({b.y0 - py, int64_t(0), py - b.y1}));
      hit = hit || std::sqrt(dx * dx + dy * dy) <= tolerance;
    }
    const double in_box = means.data<float>()[r], all = means.data<float>()[R + r];
    const float e = all > 0 ? float(in_box / all) : 0.f;
    out.hit.push_back(hit ? 1 : 0);
    out.energy.push_back(e);
    ++counted, hits += hit ? 1 : 0, energy += e;
  }
  out.accuracy = counted ? double(hits) / double(counted) : 0.0;
  out.mean_energy = counted ? energy / double(counted) : 0.0;
  return out;
}

}  // namespace glassbox::explain
