// Per-element definitions that the CPU and CUDA kernels share: one formula, compiled for both (GB_HOST_DEVICE),
// so the CUDA kernels index exactly as the CPU reference that the op goldens test.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/kernels.h"

namespace glassbox::kernels {

// LayerNormalization's input gradient at one element of a row: (1/sigma) (g - mean(g) - xhat mean(g xhat)), with
// g = dy * scale there, xhat = (x - mean) / sigma, and the row means mean_g, mean_gx of g and g xhat.
GB_HOST_DEVICE inline float layer_norm_dx(float g, float xhat, float mean_g, float mean_gx, float inv_sigma) {
  return inv_sigma * (g - mean_g - xhat * mean_gx);
}

// Pad: the input coordinate that output coordinate `o` reads along one dimension, or -1 for the constant value.
// Inside: o - begin; reflect mirrors without repeating the edge (... 2 1 [0 1 2 3] 2 1 0 ...); edge repeats the
// nearest edge; wrap takes the other side.
GB_HOST_DEVICE inline int64_t pad_source_index(int64_t o, int64_t begin, int64_t size, PadMode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < size) return i;
  if (mode == PadMode::constant) return -1;
  if (mode == PadMode::edge) return i < 0 ? 0 : size - 1;
  if (mode == PadMode::wrap) return ((i % size) + size) % size;
  if (size == 1) return 0;
  const int64_t period = 2 * (size - 1);
  i %= period;
  if (i < 0) i += period;
  return i < size ? i : period - i;
}

// The taps of pooling window (oh, ow) that lie inside an H x W plane, in scan order: f(index in the plane).
template <class F>
GB_HOST_DEVICE inline void for_each_pool_tap(const Pool2dAttrs& a, int64_t H, int64_t W, int64_t oh, int64_t ow, F f) {
  const int64_t h0 = oh * a.stride_h - a.pad_top, w0 = ow * a.stride_w - a.pad_left;
  for (int64_t kh = 0; kh < a.kernel_h; ++kh) {
    const int64_t ih = h0 + kh * a.dilation_h;
    if (ih < 0 || ih >= H) continue;
    for (int64_t kw = 0; kw < a.kernel_w; ++kw) {
      const int64_t iw = w0 + kw * a.dilation_w;
      if (iw >= 0 && iw < W) f(ih * W + iw);
    }
  }
}

// MaxPool / AveragePool: output (oh, ow) of one H x W plane.
// max:     the largest tap inside the input (padding never wins);
// average: the sum of the taps inside the input / their count, or / (kH*kW) with count_include_pad — as ONNX
//          Runtime computes it. (PyTorch instead clips the window to the padded input, which differs only for
//          ceil_mode windows that overhang the padding.)
GB_HOST_DEVICE inline float pool2d_at(const Pool2dAttrs& a, const float* plane, int64_t H, int64_t W, int64_t oh,
                                      int64_t ow) {
  const bool is_max = a.kind == Pool2dAttrs::Kind::max;
  float acc = is_max ? -INFINITY : 0.f;
  int64_t inside = 0;
  for_each_pool_tap(a, H, W, oh, ow, [&](int64_t i) {
    const float v = plane[i];
    acc = is_max ? (v > acc ? v : acc) : acc + v;
    ++inside;
  });
  if (is_max) return acc;
  const int64_t count = a.count_include_pad ? a.kernel_h * a.kernel_w : inside;
  return count > 0 ? acc / static_cast<float>(count) : 0.f;
}

