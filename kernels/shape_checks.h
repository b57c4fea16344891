// The shape contracts of the explanation kernels (kernels.h), checked in one place for every backend: each
// function returns the sizes its kernels loop over, or throws naming the operator and the shapes.
#pragma once
#include <cstdint>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace glassbox::kernels {

// target_seeds: N images, C classes, K targets per image.
struct TargetSizes {
  int64_t N = 0, C = 0, K = 0;
};
inline TargetSizes check_target_seeds(ConstView logits, ConstView given, View seeds, View classes) {
  const bool shaped = logits.shape.size() == 2 && seeds.shape.size() == 2 && classes.shape.size() == 1;
  TargetSizes s;
  s.N = shaped ? logits.dim(0) : 0, s.C = shaped ? logits.dim(1) : 0;
  s.K = s.N ? classes.dim(0) / s.N : 0;
  GB_CHECK(shaped && s.K >= 1 && classes.dim(0) == s.N * s.K && seeds.dim(0) == s.N * s.K && seeds.dim(1) == s.C &&
               s.K <= s.C && (given.data == nullptr || given.numel() == s.N * s.K),
           "target_seeds: logits ", shape_str(logits.shape), ", given ", shape_str(given.shape), ", seeds ",
           shape_str(seeds.shape), " and classes ", shape_str(classes.shape), " do not fit");
  return s;
}

// target_scores: M rows of C logits, K classes, T columns of scores.
struct ScoreSizes {
  int64_t M = 0, C = 0, K = 0, T = 0;
};
inline ScoreSizes check_target_scores(ConstView logits, ConstView classes, int64_t column, View scores) {
  const bool shaped = logits.shape.size() == 2 && scores.shape.size() == 2;
  ScoreSizes s;
  s.M = shaped ? logits.dim(0) : 0, s.C = shaped ? logits.dim(1) : 0, s.K = classes.numel();
  s.T = shaped ? scores.dim(1) : 0;
  GB_CHECK(shaped && scores.dim(0) == s.K && column >= 0 && column + s.M <= s.T, "target_scores: logits ",
           shape_str(logits.shape), " for ", s.K, " classes do not fit scores ", shape_str(scores.shape),
           " at column ", column);
  return s;
}

// Copies of one image or feature map: M copies of C channels of P positions.
struct CopySizes {
  int64_t M = 0, C = 0, P = 0;
};
inline CopySizes check_score_inputs(ConstView x, ConstView masks, View y) {
  CopySizes s;
  s.M = masks.shape.size() == 3 ? masks.dim(0) : 0, s.P = s.M ? masks.dim(1) * masks.dim(2) : 0;
  s.C = s.P ? x.numel() / s.P : 0;
  GB_CHECK(masks.shape.size() == 3 && x.shape.size() >= 2 && x.dim(-2) == masks.dim(1) && x.dim(-1) == masks.dim(2) &&
               !y.shape.empty() && y.dim(0) == s.M && y.numel() == s.M * x.numel(),
           "score_inputs: image ", shape_str(x.shape), " and masks ", shape_str(masks.shape),
           " (an image [C, H, W] and masks [M, H, W]) do not make copies of shape ", shape_str(y.shape));
  return s;
}
inline CopySizes check_ablate_channels(ConstView a, ConstView channels, View y) {
  CopySizes s;
  s.M = channels.numel(), s.C = a.shape.size() >= 3 ? a.dim(-3) : 0, s.P = s.C ? a.numel() / s.C : 0;
  GB_CHECK(a.shape.size() >= 3 && s.C * a.dim(-2) * a.dim(-1) == a.numel() && !y.shape.empty() && y.dim(0) == s.M &&
               y.numel() == s.M * a.numel(),
           "ablate_channels: ", s.M, " copies of the feature map ", shape_str(a.shape), " [C, h, w] do not fit ",
           shape_str(y.shape));
  return s;
}
inline CopySizes check_spatial_masked_copies(int64_t first, ConstView a, View y) {
  const bool shaped = a.shape.size() >= 3 && !y.shape.empty();
  CopySizes s;
  s.C = shaped ? a.dim(-3) : 0, s.P = shaped ? a.dim(-2) * a.dim(-1) : 0, s.M = shaped ? y.dim(0) : 0;
  GB_CHECK(shaped && s.C * s.P == a.numel() && y.numel() == s.M * s.C * s.P && first >= 0 && first + s.M <= s.P,
           "spatial_masked_copies: copies of the feature map ", shape_str(a.shape), " [C, h, w] for positions ",
           first, " .. ", first + s.M - 1, " do not fit ", shape_str(y.shape));
  return s;
}

// rank_pixels: R maps of P pixels.
inline CopySizes check_rank_pixels(ConstView maps, View ranks) {
  CopySizes s;
  s.M = maps.shape.empty() ? 0 : maps.dim(0), s.C = 1, s.P = s.M ? maps.numel() / s.M : 0;
  GB_CHECK(!maps.shape.empty() && ranks.shape == maps.shape && s.P <= (int64_t(1) << 24), "rank_pixels: maps ",
           shape_str(maps.shape), " [R, ...] (at most 2^24 pixels each) and ranks ", shape_str(ranks.shape),
           " do not fit");
  return s;
}
// ranked_copies: M copies of C channels of P pixels.
inline CopySizes check_ranked_copies(int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to,
                                     ConstView ranks, View y) {
  const bool shaped = from.shape.size() == 3 && ranks.shape.size() == 2 && !y.shape.empty();
  CopySizes s;
  s.C = shaped ? from.dim(0) : 0, s.P = shaped ? ranks.numel() : 0, s.M = shaped ? y.dim(0) : 0;
  GB_CHECK(shaped && to.shape == from.shape && from.dim(1) == ranks.dim(0) && from.dim(2) == ranks.dim(1) &&
               y.numel() == s.M * s.C * s.P && first_step >= 0 && pixels_per_step >= 1,
           "ranked_copies: image ", shape_str(from.shape), " and ", shape_str(to.shape), " [C, H, W], ranks ",
           shape_str(ranks.shape), " [H, W], copies ", shape_str(y.shape), ", first step ", first_step,
           " and ", pixels_per_step, " pixels per step do not fit");
  return s;
}

