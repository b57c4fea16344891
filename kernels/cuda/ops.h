// The CUDA kernels, one file per operator (kernels/cuda/<op>.cu, same names as kernels/cpu). Each launcher queues
// its kernel on the context's stream and returns; errors in the launch configuration throw glassbox::Error.
// Convolution has named variants (kernel research); each is a separate launcher.
#pragma once
#include <vector>

#include "kernels/cuda/context.h"
#include "kernels/kernels.h"

namespace glassbox::kernels::cuda {

// conv2d.cu: a tiled direct kernel (input patch and filters in shared memory) and the dedicated depthwise kernel.
void conv2d_direct(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
void conv2d_depthwise(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
bool is_depthwise(const Conv2dAttrs& a, ConstView x, ConstView w);  // one filter per input channel group of 1
// conv2d_implicit_gemm.cu: the convolution as a GEMM (M = output channels, N = images x output pixels,
// K = channels x taps) whose B operand is gathered from x on the fly; tile 128x128 or 64x64 (0: by shape).
void conv2d_implicit_gemm(Context& ctx, int tile, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias,
                          View y);
// conv2d_tf32.cu: the same GEMM on TF32 tensor cores (WMMA m16n16k8), fp32 accumulation.
void conv2d_implicit_gemm_tf32(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);

void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y);
void global_avg_pool(Context& ctx, ConstView x, View y);
// y[r] = mean of x[r * len .. r * len + len) (pool2d.cu).
void row_mean(Context& ctx, const float* x, float* y, int64_t rows, int64_t len);
void batchnorm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, ConstView mean,
               ConstView var, View y);
void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y);
// y[n,c,...] = act(y[n,c,...] + bias[c]) in place (bias may be empty): the epilogue after cuDNN.
void bias_activation(Context& ctx, const ActivationAttrs& a, ConstView bias, View y);
void binary(Context& ctx, BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y);
void gemm(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y);
void matmul(Context& ctx, ConstView a, ConstView b, View y);
void concat(Context& ctx, int axis, const std::vector<ConstView>& xs, View y);
void pad(Context& ctx, const PadAttrs& a, ConstView x, View y);
// resize2d.cu: ONNX Resize of H and W; the backward gathers over the outputs reading each input (no atomics).
void resize2d(Context& ctx, const Resize2dAttrs& a, ConstView x, View y);
void softmax(Context& ctx, int axis, ConstView x, View y);
void reduce(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, View y);
// einsum.cu: the CPU's description of an Einsum as one strided GEMM (cpu::einsum_as_gemm) on the SIMT GEMM.
void einsum(Context& ctx, const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y);
void strided_copy(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y);
void layer_norm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, View y);

// Backward (formulas in kernels.h), beside each forward in its operator's file. Kernels that scatter into a
// gradient (overlapping pooling windows, padding read twice, broadcast operands) zero it and add atomically.
void conv2d_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView w, View dx);
void pool2d_backward(Context& ctx, const Pool2dAttrs& a, ConstView x, ConstView dy, View dx);
void global_avg_pool_backward(Context& ctx, ConstView dy, View dx);
void batchnorm_backward(Context& ctx, float epsilon, ConstView scale, ConstView var, ConstView dy, View dx);
void activation_backward(Context& ctx, const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                         BackwardRule rule);
void binary_backward(Context& ctx, BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db);
void gemm_backward(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB);
void matmul_backward(Context& ctx, ConstView a, ConstView b, ConstView dy, View da, View db);
void concat_backward(Context& ctx, int axis, ConstView dy, const std::vector<View>& dxs);
void pad_backward(Context& ctx, const PadAttrs& a, ConstView dy, View dx);
void resize2d_backward(Context& ctx, const Resize2dAttrs& a, ConstView dy, View dx);
void softmax_backward(Context& ctx, int axis, ConstView y, ConstView dy, View dx);
void reduce_backward(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y,
                     ConstView dy, View dx);
void layer_norm_backward(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView dy, View dx);
void strided_copy_backward(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx);
void fill_zero(Context& ctx, View y);  // activation.cu; no-op on an empty view

// cam.cu: class activation maps, bilinear resizing, min-max normalization.
void cam(Context& ctx, CamMethod method, int samples, ConstView A, ConstView G, View map);
void resize_bilinear(Context& ctx, ConstView x, View y);
void normalize_minmax(Context& ctx, View maps);
// fuse_heads.cpp|cu, discard_smallest.cpp|cu, rollout_step.cpp|cu: attention explanations (formulas in kernels.h).
void fuse_heads(Context& ctx, HeadFusion fusion, ConstView a, View y);
void discard_smallest(Context& ctx, float ratio, View x);
void rollout_step(Context& ctx, bool normalize, View a);
void fuse_layer_maps(Context& ctx, float gamma, bool first, ConstView map, View fused);
// target.cu, repeat.cu, noise.cu: an explanation's targets and seeds, repeated rows, noisy copies.
void target_seeds(Context& ctx, bool probability, ConstView logits, ConstView given, View seeds, View classes);
void repeat_rows(Context& ctx, ConstView x, View y);
void noisy_copies(Context& ctx, float std_fraction, uint32_t seed, ConstView x, View y);
void channel_abs_max(Context& ctx, ConstView x, View y);
void channel_seed(Context& ctx, bool peak, int64_t channel, ConstView a, View y);
// row_ranges.cu .. rise_masks.cu: the perturbation methods' ranges, gathered rows, masked and ablated copies,
// target scores and RISE masks (formulas in kernels.h and element_formulas.h).
void row_ranges(Context& ctx, ConstView x, View range);
void gather_rows(Context& ctx, ConstView x, ConstView index, View y);
void score_inputs(Context& ctx, float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x,
                  ConstView masks, View y);
void target_scores(Context& ctx, bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                   int64_t column, View scores);
void ablate_channels(Context& ctx, ConstView a, ConstView channels, View y);
void spatial_masked_copies(Context& ctx, bool gaussian, int64_t first, ConstView a, View y);
void rise_masks(Context& ctx, uint32_t seed, uint64_t first, int64_t cells, float probability, View y);
// Explanation quality metrics (kernels.h): pixel ranks and deletion / insertion copies.
void rank_pixels(Context& ctx, ConstView maps, View ranks);
void ranked_copies(Context& ctx, int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to,
                   ConstView ranks, View y);
// affine_resample.cu .. ascent_steps.cu: activation maximization's transforms, regularizers, optimizer and seeds.
void affine_resample(Context& ctx, ConstView params, ConstView x, View y);
void affine_resample_backward(Context& ctx, ConstView params, ConstView dy, View dx);
void tv_gradient(Context& ctx, float scale, ConstView x, View dx);
void adam_step(Context& ctx, float lr, float b1, float b2, float eps, int64_t step, ConstView grad, View m, View v,
               View param);
void scale_add(Context& ctx, float a, ConstView x, float b, float c, View y);
void unit_seed(Context& ctx, int64_t row, int64_t channel, int64_t position, float weight, View seed);
void dot(Context& ctx, float scale, bool accumulate, ConstView a, ConstView b, View out);

}  // namespace glassbox::kernels::cuda