// The derivative of an activation at input x (y = a.apply(x)).
GB_HOST_DEVICE inline float activation_derivative_at_input(const ActivationAttrs& a, float x) {
  switch (a.kind) {
    case Activation::none: return 1.f;
    case Activation::relu: return x > 0.f ? 1.f : 0.f;
    case Activation::clip: return x > a.alpha && x < a.beta ? 1.f : 0.f;
    case Activation::leaky_relu: return x > 0.f ? 1.f : a.alpha;
    case Activation::sigmoid: {
      const float y = a.apply(x);
      return y * (1.f - y);
    }
    case Activation::hard_sigmoid: {
      const float z = a.alpha * x + a.beta;
      return z > 0.f && z < 1.f ? a.alpha : 0.f;
    }
    case Activation::hard_swish: return x < -3.f ? 0.f : (x > 3.f ? 1.f : x / 3.f + 0.5f);
    case Activation::erf: return 1.12837917f * std::exp(-x * x);  // 2/sqrt(pi) e^(-x^2)
    case Activation::gelu:  // Phi(x) + x phi(x)
      return 0.5f * (1.f + std::erf(x * 0.70710678f)) + x * 0.39894228f * std::exp(-0.5f * x * x);
    case Activation::gelu_tanh: {  // t = tanh(k (x + c x^3)): (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 c x^2)
      const float t = std::tanh(0.79788456f * (x + 0.044715f * x * x * x));
      return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * 0.79788456f * (1.f + 3.f * 0.044715f * x * x);
    }
    case Activation::sqrt: return 0.5f / std::sqrt(x);
    case Activation::pow: return a.alpha * std::pow(x, a.alpha - 1.f);
    case Activation::exp: return std::exp(x);
    case Activation::tanh: {
      const float t = std::tanh(x);
      return 1.f - t * t;
    }
  }
  return 1.f;
}

// Whether the derivative is a function of the output y (activation_derivative_at_output); the others need x.
GB_HOST_DEVICE inline bool has_output_derivative(const ActivationAttrs& a) {
  switch (a.kind) {
    case Activation::leaky_relu: return a.alpha >= 0.f;
    case Activation::hard_swish:
    case Activation::erf:
    case Activation::gelu:
    case Activation::gelu_tanh:
    case Activation::sqrt:
    case Activation::pow: return false;
    default: return true;
  }
}

// The same from the output y, for the activations whose output determines it (all but hard_swish; leaky_relu
// with alpha >= 0, where y > 0 exactly when x > 0).
GB_HOST_DEVICE inline float activation_derivative_at_output(const ActivationAttrs& a, float y) {
  switch (a.kind) {
    case Activation::none: return 1.f;
    case Activation::relu: return y > 0.f ? 1.f : 0.f;
    case Activation::clip: return y > a.alpha && y < a.beta ? 1.f : 0.f;
    case Activation::leaky_relu: return y > 0.f ? 1.f : a.alpha;
    case Activation::sigmoid: return y * (1.f - y);
    case Activation::hard_sigmoid: return y > 0.f && y < 1.f ? a.alpha : 0.f;
    case Activation::exp: return y;              // (e^x)' = e^x
    case Activation::tanh: return 1.f - y * y;   // tanh' = 1 - tanh^2
    default: return NAN;  // not a function of y (has_output_derivative): callers pass x
  }
  return 1.f;
}

// A rectifier's backward under a rule (BackwardRule in kernels.h), from its output y: true for the rectifiers
// (relu, clip, leaky_relu with alpha >= 0), whose forward mask y determines; dx in `dx`.
GB_HOST_DEVICE inline bool is_rectifier(const ActivationAttrs& a) {
  return a.kind == Activation::relu || a.kind == Activation::clip ||
         (a.kind == Activation::leaky_relu && a.alpha >= 0.f);
}
GB_HOST_DEVICE inline float rule_backward_at(BackwardRule rule, const ActivationAttrs& a, float y, float dy) {
  if (rule == BackwardRule::deconvnet) {
    if (a.kind == Activation::leaky_relu) return dy < 0.f ? a.alpha * dy : dy;
    return dy > 0.f ? dy : 0.f;
  }
  const float g = dy * activation_derivative_at_output(a, y);
  return rule == BackwardRule::guided && !(dy > 0.f) ? 0.f : g;
}

// Max/average pooling backward for output (oh, ow) of one plane: adds g to the window's first maximum (the tap
// pool2d_at returns), or g / count to each tap pool2d_at averaged, through add(index in the plane, value) (a plain
// += on the CPU, an atomic add on the GPU, where windows overlap across threads).
template <class Add>
GB_HOST_DEVICE inline void pool2d_backward_at(const Pool2dAttrs& a, const float* plane, int64_t H, int64_t W,
                                              int64_t oh, int64_t ow, float g, Add add) {
  if (a.kind == Pool2dAttrs::Kind::max) {
    float best = -INFINITY;
    int64_t best_at = -1;
    for_each_pool_tap(a, H, W, oh, ow, [&](int64_t i) {
      if (plane[i] > best) best = plane[i], best_at = i;  // the comparison pool2d_at makes
    });
    if (best_at >= 0) add(best_at, g);
    return;
  }
  int64_t inside = 0;  // average pooling reads only the shape (plane may be null)
  for_each_pool_tap(a, H, W, oh, ow, [&](int64_t) { ++inside; });
  const int64_t count = a.count_include_pad ? a.kernel_h * a.kernel_w : inside;
  if (count == 0) return;
  const float share = g / static_cast<float>(count);
  for_each_pool_tap(a, H, W, oh, ow, [&](int64_t i) { add(i, share); });
}