// channel_abs_max: N images of C channels of P positions.
inline CopySizes check_channel_abs_max(ConstView x, View y) {
  CopySizes s;
  s.M = x.shape.size() >= 2 ? x.dim(0) : 0, s.C = x.shape.size() >= 2 ? x.dim(1) : 0;
  s.P = s.M && s.C ? x.numel() / (s.M * s.C) : 0;
  GB_CHECK(x.shape.size() >= 2 && !y.shape.empty() && y.dim(0) == s.M && y.numel() == s.M * s.P,
           "channel_abs_max: ", shape_str(x.shape), " [N, C, ...] does not reduce to ", shape_str(y.shape));
  return s;
}

// affine_resample (and its backward): N images of C channels, input H x W, output OH x OW.
struct ResampleSizes {
  int64_t N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
};
inline ResampleSizes check_affine_resample(ConstView params, ConstView x, ConstView y) {
  const bool shaped = x.shape.size() == 4 && y.shape.size() == 4;
  ResampleSizes s;
  if (shaped) s = {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3)};
  GB_CHECK(shaped && y.dim(0) == s.N && y.dim(1) == s.C && params.numel() == 6 * s.N && (s.H > 0 && s.W > 0),
           "affine_resample: params ", shape_str(params.shape), " [N, 6], x ", shape_str(x.shape), " and y ",
           shape_str(y.shape), " do not fit");
  return s;
}
// resize2d (and its backward): N * C planes, input H x W, output OH x OW; scales finite and positive.
inline ResampleSizes check_resize2d(const Resize2dAttrs& a, ConstView x, ConstView y) {
  const bool shaped = x.shape.size() == 4 && y.shape.size() == 4;
  ResampleSizes s;
  if (shaped) s = {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3)};
  const bool scales = std::isfinite(a.scale_h) && a.scale_h > 0.f && std::isfinite(a.scale_w) && a.scale_w > 0.f;
  GB_CHECK(shaped && y.dim(0) == s.N && y.dim(1) == s.C && ((s.H > 0 && s.W > 0) || y.numel() == 0) && scales,
           "resize2d: x ", shape_str(x.shape), " and y ", shape_str(y.shape),
           " (4-D, the same N and C, a non-empty input plane) with scales ", a.scale_h, ", ", a.scale_w,
           " (finite, positive) do not fit");
  return s;
}
// tv_gradient: planes of H x W.
inline CopySizes check_tv_gradient(ConstView x, View dx) {
  CopySizes s;
  const bool shaped = x.shape.size() >= 2 && x.shape == dx.shape;
  s.C = shaped ? x.dim(-2) : 0, s.P = shaped ? x.dim(-1) : 0, s.M = s.C > 0 && s.P > 0 ? x.numel() / (s.C * s.P) : 0;
  GB_CHECK(shaped, "tv_gradient: x ", shape_str(x.shape), " and dx ", shape_str(dx.shape), " [..., H, W] differ");
  return s;
}
inline void check_same_size(const char* op, ConstView a, ConstView b) {
  GB_CHECK(a.numel() == b.numel(), op, ": ", shape_str(a.shape), " and ", shape_str(b.shape), " differ in size");
}
inline void check_unit_seed(int64_t row, int64_t channel, int64_t position, View seed) {
  const bool shaped = seed.shape.size() >= 2;
  const int64_t P = shaped ? seed.numel() / (seed.dim(0) * seed.dim(1)) : 0;
  GB_CHECK(shaped && row >= 0 && row < seed.dim(0) && channel >= 0 && channel < seed.dim(1) && position < P,
           "unit_seed: row ", row, ", channel ", channel, ", position ", position, " outside the seed ",
           shape_str(seed.shape));
}

// channel_seed: N images of C channels of P positions, the channel in range.
inline CopySizes check_channel_seed(int64_t channel, ConstView a, View y) {
  CopySizes s;
  s.M = a.shape.size() >= 2 ? a.dim(0) : 0, s.C = a.shape.size() >= 2 ? a.dim(1) : 0;
  s.P = s.M && s.C ? a.numel() / (s.M * s.C) : 0;
  GB_CHECK(a.shape.size() >= 2 && y.shape == a.shape && channel >= 0 && channel < s.C, "channel_seed: channel ",
           channel, " of ", shape_str(a.shape), " into ", shape_str(y.shape));
  return s;
}

// adam_step: the gradient and both moments have the parameters' size; steps count from 1.
inline void check_adam_step(int64_t step, ConstView grad, View m, View v, View param) {
  check_same_size("adam_step", grad, param);
  check_same_size("adam_step", m, param);
  check_same_size("adam_step", v, param);
  GB_CHECK(step >= 1, "adam_step: steps count from 1, got ", step);
}

}  // namespace glassbox::kernels
