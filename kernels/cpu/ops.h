// The CPU kernels, one file per operator (kernels/cpu/<op>.cpp). Each takes the session's Context and plain views.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/context.h"
#include "kernels/kernels.h"

namespace glassbox::kernels::cpu {

void conv2d_im2col_gemm(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
void conv2d_direct(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
void conv2d_winograd_f2x3(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
// Depthwise convolutions (groups == C; conv2d_depthwise.cpp): stride-phase planes, channel blocks in vector lanes,
// the choice between them by output plane size (channel blocks for at most kSmallDepthwisePlane positions and for
// every strided convolution, where phase planes pay a de-interleaving copy; phase planes for larger stride-1
// planes, 1.0-1.4x faster there; measured with `glassbox bench kernels --op depthwise` on MobileNet-V2 and
// EfficientNet-Lite0), and the scalar reference loop.
constexpr int64_t kSmallDepthwisePlane = 784;
bool depthwise_plane_is_small(int64_t positions, int64_t stride_h, int64_t stride_w);
void conv2d_depthwise_by_plane(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
void conv2d_depthwise_phase_planes(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
void conv2d_depthwise_channel_blocks(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias,
                                     View y);
void conv2d_depthwise_scalar(Context& ctx, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y);
// The x-gradient of a depthwise convolution with one filter per channel, in the forward's layouts (ctx.depthwise_backward).
void conv2d_depthwise_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView w, View dx);
void pool2d(Context& ctx, const Pool2dAttrs& a, ConstView x, View y);
void global_avg_pool(Context& ctx, ConstView x, View y);
void batchnorm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, ConstView mean, ConstView var,
               View y);
void activation(Context& ctx, const ActivationAttrs& a, ConstView x, View y);
void binary(Context& ctx, BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y);
void gemm(Context& ctx, const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y);
void matmul(Context& ctx, ConstView a, ConstView b, View y, bool constant_b = false);
void concat(Context& ctx, int axis, const std::vector<ConstView>& xs, View y);
void pad(Context& ctx, const PadAttrs& a, ConstView x, View y);
void resize2d(Context& ctx, const Resize2dAttrs& a, ConstView x, View y);
void softmax(Context& ctx, int axis, ConstView x, View y);
void reduce(Context& ctx, ReduceKind kind, const std::vector<int>& axes, ConstView x, View y);
void einsum(Context& ctx, const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y);
void strided_copy(Context& ctx, int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y);
void layer_norm(Context& ctx, float epsilon, ConstView x, ConstView scale, ConstView bias, View y);

// Backward (kernels.h states each formula).
void conv2d_backward_data(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView w, View dx);
void conv2d_backward_data_direct(Context& ctx, const Conv2dAttrs& a, ConstView dy, ConstView w, View dx);
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

// Explanations (kernels.h): class activation maps, min-max normalization, bilinear resizing.
void cam(Context& ctx, CamMethod method, int samples, ConstView A, ConstView G, View map);
void normalize_minmax(Context& ctx, View maps);
// fuse_heads.cpp|cu, discard_smallest.cpp|cu, rollout_step.cpp|cu: attention explanations (formulas in kernels.h).
void fuse_heads(Context& ctx, HeadFusion fusion, ConstView a, View y);
void discard_smallest(Context& ctx, float ratio, View x);
void rollout_step(Context& ctx, bool normalize, View a);
void resize_bilinear(Context& ctx, ConstView x, View y);
void fuse_layer_maps(Context& ctx, float gamma, bool first, ConstView map, View fused);
void target_seeds(Context& ctx, bool probability, ConstView logits, ConstView given, View seeds, View classes);
void repeat_rows(Context& ctx, ConstView x, View y);
void noisy_copies(Context& ctx, float std_fraction, uint32_t seed, ConstView x, View y);
void channel_abs_max(Context& ctx, ConstView x, View y);
void channel_seed(Context& ctx, bool peak, int64_t channel, ConstView a, View y);
// Perturbation methods (kernels.h): row ranges, gathered rows, masked and ablated copies, target scores, RISE masks.
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

// Activation maximization (kernels.h): affine resampling and its transpose, total variation, Adam, seeds.
void affine_resample(Context& ctx, ConstView params, ConstView x, View y);
void affine_resample_backward(Context& ctx, ConstView params, ConstView dy, View dx);
void tv_gradient(Context& ctx, float scale, ConstView x, View dx);
void adam_step(Context& ctx, float lr, float b1, float b2, float eps, int64_t step, ConstView grad, View m, View v,
               View param);
void scale_add(Context& ctx, float a, ConstView x, float b, float c, View y);
void unit_seed(Context& ctx, int64_t row, int64_t channel, int64_t position, float weight, View seed);
void dot(Context& ctx, float scale, bool accumulate, ConstView a, ConstView b, View out);

// The indices j in [0, n) that land inside [0, size) at j*step + offset (step > 0), as [lo, hi) (lo == hi: none).
inline void inside_range(int64_t offset, int64_t step, int64_t n, int64_t size, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + step - 1) / step;
  hi = std::clamp<int64_t>((size - offset + step - 1) / step, 0, n);
  lo = std::min(lo, hi);
}

// The valid kernel taps [lo, hi) of a convolution window at output position o: 0 <= o*s - p + k*d < size (stride s,
// pad p, dilation d, kernel size k, input size `size`).
inline void tap_range(int64_t o, int64_t s, int64_t p, int64_t d, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  inside_range(o * s - p, d, k, size, lo, hi);
}

// y[i] = act(x[i] + bias) for i < n, one tight loop per activation kind (vectorizable); x may equal y.
void apply_activation(const ActivationAttrs& a, const float* x, float* y, int64_t n, float bias = 0.f);

// Row-major strides of a shape, and the strides of `in` broadcast to `out`'s rank (0 where in has size 1).
std::vector<int64_t> strides_of(const Shape& s);
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// MatMul with b one matrix for every batch index and a not broadcast (x [.., M, K] times a weight [K, N]): the
// batch folds into the rows, one GEMM of batches * M rows that reads b once. Rewrites the shapes to 2-D and returns
// true, or leaves them and returns false. (torchvision's attention multiplies [T, N, D] by its projection.)
bool fold_batch_into_rows(ConstView& a, ConstView& b, Shape& y);

// The reduced dimensions (axes, sorted) of a tensor of shape x as runs (size, stride), outer to inner, adjacent
// dimensions fused where the layout allows (a reduction over trailing dimensions is one contiguous run; size-1
// dimensions dropped): walking them visits an output's elements in x's row-major order. count: elements per output.
// reduce.cpp; the CUDA reduction walks the same runs.
struct ReducedRuns {
  std::vector<int64_t> size, stride;
  int64_t count = 1;
};
ReducedRuns reduced_runs(const Shape& x, const std::vector<int>& axes);

// A two-operand Einsum (Backend::einsum) as one strided GEMM and loops around it (einsum.cpp; the CUDA backend
// runs the same description):
//   y[batch](m, n) (+)= sum_k A(m, k) B(k, n),  A(m, k) = a[m * am + k * ak],  B(k, n) = b[k * bk + n * bn],
//   y(m, n) at m * ym + n * yn,
// M, N and K each the largest run of fused labels of its kind (m: in a and y; n: in b and y; k: contracted; size 1
// and strides 0 where there is none); `batch` the other labels with a nonzero y stride (independent products at
// their offsets) and `summed` the other contracted ones (products added into the same y). zero: a contracted label
// of size 0 (y is all zeros). Checks that the axes stay inside the views and lay y out densely.
struct EinsumGemm {
  int64_t M = 1, N = 1, K = 1;
  int64_t am = 0, ak = 0, bk = 0, bn = 0, ym = 0, yn = 0;
  std::vector<EinsumAxis> batch, summed;
  bool zero = false;
};
EinsumGemm einsum_as_gemm(const std::vector<EinsumAxis>& axes, const ConstView& a, const ConstView& b,
                          const View& y);

}  // namespace glassbox::kernels::cpu