// Counter-based Gaussian noise: a standard normal deviate from (seed, index) alone, so that every backend and every
// launch shape draws the same numbers. The SplitMix64 finalizer (Steele, Lea & Flood 2014) hashes the counter into
// two 24-bit uniforms u1 in (0, 1], u2 in [0, 1); Box-Muller: sqrt(-2 ln u1) cos(2 pi u2).
GB_HOST_DEVICE inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// A uniform number in [0, 1) from (seed, index): 24 bits of the same hash.
GB_HOST_DEVICE inline float uniform_noise(uint32_t seed, uint64_t index) {
  return float(splitmix64(index ^ splitmix64(seed)) >> 40) * (1.f / 16777216.f);
}
GB_HOST_DEVICE inline float gaussian_noise(uint32_t seed, uint64_t index) {
  const uint64_t r = splitmix64(index ^ splitmix64(seed));
  const float u1 = float((r >> 40) + 1) * (1.f / 16777216.f);
  const float u2 = float((r >> 16) & 0xffffffu) * (1.f / 16777216.f);
  return sqrtf(-2.f * logf(u1)) * cosf(6.28318530718f * u2);
}

// Top-k order of a row of logits: (value a at index i) ranks before (b at j) when a > b, or a == b and i < j; NaN
// ranks below every number.
GB_HOST_DEVICE inline bool ranks_before(float a, int64_t i, float b, int64_t j) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan || b_nan) return !a_nan || (b_nan && i < j);
  return a > b || (a == b && i < j);
}

// One element of deletion / insertion copy `step` (kernels.h: ranked_copies): the pixel of rank `rank` has been
// moved to `to` once step * pixels_per_step pixels have (ranks 0 .. step * pixels_per_step - 1).
GB_HOST_DEVICE inline float ranked_copy_at(int64_t step, int64_t pixels_per_step, float rank, float from, float to) {
  return int64_t(rank) < step * pixels_per_step ? to : from;
}

// One element of a target's seed d score / d logit_j for class c: [j == c] for a logit; p_c ([j == c] - p_j) for
// the softmax probability p_c.
GB_HOST_DEVICE inline float seed_at(bool probability, int64_t j, int64_t c, float p_j, float p_c) {
  if (!probability) return j == c ? 1.f : 0.f;
  return j == c ? p_c * (1.f - p_c) : -p_c * p_j;
}

// ---- Perturbation methods (Backend::row_ranges .. rise_masks in kernels.h).

// Minimum and maximum that propagate NaN (a row with a NaN has the range NaN, NaN): a NaN operand wins.
GB_HOST_DEVICE inline float nan_min(float a, float b) { return a < b || a != a ? a : b; }
GB_HOST_DEVICE inline float nan_max(float a, float b) { return a > b || a != a ? a : b; }

// A row, class or channel index given as a float: int64(v) when 0 <= v < n, else -1 (outside, NaN, or too large to
// convert: the range is checked on the float itself).
GB_HOST_DEVICE inline int64_t index_in_range(float v, int64_t n) {
  return v >= 0.f && double(v) < double(n) ? static_cast<int64_t>(v) : -1;
}

// Score-CAM's masked input: x * (scale * mask + noise_std * gaussian_noise(seed, noise_index)); no noise term when
// noise_std is 0.
GB_HOST_DEVICE inline float score_input_at(float x, float mask, float scale, float noise_std, uint32_t seed,
                                           uint64_t noise_index) {
  const float m = scale * mask;
  return x * (noise_std != 0.f ? m + noise_std * gaussian_noise(seed, noise_index) : m);
}

// A target score from logit z of its row: z itself, or, with probability, its softmax probability exp(z - max) / sum,
// max and sum (of exp(logit - max)) over the row. T: float on the device, double on the CPU.
template <class T>
GB_HOST_DEVICE inline T target_score_at(bool probability, T z, T max, T sum) {
  return probability ? std::exp(z - max) / sum : z;
}

