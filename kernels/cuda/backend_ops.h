// The Backend methods that are one call to a CUDA kernel launcher (kernels/cuda/ops.h), shared by the CUDA backend
// (backend.cpp) and its CPU emulation (tests/cuda_emulation): each makes its device current (activate) and queues
// the kernel on the context's stream. Convolution, copies, uploads and variants are the derived backend's.
#pragma once
#include "kernels/cuda/ops.h"

namespace glassbox::kernels {

class CudaOps : public Backend {
 public:
  void pool2d(const Pool2dAttrs& a, ConstView x, View y) override { activate(), cuda::pool2d(ctx_, a, x, y); }
  void global_avg_pool(ConstView x, View y) override { activate(), cuda::global_avg_pool(ctx_, x, y); }
  void batchnorm(float eps, ConstView x, ConstView s, ConstView b, ConstView m, ConstView v, View y) override {
    activate(), cuda::batchnorm(ctx_, eps, x, s, b, m, v, y);
  }
  void activation(const ActivationAttrs& a, ConstView x, View y) override {
    activate(), cuda::activation(ctx_, a, x, y);
  }
  void binary(BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y) override {
    activate(), cuda::binary(ctx_, op, act, a, b, y);
  }
  void gemm(const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y) override {
    activate(), cuda::gemm(ctx_, a, A, B, C, y);
  }
  void matmul(ConstView a, ConstView b, View y, bool) override { activate(), cuda::matmul(ctx_, a, b, y); }
  void concat(int axis, const std::vector<ConstView>& xs, View y) override {
    activate(), cuda::concat(ctx_, axis, xs, y);
  }
  void pad(const PadAttrs& a, ConstView x, View y) override { activate(), cuda::pad(ctx_, a, x, y); }
  void resize2d(const Resize2dAttrs& a, ConstView x, View y) override { activate(), cuda::resize2d(ctx_, a, x, y); }
  void softmax(int axis, ConstView x, View y) override { activate(), cuda::softmax(ctx_, axis, x, y); }
  void reduce(ReduceKind kind, const std::vector<int>& axes, ConstView x, View y) override {
    activate(), cuda::reduce(ctx_, kind, axes, x, y);
  }
  void einsum(const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y) override {
    activate(), cuda::einsum(ctx_, axes, a, b, y);
  }
  void strided_copy(int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y) override {
    activate(), cuda::strided_copy(ctx_, offset, steps, x, y);
  }
  void layer_norm(float eps, ConstView x, ConstView scale, ConstView bias, View y) override {
    activate(), cuda::layer_norm(ctx_, eps, x, scale, bias, y);
  }

  void conv2d_backward_data(const Conv2dAttrs& a, ConstView dy, ConstView w, View dx) override {
    activate(), cuda::conv2d_backward_data(ctx_, a, dy, w, dx);
  }
  void pool2d_backward(const Pool2dAttrs& a, ConstView x, ConstView dy, View dx) override {
    activate(), cuda::pool2d_backward(ctx_, a, x, dy, dx);
  }
  void global_avg_pool_backward(ConstView dy, View dx) override {
    activate(), cuda::global_avg_pool_backward(ctx_, dy, dx);
  }
  void batchnorm_backward(float eps, ConstView scale, ConstView var, ConstView dy, View dx) override {
    activate(), cuda::batchnorm_backward(ctx_, eps, scale, var, dy, dx);
  }
  void activation_backward(const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                           BackwardRule rule) override {
    activate(), cuda::activation_backward(ctx_, a, x, y, dy, dx, rule);
  }
  void binary_backward(BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db) override {
    activate(), cuda::binary_backward(ctx_, op, a, b, dy, da, db);
  }
  void gemm_backward(const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB) override {
    activate(), cuda::gemm_backward(ctx_, a, A, B, dy, dA, dB);
  }
  void matmul_backward(ConstView a, ConstView b, ConstView dy, View da, View db) override {
    activate(), cuda::matmul_backward(ctx_, a, b, dy, da, db);
  }
  void concat_backward(int axis, ConstView dy, const std::vector<View>& dxs) override {
    activate(), cuda::concat_backward(ctx_, axis, dy, dxs);
  }
  void pad_backward(const PadAttrs& a, ConstView dy, View dx) override {
    activate(), cuda::pad_backward(ctx_, a, dy, dx);
  }
  void resize2d_backward(const Resize2dAttrs& a, ConstView dy, View dx) override {
    activate(), cuda::resize2d_backward(ctx_, a, dy, dx);
  }
  void softmax_backward(int axis, ConstView y, ConstView dy, View dx) override {
    activate(), cuda::softmax_backward(ctx_, axis, y, dy, dx);
  }
  void reduce_backward(ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y, ConstView dy,
                       View dx) override {
    activate(), cuda::reduce_backward(ctx_, kind, axes, x, y, dy, dx);
  }
  void layer_norm_backward(float eps, ConstView x, ConstView scale, ConstView dy, View dx) override {
    activate(), cuda::layer_norm_backward(ctx_, eps, x, scale, dy, dx);
  }
  void strided_copy_backward(int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx) override {
    activate(), cuda::strided_copy_backward(ctx_, offset, steps, dy, dx);
  }

