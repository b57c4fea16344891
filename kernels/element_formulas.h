// Per-element definitions that the CPU and CUDA kernels share: one formula, compiled for both (GB_HOST_DEVICE),
// so the CUDA kernels index exactly as the CPU reference that the op goldens test.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/kernels.h"

namespace glassbox::kernels {

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
  }
  return 1.f;
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
    case Activation::hard_swish: return NAN;  // not a function of y: callers pass x
  }
  return 1.f;
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

// One element of a target's seed d score / d logit_j for class c: [j == c] for a logit; p_c ([j == c] - p_j) for
// the softmax probability p_c.
GB_HOST_DEVICE inline float seed_at(bool probability, int64_t j, int64_t c, float p_j, float p_c) {
  if (!probability) return j == c ? 1.f : 0.f;
  return j == c ? p_c * (1.f - p_c) : -p_c * p_j;
}

}  // namespace glassbox::kernels