// ReciproCAM's mask at position p for spatial position q of an h x w map (both row-major over h x w, width w): the
// one-hot of q, or the 3x3 kernel [1 2 1; 2 4 2; 1 2 1] / 16 centred on q (cut at the borders, not renormalized).
GB_HOST_DEVICE inline float spatial_mask_at(bool gaussian, int64_t q, int64_t p, int64_t w) {
  const int64_t dy = p / w - q / w, dx = p % w - q % w;
  if (!gaussian) return dy == 0 && dx == 0 ? 1.f : 0.f;
  if (dy < -1 || dy > 1 || dx < -1 || dx > 1) return 0.f;
  return float((dy == 0 ? 2 : 1) * (dx == 0 ? 2 : 1)) * (1.f / 16.f);
}

// The two linear-interpolation taps at source coordinate s along an axis of `in` samples (in >= 1): s clamped to
// [0, in - 1] (NaN reads as 0), i0 = floor(s), i1 = min(i0 + 1, in - 1), weight t = s - i0 on i1 and 1 - t on i0;
// t = 0 where i1 = i0 (the last sample). The indices are clamped again as integers, so that a float rounding of
// in - 1 can never reach past the axis.
GB_HOST_DEVICE inline void linear_taps(float s, int64_t in, int64_t& i0, int64_t& i1, float& t) {
  s = fminf(fmaxf(s, 0.f), float(in - 1));
  const int64_t i = static_cast<int64_t>(s);
  i0 = i < in - 1 ? i : in - 1;
  i1 = i0 + 1 < in - 1 ? i0 + 1 : in - 1;
  t = i1 == i0 ? 0.f : s - float(i0);
}

// Bilinear resizing with half-pixel centres, clamped at the edges (resize_bilinear's convention, PyTorch's
// align_corners=False): output coordinate o of `out` reads input coordinates i0, i1 of `in` with weight t on i1,
// s = (o + 0.5) * in / out - 0.5, then linear_taps. (ONNX Resize's half_pixel divides by the scale instead:
// resize_source_coordinate.)
GB_HOST_DEVICE inline void bilinear_source(int64_t o, int64_t in, int64_t out, int64_t& i0, int64_t& i1, float& t) {
  linear_taps((float(o) + 0.5f) * float(in) / float(out) - 0.5f, in, i0, i1, t);
}

// ---- ONNX Resize (Backend::resize2d; kernels.h: Resize2dAttrs states the coordinate transforms).

// The source coordinate of output coordinate o along an axis resized from `in` to `out` samples, `scale` the axis'
// scale (ONNX Resize, coordinate_transformation_mode), in float as ONNX Runtime evaluates it.
GB_HOST_DEVICE inline float resize_source_coordinate(ResizeCoordinates m, int64_t o, int64_t in, int64_t out,
                                                     float scale) {
  const float x = float(o);
  switch (m) {
    case ResizeCoordinates::half_pixel: return (x + 0.5f) / scale - 0.5f;
    case ResizeCoordinates::pytorch_half_pixel: return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.f;
    case ResizeCoordinates::align_corners: return out > 1 ? x * float(in - 1) / float(out - 1) : 0.f;
    case ResizeCoordinates::asymmetric: return x / scale;
    case ResizeCoordinates::half_pixel_symmetric: {  // adjustment = out / (scale * in), centre in / 2
      const float adjustment = float(out) / (scale * float(in));
      const float offset = float(in) / 2.f * (1.f - adjustment);
      return offset + (x + 0.5f) / scale - 0.5f;
    }
  }
  return x;
}

// Nearest: the input index of source coordinate s by nearest_mode (round_prefer_floor rounds halves down,
// round_prefer_ceil up), clamped to [0, in - 1] (NaN reads as 0).
GB_HOST_DEVICE inline int64_t resize_nearest_index(ResizeNearest r, float s, int64_t in) {
  const float f = floorf(s);
  float v = f;
  switch (r) {
    case ResizeNearest::round_prefer_floor: v = s - f > 0.5f ? f + 1.f : f; break;
    case ResizeNearest::round_prefer_ceil: v = s - f >= 0.5f ? f + 1.f : f; break;
    case ResizeNearest::floor: v = f; break;
    case ResizeNearest::ceil: v = ceilf(s); break;
  }
  const int64_t i = static_cast<int64_t>(fminf(fmaxf(v, 0.f), float(in - 1)));
  return i < in - 1 ? i : in - 1;
}