  void cam(CamMethod m, int samples, ConstView A, ConstView G, View map) override {
    activate(), cuda::cam(ctx_, m, samples, A, G, map);
  }
  void resize_bilinear(ConstView x, View y) override { activate(), cuda::resize_bilinear(ctx_, x, y); }
  void normalize_minmax(View maps) override { activate(), cuda::normalize_minmax(ctx_, maps); }
  void fuse_heads(HeadFusion fusion, ConstView a, View y) override {
    activate(), cuda::fuse_heads(ctx_, fusion, a, y);
  }
  void discard_smallest(float ratio, View x) override { activate(), cuda::discard_smallest(ctx_, ratio, x); }
  void rollout_step(bool normalize, View a) override { activate(), cuda::rollout_step(ctx_, normalize, a); }
  void fuse_layer_maps(float gamma, bool first, ConstView map, View fused) override {
    activate(), cuda::fuse_layer_maps(ctx_, gamma, first, map, fused);
  }
  void target_seeds(bool probability, ConstView logits, ConstView given, View seeds, View classes) override {
    activate(), cuda::target_seeds(ctx_, probability, logits, given, seeds, classes);
  }
  void repeat_rows(ConstView x, View y) override { activate(), cuda::repeat_rows(ctx_, x, y); }
  void channel_abs_max(ConstView x, View y) override { activate(), cuda::channel_abs_max(ctx_, x, y); }
  void channel_seed(bool peak, int64_t channel, ConstView a, View y) override {
    activate(), cuda::channel_seed(ctx_, peak, channel, a, y);
  }
  void noisy_copies(float std_fraction, uint32_t seed, ConstView x, View y) override {
    activate(), cuda::noisy_copies(ctx_, std_fraction, seed, x, y);
  }
  void row_ranges(ConstView x, View range) override { activate(), cuda::row_ranges(ctx_, x, range); }
  void gather_rows(ConstView x, ConstView index, View y) override {
    activate(), cuda::gather_rows(ctx_, x, index, y);
  }
  void score_inputs(float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x, ConstView masks,
                    View y) override {
    activate(), cuda::score_inputs(ctx_, scale, noise_std, seed, noise_offset, x, masks, y);
  }
  void target_scores(bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                     int64_t column, View scores) override {
    activate(), cuda::target_scores(ctx_, probability, scale, accumulate, logits, classes, column, scores);
  }
  void ablate_channels(ConstView a, ConstView channels, View y) override {
    activate(), cuda::ablate_channels(ctx_, a, channels, y);
  }
  void spatial_masked_copies(bool gaussian, int64_t first, ConstView a, View y) override {
    activate(), cuda::spatial_masked_copies(ctx_, gaussian, first, a, y);
  }
  void rise_masks(uint32_t seed, uint64_t first, int64_t cells, float probability, View y) override {
    activate(), cuda::rise_masks(ctx_, seed, first, cells, probability, y);
  }
  void rank_pixels(ConstView maps, View ranks) override { activate(), cuda::rank_pixels(ctx_, maps, ranks); }
  void ranked_copies(int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to, ConstView ranks,
                     View y) override {
    activate(), cuda::ranked_copies(ctx_, first_step, pixels_per_step, from, to, ranks, y);
  }
  void affine_resample(ConstView params, ConstView x, View y) override {
    activate(), cuda::affine_resample(ctx_, params, x, y);
  }
  void affine_resample_backward(ConstView params, ConstView dy, View dx) override {
    activate(), cuda::affine_resample_backward(ctx_, params, dy, dx);
  }
  void tv_gradient(float scale, ConstView x, View dx) override { activate(), cuda::tv_gradient(ctx_, scale, x, dx); }
  void adam_step(float lr, float b1, float b2, float eps, int64_t step, ConstView g, View m, View v,
                 View p) override {
    activate(), cuda::adam_step(ctx_, lr, b1, b2, eps, step, g, m, v, p);
  }
  void scale_add(float a, ConstView x, float b, float c, View y) override {
    activate(), cuda::scale_add(ctx_, a, x, b, c, y);
  }
  void unit_seed(int64_t row, int64_t channel, int64_t position, float weight, View seed) override {
    activate(), cuda::unit_seed(ctx_, row, channel, position, weight, seed);
  }
  void dot(float scale, bool accumulate, ConstView a, ConstView b, View out) override {
    activate(), cuda::dot(ctx_, scale, accumulate, a, b, out);
  }

 protected:
  explicit CudaOps(int device) : ctx_(device) {}
  // Makes this backend's device current before a launch (a no-op in the emulation).
  virtual void activate() const {}
  cuda::Context ctx_;  // first in, last out: the derived backend's state uses its stream
};

}  // namespace glassbox::kernels