// The taps of output coordinate o along one axis: input indices i0, i1 with weights 1 - t, t (nearest: i1 = i0,
// t = 0). Both indices never decrease as o grows (every step of the transform is monotone), which
// resize_outputs_reading relies on.
GB_HOST_DEVICE inline void resize_taps(const Resize2dAttrs& a, float scale, int64_t o, int64_t in, int64_t out,
                                       int64_t& i0, int64_t& i1, float& t) {
  const float s = resize_source_coordinate(a.coordinates, o, in, out, scale);
  if (a.mode == ResizeMode::nearest) {
    i0 = i1 = resize_nearest_index(a.nearest, s, in);
    t = 0.f;
    return;
  }
  linear_taps(s, in, i0, i1, t);
}

// One output of a resized plane from its row taps (rows r0, r1 of the plane, weight ty on r1) and column taps
// (x0, x1, weight tx on x1): the bilinear blend, which is the one pixel for nearest (r0 = r1, x0 = x1, t = 0).
GB_HOST_DEVICE inline float resize_blend(const float* row0, const float* row1, int64_t x0, int64_t x1, float tx,
                                         float ty) {
  const float top = row0[x0] + (row0[x1] - row0[x0]) * tx;
  const float bottom = row1[x0] + (row1[x1] - row1[x0]) * tx;
  return top + (bottom - top) * ty;
}

// The weight with which taps (i0, i1, t) read input index i (0 when neither is i).
GB_HOST_DEVICE inline float resize_tap_weight(int64_t i, int64_t i0, int64_t i1, float t) {
  return (i0 == i ? 1.f - t : 0.f) + (i1 == i ? t : 0.f);
}

// The outputs [lo, hi) along an axis whose taps include input index i: lo is the first o with i1(o) >= i, hi the
// first with i0(o) > i (binary searches; the taps are monotone in o and i1 <= i0 + 1, so every o in between reads
// i). The backward gathers each input's gradient over them.
GB_HOST_DEVICE inline void resize_outputs_reading(const Resize2dAttrs& a, float scale, int64_t i, int64_t in,
                                                  int64_t out, int64_t& lo, int64_t& hi) {
  int64_t i0, i1;
  float t;
  int64_t b = 0, e = out;
  while (b < e) {
    const int64_t m = b + (e - b) / 2;
    resize_taps(a, scale, m, in, out, i0, i1, t);
    if (i1 >= i) e = m;
    else b = m + 1;
  }
  lo = b;
  e = out;
  while (b < e) {
    const int64_t m = b + (e - b) / 2;
    resize_taps(a, scale, m, in, out, i0, i1, t);
    if (i0 > i) e = m;
    else b = m + 1;
  }
  hi = b;
}

// RISE's mask i at (Y, X) of an H x W image (Petsiuk et al. 2018; Backend::rise_masks states it): a cells x cells
// binary grid (cell (u, v) on when uniform_noise(seed, i * cells^2 + u * cells + v) < probability), upsampled
// bilinearly to (cells + 1) * ch x (cells + 1) * cw, ch = ceil(H / cells), cw = ceil(W / cells), read at (Y + dy,
// X + dx) for the mask's random shift dy in [0, ch), dx in [0, cw).
GB_HOST_DEVICE inline float rise_cell(uint32_t seed, uint64_t i, int64_t cells, float probability, int64_t u,
                                      int64_t v) {
  const uint64_t c = uint64_t(cells);
  return uniform_noise(seed, i * c * c + uint64_t(u) * c + uint64_t(v)) < probability ? 1.f : 0.f;
}
GB_HOST_DEVICE inline int64_t rise_shift(uint32_t seed, uint64_t i, int axis, int64_t cell_size) {
  const int64_t d = static_cast<int64_t>(uniform_noise(seed, (uint64_t(1) << 62) + 2 * i + uint64_t(axis)) *
                                         float(cell_size));  // floor: the product is not negative
  return d < cell_size - 1 ? d : cell_size - 1;               // (u < 1 keeps it below cell_size; a guard)
}
GB_HOST_DEVICE inline float rise_mask_at(uint32_t seed, uint64_t i, int64_t cells, float probability, int64_t H,
                                         int64_t W, int64_t Y, int64_t X) {
  const int64_t ch = (H + cells - 1) / cells, cw = (W + cells - 1) / cells;
  int64_t y0, y1, x0, x1;
  float ty, tx;
  bilinear_source(Y + rise_shift(seed, i, 0, ch), cells, (cells + 1) * ch, y0, y1, ty);
  bilinear_source(X + rise_shift(seed, i, 1, cw), cells, (cells + 1) * cw, x0, x1, tx);
  const float g00 = rise_cell(seed, i, cells, probability, y0, x0);
  const float g01 = rise_cell(seed, i, cells, probability, y0, x1);
  const float g10 = rise_cell(seed, i, cells, probability, y1, x0);
  const float g11 = rise_cell(seed, i, cells, probability, y1, x1);
  const float top = g00 + (g01 - g00) * tx, bottom = g10 + (g11 - g10) * tx;
  return top + (bottom - top) * ty;
}

// ---- Activation maximization (Backend::affine_resample .. adam_step in kernels.h).

// The four bilinear taps of output pixel (ox, oy) under the affine map p = (a, b, c, d, e, f) of an H x W plane:
// (sx, sy) = (a ox + b oy + c, d ox + e oy + f); taps at rows y0, y0 + 1 and columns x0, x0 + 1 (y0 = floor(sy),
// x0 = floor(sx)), each reflected into the plane (pad_source_index, reflect); idx[k] the flat index in the plane,
// w[k] the weight, in the order (y0, x0), (y0, x1), (y1, x0), (y1, x1).
GB_HOST_DEVICE inline void affine_taps(const float* p, int64_t H, int64_t W, int64_t ox, int64_t oy, int64_t idx[4],
                                       float w[4]) {
  const float sx = p[0] * float(ox) + p[1] * float(oy) + p[2];
  const float sy = p[3] * float(ox) + p[4] * float(oy) + p[5];
  const float fx = floorf(sx), fy = floorf(sy);
  const float tx = sx - fx, ty = sy - fy;
  // Far outside (a NaN or a huge coordinate) reads the plane's first pixel: the reflection of an index is defined
  // for any int64, and the float is clamped before its conversion.
  const float lim = 1e9f;
  const int64_t x0 = static_cast<int64_t>(fx > -lim && fx < lim ? fx : 0.f);
  const int64_t y0 = static_cast<int64_t>(fy > -lim && fy < lim ? fy : 0.f);
  const int64_t c0 = pad_source_index(x0, 0, W, PadMode::reflect), c1 = pad_source_index(x0 + 1, 0, W, PadMode::reflect);
  const int64_t r0 = pad_source_index(y0, 0, H, PadMode::reflect), r1 = pad_source_index(y0 + 1, 0, H, PadMode::reflect);
  idx[0] = r0 * W + c0, idx[1] = r0 * W + c1, idx[2] = r1 * W + c0, idx[3] = r1 * W + c1;
  w[0] = (1.f - ty) * (1.f - tx), w[1] = (1.f - ty) * tx, w[2] = ty * (1.f - tx), w[3] = ty * tx;
}

// d TV / d x[i, j] for the squared total variation of an H x W plane, TV = sum (x[i+1, j] - x[i, j])^2 +
// (x[i, j+1] - x[i, j])^2: 2 (x[i,j] - x[i-1,j]) [i > 0] - 2 (x[i+1,j] - x[i,j]) [i < H-1], likewise along j.
template <class T>
GB_HOST_DEVICE inline T tv_gradient_at(const T* plane, int64_t H, int64_t W, int64_t i, int64_t j) {
  const T c = plane[i * W + j];
  T g = T(0);
  if (i > 0) g += T(2) * (c - plane[(i - 1) * W + j]);
  if (i < H - 1) g -= T(2) * (plane[(i + 1) * W + j] - c);
  if (j > 0) g += T(2) * (c - plane[i * W + j - 1]);
  if (j < W - 1) g -= T(2) * (plane[i * W + j + 1] - c);
  return g;
}

// One Adam step (Kingma & Ba 2015, Algorithm 1), ascent: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p += lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / c1, v_hat = v / c2, c1 = 1 - b1^step, c2 = 1 - b2^step.
GB_HOST_DEVICE inline void adam_at(float lr, float b1, float b2, float eps, float c1, float c2, float g, float& m,
                                   float& v, float& p) {
  m = b1 * m + (1.f - b1) * g;
  v = b2 * v + (1.f - b2) * g * g;
  p += lr * (m / c1) / (sqrtf(v / c2) + eps);
}

// ---- Reductions (ReduceKind in kernels.h states each one). The accumulator of one output starts at reduce_init,
// takes each element x by reduce_step, partial accumulators (threads of one output) join by reduce_join, and
// reduce_finish makes the output from it and the element count n. log_sum_exp first finds the maximum m of the
// elements (a max reduction) and steps with shift = reduce_shift(m); the other kinds ignore the shift.
// T: double on the CPU, float on the GPU.
GB_HOST_DEVICE inline bool reduce_needs_shift(ReduceKind k) { return k == ReduceKind::log_sum_exp; }

template <class T>
GB_HOST_DEVICE inline T reduce_init(ReduceKind k) {
  return k == ReduceKind::max ? T(-INFINITY) : k == ReduceKind::min ? T(INFINITY) : T(0);
}

// m where it is finite, else 0 (all elements -inf, or an inf or NaN among them: the sum then gives the answer).
template <class T>
GB_HOST_DEVICE inline T reduce_shift(T m) {
  return m - m == T(0) ? m : T(0);
}

template <class T>
GB_HOST_DEVICE inline T reduce_join(ReduceKind k, T a, T b) {
  if (k == ReduceKind::max) return b > a || b != b ? b : a;  // a NaN stays
  if (k == ReduceKind::min) return b < a || b != b ? b : a;
  return a + b;
}

template <class T>
GB_HOST_DEVICE inline T reduce_step(ReduceKind k, T acc, float x, T shift) {
  const T v = static_cast<T>(x);
  switch (k) {
    case ReduceKind::mean:
    case ReduceKind::sum:
    case ReduceKind::log_sum: return acc + v;
    case ReduceKind::l1: return acc + (v < T(0) ? -v : v);
    case ReduceKind::l2:
    case ReduceKind::sum_square: return acc + v * v;
    case ReduceKind::max:
    case ReduceKind::min: return reduce_join(k, acc, v);
    case ReduceKind::log_sum_exp: return acc + std::exp(v - shift);
  }
  return acc;
}

template <class T>
GB_HOST_DEVICE inline float reduce_finish(ReduceKind k, T acc, T shift, int64_t n) {
  switch (k) {
    case ReduceKind::mean: return n > 0 ? static_cast<float>(acc / static_cast<T>(n)) : 0.f;
    case ReduceKind::l2: return static_cast<float>(std::sqrt(acc));
    case ReduceKind::log_sum: return static_cast<float>(std::log(acc));
    case ReduceKind::log_sum_exp: return static_cast<float>(shift + std::log(acc));
    default: return static_cast<float>(acc);
  }
}

// The backward (kernels.h: Backend::reduce_backward). Max and min pass dy to one element, the first that
// reduce_picks (x equal to y, or both NaN); every other kind is per element, by reduce_dx.
GB_HOST_DEVICE inline bool reduce_passes_to_one(ReduceKind k) { return k == ReduceKind::max || k == ReduceKind::min; }
GB_HOST_DEVICE inline bool reduce_picks(float x, float y) { return x == y || (x != x && y != y); }
GB_HOST_DEVICE inline bool reduce_backward_reads_x(ReduceKind k) {
  return k == ReduceKind::l1 || k == ReduceKind::l2 || k == ReduceKind::sum_square || k == ReduceKind::max ||
         k == ReduceKind::min || k == ReduceKind::log_sum_exp;
}
GB_HOST_DEVICE inline bool reduce_backward_reads_y(ReduceKind k) {
  return k == ReduceKind::l2 || k == ReduceKind::max || k == ReduceKind::min || k == ReduceKind::log_sum ||
         k == ReduceKind::log_sum_exp;
}
// d y / d x times dy for one element x of an output y over n elements (not max and min).
GB_HOST_DEVICE inline float reduce_dx(ReduceKind k, float x, float y, float dy, int64_t n) {
  switch (k) {
    case ReduceKind::mean: return n > 0 ? dy / static_cast<float>(n) : 0.f;
    case ReduceKind::sum: return dy;
    case ReduceKind::l1: return x > 0.f ? dy : x < 0.f ? -dy : 0.f;
    case ReduceKind::l2: return y != 0.f ? dy * x / y : 0.f;
    case ReduceKind::sum_square: return 2.f * x * dy;
    case ReduceKind::log_sum: return dy * std::exp(-y);           // y = log S: 1 / S
    case ReduceKind::log_sum_exp: return dy * std::exp(x - y);   // the softmax of the elements
    default: return 0.f;
  }
}

}  // namespace glassbox::kernels
