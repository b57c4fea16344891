// The one interface the engine calls: each operator's forward on plain views (pointer, shape, device).
// Kernels never see the graph, the executor or an explanation method. Each operator has a CPU implementation in
// kernels/cpu/<op>.cpp (and, from the CUDA issue on, kernels/cuda/<op>.cu with the same name).
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"

// Marks the small per-element definitions that CPU and CUDA kernels share (one formula, compiled for both).
#if defined(__CUDACC__)
#define GB_HOST_DEVICE __host__ __device__
#else
#define GB_HOST_DEVICE
#endif

namespace glassbox::kernels {

// Read-only and writable views of dense row-major float32 memory on one device.
struct ConstView {
  const float* data = nullptr;
  Shape shape;
  Device device;
  bool empty() const { return data == nullptr; }
  int64_t numel() const { return glassbox::numel(shape); }
  int64_t dim(int i) const { return shape[i < 0 ? i + static_cast<int>(shape.size()) : i]; }
};
struct View {
  float* data = nullptr;
  Shape shape;
  Device device;
  operator ConstView() const { return {data, shape, device}; }
  int64_t numel() const { return glassbox::numel(shape); }
  int64_t dim(int i) const { return shape[i < 0 ? i + static_cast<int>(shape.size()) : i]; }
};
inline ConstView view_of(const Tensor& t) { return {t.data<float>(), t.shape(), t.device()}; }
inline View view_of(Tensor& t) { return {t.data<float>(), t.shape(), t.device()}; }

// How a backward pass goes through the rectifiers (relu, clip, leaky_relu), chosen per call
// (element_formulas.h: rule_backward_at); every other operator takes its gradient under every rule.
//   gradient   dx = dy * act'(x)
//   deconvnet  dx = the rectifier applied to dy, the forward mask ignored: ReLU(dy) for relu and clip,
//              leaky_relu(dy) for leaky_relu (Zeiler & Fergus 2014)
//   guided     dx = dy * act'(x) * [dy > 0] (Springenberg et al. 2015; for ReLU6/Clip the forward mask is
//              lo < x < hi)
enum class BackwardRule { gradient, deconvnet, guided };

// Pointwise activations; also the fused epilogue of convolution and GEMM.
// The element-wise functions of ViT exports are kinds here too: erf, gelu (exact), gelu_tanh, sqrt and pow (a
// constant exponent). They are never fused into a producer's epilogue.
enum class Activation { none, relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, erf, gelu, gelu_tanh, sqrt,
                        pow, exp, tanh };

struct ActivationAttrs {
  Activation kind = Activation::none;
  float alpha = 0.f;  // clip: min; leaky_relu: slope; hard_sigmoid: alpha; pow: the exponent
  float beta = 0.f;   // clip: max; hard_sigmoid: beta
  // relu: max(0,x); clip: min(max(x,alpha),beta); leaky_relu: x<0 ? alpha*x : x; sigmoid: 1/(1+e^-x);
  // hard_sigmoid: max(0, min(1, alpha*x+beta)); hard_swish: x * max(0, min(1, x/6 + 1/2)); erf: the error function;
  // gelu: x/2 (1 + erf(x/sqrt(2))); gelu_tanh: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); sqrt; pow: x^alpha;
  // exp: e^x; tanh.
  GB_HOST_DEVICE float apply(float x) const {
    switch (kind) {
      case Activation::none: return x;
      case Activation::relu: return x > 0.f ? x : 0.f;
      case Activation::clip: return x < alpha ? alpha : (x > beta ? beta : x);
      case Activation::leaky_relu: return x < 0.f ? alpha * x : x;
      case Activation::sigmoid: return 1.f / (1.f + std::exp(-x));
      case Activation::hard_sigmoid: return std::fmax(0.f, std::fmin(1.f, alpha * x + beta));
      case Activation::hard_swish: return x * std::fmax(0.f, std::fmin(1.f, x / 6.f + 0.5f));
      case Activation::erf: return std::erf(x);
      case Activation::gelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678f));
      case Activation::gelu_tanh: return 0.5f * x * (1.f + std::tanh(0.79788456f * (x + 0.044715f * x * x * x)));
      case Activation::sqrt: return std::sqrt(x);
      case Activation::pow: return std::pow(x, alpha);
      case Activation::exp: return std::exp(x);
      case Activation::tanh: return std::tanh(x);
    }
    return x;
  }
};

// y[n,m,oh,ow] = act(bias[m] + sum_{c,kh,kw} x[n, g*C/G + c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw] *
//                                            w[m, c, kh, kw]),  g = m / (M/G); out-of-range x reads as 0.
// x [N,C,H,W], w [M,C/G,KH,KW], bias [M] or empty, y [N,M,OH,OW] (shape computed by the engine).
struct Conv2dAttrs {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  ActivationAttrs act;
  // w is a constant of the model: its memory and values stay the same for as long as the session that calls with it
  // lives (or until Backend::release_prepared). A backend may prepare it once (pack it for its GEMM, transform or re-lay it out), keep the prepared form
  // for the session keyed by w's address and shape, and read that on every later call with the same w (CPU: sgemm.h
  // packed_constant). False: w is read as given on each call.
  bool constant_weights = false;
};

// Max or average pooling over KHxKW windows (dilated taps). The average divides by the number of taps inside
// the input, or by KH*KW with count_include_pad (ONNX Runtime's convention).
struct Pool2dAttrs {
  enum class Kind { max, average } kind = Kind::max;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  bool count_include_pad = false;
};

enum class BinaryOp { add, sub, mul, div };

// The reductions of ReduceMean, ReduceSum, ReduceL1, ReduceL2, ReduceSumSquare, ReduceMax, ReduceMin, ReduceLogSum
// and ReduceLogSumExp over the n elements x_i that one output reads (element_formulas.h: reduce_step ..):
//   mean  sum x_i / n (0 when n = 0)     sum  sum x_i            l1  sum |x_i|          l2  sqrt(sum x_i^2)
//   sum_square  sum x_i^2                max, min  (a NaN wins)  log_sum  log(sum x_i)
//   log_sum_exp  m + log(sum exp(x_i - m)), m = max x_i (0 where m is not finite)
// Over no elements (ONNX): 0 for the sums, -inf for max, log_sum and log_sum_exp, +inf for min.
enum class ReduceKind { mean, sum, l1, l2, sum_square, max, min, log_sum, log_sum_exp };

// One index letter (label) of a two-operand Einsum, as Backend::einsum reads it: its size and its strides (in
// elements) in a, b and y; a stride of 0 where that operand does not have the label or broadcasts it.
struct EinsumAxis {
  int64_t size = 1;
  int64_t a = 0, b = 0, y = 0;
};

// y = act(alpha * op(A) * op(B) + beta * C); A [M,K] (or [K,M] when trans_a), B [K,N] (or [N,K]),
// C unidirectionally broadcastable to [M,N] or empty.
struct GemmAttrs {
  float alpha = 1.f, beta = 1.f;
  bool trans_a = false, trans_b = false;
  ActivationAttrs act;
  bool constant_b = false;  // B is a constant of the model: it may be prepared once (as Conv2dAttrs::constant_weights)
};

enum class PadMode { constant, reflect, edge, wrap };
struct PadAttrs {
  PadMode mode = PadMode::constant;
  float value = 0.f;
  std::vector<int64_t> pads;  // begin_0..begin_{r-1}, end_0..end_{r-1}; negative values crop
};

// ONNX Resize of the two trailing dimensions of x [N, C, H, W] to y [N, C, OH, OW] (the engine computes OH, OW).
// Along each axis output coordinate o reads the source coordinate s(o) of the coordinate transform, with `scale`
// the axis' scale as the spec uses it (given scales, or out / in when sizes are given):
//   half_pixel            s = (o + 0.5) / scale - 0.5
//   pytorch_half_pixel    s = out > 1 ? (o + 0.5) / scale - 0.5 : 0
//   align_corners         s = out > 1 ? o * (in - 1) / (out - 1) : 0
//   asymmetric            s = o / scale
//   half_pixel_symmetric  s = in / 2 * (1 - out / (scale * in)) + (o + 0.5) / scale - 0.5   (opset 19)
// nearest: the input index round(s) by nearest_mode, clamped to [0, in - 1]; linear: s clamped to [0, in - 1],
// taps floor(s), floor(s) + 1 (clamped) with weights 1 - t, t, t = s - floor(s); bilinear is the product of the
// two axes' taps. element_formulas.h: resize_taps.
enum class ResizeMode { nearest, linear };
enum class ResizeCoordinates { half_pixel, pytorch_half_pixel, align_corners, asymmetric, half_pixel_symmetric };
enum class ResizeNearest { round_prefer_floor, round_prefer_ceil, floor, ceil };
struct Resize2dAttrs {
  ResizeMode mode = ResizeMode::nearest;
  ResizeCoordinates coordinates = ResizeCoordinates::half_pixel;
  ResizeNearest nearest = ResizeNearest::round_prefer_floor;
  float scale_h = 1.f, scale_w = 1.f;  // finite and positive
};

// Class activation maps from a layer's activations A and the gradients G = dY/dA of a target score Y, per image
// n (sums over positions (i, j) of one channel c; ReLU as each paper defines it):
//   cam                  L = sum_c (sum_ij G_cij) A_c     (Zhou et al. 2016: with a GAP + linear head, sum_ij G_cij
//                                                           is the class weight w_c; no ReLU)
//   gradcam              L = ReLU(sum_c a_c A_c), a_c = mean_ij G_cij                       (Selvaraju et al. 2017)
//   gradcampp            L = ReLU(sum_c w_c A_c), w_c = sum_ij alpha_cij ReLU(G_cij),
//                        alpha_cij = G^2 / (2 G^2 + (sum_ab A_cab) G^3) where G_cij != 0, else 0
//                        (Chattopadhay et al. 2018, Eq. 19 with an exponential output: no epsilon)
//   xgradcam             L = ReLU(sum_c w_c A_c), w_c = sum_ij (A_cij / sum_ab A_cab) G_cij (0 when sum A_c = 0)
//                        (Fu et al. 2020)
//   layercam             L = ReLU(sum_c ReLU(G_cij) A_cij)                                 (Jiang et al. 2021)
//   hirescam             L = sum_c G_cij A_cij (no ReLU in its definition)                  (Draelos & Carin 2020)
//   gradcam_elementwise  L = ReLU(sum_c ReLU(G_cij A_cij))
//   smoothgradcampp      Grad-CAM++ on statistics averaged over `samples` noisy copies of each image (rows
//                        n*samples .. n*samples+samples-1 of A and G): A -> mean A, G -> mean G, G^2 -> mean G^2,
//                        G^3 -> mean G^3 (Omeiza et al. 2019)
enum class CamMethod { cam, gradcam, gradcampp, xgradcam, layercam, hirescam, gradcam_elementwise, smoothgradcampp };

// How the heads of a transformer's attention [N, H, T, T] are fused into one [N, T, T] matrix per image (attention
// rollout, Abnar & Zuidema 2020; gradient-weighted rollout, Chefer et al. 2021): the mean, maximum or minimum over
// the head axis.
enum class HeadFusion { mean, max, min };

// The operators of one backend. A backend is owned by one session (it may hold a thread pool and scratch memory);
// it is not shared between threads.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  virtual void conv2d(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView bias, View y) = 0;
  virtual void pool2d(const Pool2dAttrs& a, ConstView x, View y) = 0;
  virtual void global_avg_pool(ConstView x, View y) = 0;  // [N,C,H,W] -> [N,C,1,1]
  // y = scale * (x - mean) / sqrt(var + epsilon) + bias, per channel (dim 1).
  virtual void batchnorm(float epsilon, ConstView x, ConstView scale, ConstView bias, ConstView mean, ConstView var,
                         View y) = 0;
  virtual void activation(const ActivationAttrs& a, ConstView x, View y) = 0;
  // y = act(a op b), numpy broadcasting to y's shape; act is a fused activation epilogue (none by default).
  virtual void binary(BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y) = 0;
  virtual void gemm(const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y) = 0;
  // a [..., M, K] x b [..., K, N] -> y [..., M, N]; batch dimensions broadcast (1-D operands reshaped by caller).
  // constant_b: b is a constant of the model, which the backend may prepare once (as Conv2dAttrs::constant_weights).
  virtual void matmul(ConstView a, ConstView b, View y, bool constant_b = false) = 0;
  virtual void concat(int axis, const std::vector<ConstView>& xs, View y) = 0;
  virtual void pad(const PadAttrs& a, ConstView x, View y) = 0;
  // ONNX Resize of H and W (Resize2dAttrs): y [N, C, OH, OW] from x [N, C, H, W].
  virtual void resize2d(const Resize2dAttrs& a, ConstView x, View y) = 0;
  // y = exp(x - max) / sum exp(x - max) along `axis`.
  virtual void softmax(int axis, ConstView x, View y) = 0;
  // The reduction `kind` (ReduceKind) over `axes` (sorted, non-negative); y keeps the reduced dimensions as 1.
  virtual void reduce(ReduceKind kind, const std::vector<int>& axes, ConstView x, View y) = 0;
  // A two-operand Einsum as one strided, batched GEMM: for every index tuple j of the labels (0 <= j_l < size_l),
  //   y[sum_l j_l y_l] = sum over the tuples that address it of a[sum_l j_l a_l] * b[sum_l j_l b_l],
  // so the labels with y stride 0 are summed (contracted). The labels with a nonzero y stride must address every
  // element of y exactly once (a dense layout of y in any order; checked). Operands are read through their strides,
  // never copied; permutations and broadcasts are strides. kernels/cpu/einsum.cpp: einsum_as_gemm.
  virtual void einsum(const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y) = 0;
  // The strided copy behind Transpose, Slice and Gather (a scalar index): y[j_0, ..., j_{r-1}] =
  // x[offset + sum_d j_d * steps[d]], r = y's rank (Transpose: steps[d] = x's stride of dimension perm[d]).
  virtual void strided_copy(int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y) = 0;
  // LayerNormalization: x viewed as [rows, len], len = scale.numel() (the normalized trailing dimensions); per row
  // y = (x - mean) / sigma * scale + bias, sigma = sqrt(var + epsilon), var the biased variance; bias may be empty.
  virtual void layer_norm(float epsilon, ConstView x, ConstView scale, ConstView bias, View y) = 0;
  virtual void copy(ConstView x, View y) = 0;
  // Host memory into a view on this backend's device, ordered after the work queued so far (CUDA: through a
  // pinned staging buffer, asynchronously on the session's stream).
  virtual void upload(const float* host, View dst) = 0;
  // Waits until all queued work is done. CPU kernels finish before they return; CUDA kernels are queued on the
  // backend's stream, and a copy to the host (Tensor::to) also waits for them.
  virtual void synchronize() {}
  // Device scratch memory the backend holds now (convolution workspaces, staging buffers), for memory reports.
  virtual size_t workspace_bytes() const { return 0; }

  // ---- Backward: gradients with respect to inputs and activations, never weights. dy is the gradient at the
  // output; each call overwrites the gradient(s) it is given views for (an empty view: not wanted). A fused
  // activation epilogue is undone first, by activation_backward. Backends without a backward kernel for an
  // operator throw (the default below); the CPU backend has them all.

  // dx[n, g*Cg+c, ih, iw] = sum over (m in group g, kh, kw) with ih = oh*sh - pt + kh*dh, iw = ow*sw - pl + kw*dw
  // of dy[n, m, oh, ow] * w[m, c, kh, kw]: the transpose of conv2d in x (bias and activation excluded).
  virtual void conv2d_backward_data(const Conv2dAttrs& a, ConstView dy, ConstView w, View dx);
  // max: each window's dy goes to its first maximum (window scan order, as the forward picks it); average: dy /
  // count to every tap the forward counted (x's data is not read and may be null). Overlapping windows accumulate.
  virtual void pool2d_backward(const Pool2dAttrs& a, ConstView x, ConstView dy, View dx);
  virtual void global_avg_pool_backward(ConstView dy, View dx);  // dx[n,c,h,w] = dy[n,c] / (H*W)
  // dx = dy * scale[c] / sqrt(var[c] + epsilon)
  virtual void batchnorm_backward(float epsilon, ConstView scale, ConstView var, ConstView dy, View dx);
  // dx = dy * act'(x). The derivative is read from the output y for relu, clip, leaky_relu (alpha >= 0), sigmoid
  // and hard_sigmoid (y determines it), from the input x for hard_swish (it does not); the other may be empty.
  // At a kink the derivative is 0 (relu at 0, clip at its bounds), as PyTorch's autograd takes it.
  // With a rule other than gradient, relu, clip and leaky_relu follow it (BackwardRule; read from y).
  virtual void activation_backward(const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                                   BackwardRule rule);
  // y = a op b with broadcasting: da = sum over a's broadcast dimensions of dy * dy/da, likewise db. Add and Sub
  // read only the shapes of a and b (their data may be null).
  virtual void binary_backward(BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db);
  // y = alpha op(A) op(B) + beta C (activation undone): dA = alpha dy op(B)^T (transposed back when trans_a),
  // dB = alpha op(A)^T dy (likewise).
  virtual void gemm_backward(const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB);
  // da[i] = sum over batch indices reading it of dy x b^T, db likewise of a^T x dy.
  virtual void matmul_backward(ConstView a, ConstView b, ConstView dy, View da, View db);
  virtual void concat_backward(int axis, ConstView dy, const std::vector<View>& dxs);  // the slices of dy
  // dx[source(i)] += dy[i] for every output element i that reads the input (pad_source_index).
  virtual void pad_backward(const PadAttrs& a, ConstView dy, View dx);
  // The adjoint of resize2d: dx = 0, then each dy[n, c, oh, ow] added to the input pixels the forward read for it,
  // times the weights it read them with (nearest: its one pixel).
  virtual void resize2d_backward(const Resize2dAttrs& a, ConstView dy, View dx);
  // dx = y * (dy - sum_axis(dy * y))
  virtual void softmax_backward(int axis, ConstView y, ConstView dy, View dx);
  // dx[i] from dy[o], y[o] at i's output o (i with the reduced coordinates set to 0) and x[i], n elements per
  // output (element_formulas.h: reduce_dx): mean dy / n; sum dy; l1 dy sign(x); l2 dy x / y (0 where y = 0);
  // sum_square 2 x dy; log_sum dy / exp(y); log_sum_exp dy exp(x - y); max and min: dy at the first element of the
  // output's reduced elements (in x's row-major order) equal to y (a NaN y: the first NaN), 0 at the others (ties
  // go to one element, as MaxPool's backward). x and y are read only where the kind needs them (mean and sum
  // read neither; they may be empty).
  virtual void reduce_backward(ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y, ConstView dy,
                               View dx);
  // Per row of layer_norm: dx = (1/sigma) (g - mean(g) - xhat mean(g xhat)), g = dy * scale,
  // xhat = (x - mean) / sigma (element_formulas.h: layer_norm_dx).
  virtual void layer_norm_backward(float epsilon, ConstView x, ConstView scale, ConstView dy, View dx);
  // The adjoint of strided_copy: dx = 0, then dx[offset + sum_d j_d * steps[d]] += dy[j] for every element j of dy.
  virtual void strided_copy_backward(int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx);

  // ---- Explanations. maps [N * K, H, W] from A [N * S, C, H, W] and G [N * S * K, C, H, W]: K targets per image
  // (from one batched backward), S noisy copies per image (S = samples > 1 for smoothgradcampp only). Map n*K + k
  // reads A rows n*S + s and their G rows (n*S + s)*K + k (Session::backward's row order for K seeds per row).
  virtual void cam(CamMethod method, int samples, ConstView A, ConstView G, View map);
  // Bilinear resize of [N, h, w] maps to [N, H, W], half-pixel centres (PyTorch's interpolate with
  // align_corners=False; no antialiasing).
  virtual void resize_bilinear(ConstView x, View y);
  // Each map [N, ...] scaled to [0, 1]: (x - min) / (max - min); a constant map becomes 0.
  virtual void normalize_minmax(View maps);
  // LayerCAM's multi-layer fusion, one layer's maps [N, H, W] (at the fused resolution) into fused [N, H, W]:
  // fused = max(fused, tanh(gamma * map / max(map))) per map (first: fused = tanh(...)); a map whose maximum is not
  // positive counts as 0 (Jiang et al. 2021: maps scaled by tanh, gamma = 2, then the element-wise maximum).
  virtual void fuse_layer_maps(float gamma, bool first, ConstView map, View fused);

  // ---- Attention explanations (explain/attention.h) on attention matrices [N, H, T, T] (rows: queries).
  // y[n, i, j] = fusion over h of a[n, h, i, j] (HeadFusion: mean, max or min over the heads).
  virtual void fuse_heads(HeadFusion fusion, ConstView a, View y);
  // Attention rollout's discarding (Abnar & Zuidema 2020's rollout with discarded low attention): in each matrix
  // x[n] [T, T], the k = floor(ratio * T * T) smallest entries other than entry (0, 0) (the class token's own
  // attention) are set to 0; ties go in flat index order (the lower index counts as the smaller); k is at most
  // T * T - 1. ratio in [0, 1].
  virtual void discard_smallest(float ratio, View x);
  // One rollout matrix from a fused attention a [N, T, T] in place: a = a + I, and with normalize, halved and each
  // row divided by its sum: Ahat = (a + I) / 2, Ahat[i, :] /= sum_j Ahat[i, j] (Abnar & Zuidema 2020: the
  // residual connection as an identity; rollout R = Ahat_B ... Ahat_1). Without normalize, a + I: Chefer et al.
  // 2021's update R = R + Abar R = (I + Abar) R (Eq. 6).
  virtual void rollout_step(bool normalize, View a);

  // ---- Targets and inputs of explanations, on the device (no host round-trip between the forward and the maps).
  // The targets of a batch from its logits [N, C], K per image: classes [N * K] (as floats; row n*K + k) are the
  // given classes (given [N * K], floats), or, with `given` empty, the K highest logits of each
  // image (ties: the lower index first; NaN ranks below every number). seeds [N * K, C] = d score / d logits:
  // one-hot for a logit, p_c (e_c - p) for a softmax probability p = softmax(logits). A given class outside
  // [0, C) gets a zero seed (callers check the range first).
  virtual void target_seeds(bool probability, ConstView logits, ConstView given, View seeds, View classes);
  // y [N * K, ...] = x [N, ...] with each row repeated K = y.dim(0) / N times: row n*K + k of y is row n of x.
  virtual void repeat_rows(ConstView x, View y);
  // Noisy copies of images, S = y.dim(0) / N per image: y[n*S + s] = x[n] + std_fraction * (max x[n] - min x[n])
  // * gaussian_noise(seed, s * image size + i) at element i (element_formulas.h: counter-based, the same numbers on
  // every backend; an image's noise does not depend on its place in the batch).
  virtual void noisy_copies(float std_fraction, uint32_t seed, ConstView x, View y);

  // Deconvnet's projection seed (Zeiler & Fergus 2014) from a layer's activations a [N, C, ...]: y = a on channel
  // `channel` and 0 on the others; with peak, only the channel's strongest activation per image (its first
  // maximum) is kept.
  virtual void channel_seed(bool peak, int64_t channel, ConstView a, View y);
  // Saliency: y[n, p] = max over c of |x[n, c, p]| for x [N, C, ...] and y [N, ...] (Simonyan et al. 2014).
  virtual void channel_abs_max(ConstView x, View y);

  // ---- Perturbation methods (Score-CAM, SS-CAM, IS-CAM, Ablation-CAM, ReciproCAM, RISE): masked copies made on
  // the device chunk by chunk, and their scores gathered there.
  // range [R, 2] = (min, max) of each row of x [R, ...] (NaN rows give NaN).
  virtual void row_ranges(ConstView x, View range);
  // y [M, ...] = rows index[j] of x [R, ...] (index [M] as floats; an index outside [0, R) gives a zero row).
  virtual void gather_rows(ConstView x, ConstView index, View y);
  // Masked copies of one image x [C, H, W] by masks [M, H, W]: y[j, c, p] = x[c, p] * (scale * masks[j, p] +
  // noise_std * gaussian_noise(seed, noise_offset + j * H * W + p)) (no noise term when noise_std is 0).
  virtual void score_inputs(float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x,
                            ConstView masks, View y);
  // The target scores of M outputs logits [M, C] for K classes [K] (floats), written transposed at a column:
  // scores[k, column + j] = scale * s (accumulate: +=), s = logits[j, classes[k]] or, with probability, its
  // softmax probability. scores is [K, T] with column + M <= T. A class outside [0, C) scores 0.
  virtual void target_scores(bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                             int64_t column, View scores);
  // Ablation-CAM's copies of one feature map a [C, h, w]: y[j] = a with channel channels[j] set to 0 (channels
  // [M] as floats; one outside [0, C) zeroes nothing).
  virtual void ablate_channels(ConstView a, ConstView channels, View y);
  // ReciproCAM's copies of one feature map a [C, h, w], one per spatial position q = first + j (row-major over
  // h x w): y[j, c, p] = a[c, p] * m_q(p), m_q the one-hot of q or, with gaussian, the 3x3 kernel
  // [1 2 1; 2 4 2; 1 2 1] / 16 centred on q (cut at the borders).
  virtual void spatial_masked_copies(bool gaussian, int64_t first, ConstView a, View y);
  // RISE's masks i = first + j for y [M, H, W] (Petsiuk et al. 2018): a cells x cells grid, cell (u, v) = 1 when
  // uniform_noise(seed, i * cells^2 + u * cells + v) < probability, else 0 (element_formulas.h); upsampled
  // bilinearly (half-pixel centres, clamped) to (cells + 1) * ch x (cells + 1) * cw, ch = ceil(H / cells),
  // cw = ceil(W / cells); cropped to H x W at the shift dy = floor(uniform_noise(seed, 2^62 + 2i) * ch),
  // dx = floor(uniform_noise(seed, 2^62 + 2i + 1) * cw).
  virtual void rise_masks(uint32_t seed, uint64_t first, int64_t cells, float probability, View y);

  // ---- Explanation quality metrics (explain/metrics.h).
  // The rank of each pixel of each map maps [R, ...] (P = the product of the trailing dimensions): ranks[r, p] =
  // the number of pixels q of the same map that rank before p, descending saliency with ties to the lower index
  // (ranks_before in element_formulas.h: a > b, or a == b and q < p; NaN ranks below every number). Each row of
  // ranks is a permutation of 0 .. P - 1 (as floats; P <= 2^24).
  virtual void rank_pixels(ConstView maps, View ranks);
  // Deletion and insertion copies (Petsiuk et al. 2018) of one image: y[j, c, p] = to[c, p] when ranks[p] <
  // (first_step + j) * pixels_per_step, else from[c, p]; from and to [C, H, W], ranks [H, W] (rank_pixels), y [M,
  // C, H, W]. Deletion: from = the image, to = the substrate; insertion: from = the substrate, to = the image.
  virtual void ranked_copies(int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to,
                             ConstView ranks, View y);

  // ---- Activation maximization (explain/ascent.h): the robustness transforms, regularizers and optimizer steps
  // on the device.
  // y [N, C, OH, OW] = x [N, C, H, W] resampled bilinearly at the affine map of each image, params [N, 6] = (a, b,
  // c, d, e, f): output pixel (ox, oy) reads x at (sx, sy) = (a ox + b oy + c, d ox + e oy + f) (pixel centres at
  // integer coordinates), the four taps floor(s), floor(s) + 1 with weights 1 - t, t, each tap index reflected into
  // the image (pad_source_index, PadMode::reflect). element_formulas.h: affine_taps.
  virtual void affine_resample(ConstView params, ConstView x, View y);
  // The transpose of affine_resample in x: dx = A^T dy (dx overwritten; each output's dy scattered to its four
  // taps with their weights).
  virtual void affine_resample_backward(ConstView params, ConstView dy, View dx);
  // dx += scale * d TV(x) / dx for x [..., H, W], TV the squared total variation of each plane:
  // TV = sum over (i, j) of (x[i+1, j] - x[i, j])^2 + (x[i, j+1] - x[i, j])^2 (element_formulas.h: tv_gradient_at).
  virtual void tv_gradient(float scale, ConstView x, View dx);
  // Adam (Kingma & Ba 2015), ascent, per element: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  // param += lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps); step counts from 1.
  virtual void adam_step(float lr, float b1, float b2, float eps, int64_t step, ConstView grad, View m, View v,
                         View param);
  // y = a * x + b * y + c per element; a term whose coefficient is 0 is not read (x may be empty when a = 0; b = 0
  // overwrites y, NaN included).
  virtual void scale_add(float a, ConstView x, float b, float c, View y);
  // seed [N, C, ...] += weight at row `row`, channel `channel`: at every position with weight / positions when
  // position < 0 (the gradient of the channel's mean), else at that position only (flat index in the plane).
  virtual void unit_seed(int64_t row, int64_t channel, int64_t position, float weight, View seed);
  // out [1] = scale * sum_i a[i] b[i] (+ out with accumulate); a and b of equal size.
  virtual void dot(float scale, bool accumulate, ConstView a, ConstView b, View out);

  // Kernel research: the named variants of an operator, and which one runs.
  virtual std::vector<std::string> variants(const std::string& op) const = 0;
  virtual void select_variant(const std::string& op, const std::string& name) = 0;
  virtual std::string selected_variant(const std::string& op) const = 0;

  // Forget every operand prepared from a constant (Conv2dAttrs::constant_weights, GemmAttrs::constant_b, matmul's
  // constant_b). A caller that frees or rewrites such a constant while the backend lives must call this first:
  // prepared forms are keyed by address and shape, so a new constant at a freed one's address would otherwise
  // read the old one's preparation. Sessions need not (their constants live as long as their backend).
  virtual void release_prepared() {}
};

// threads <= 0: one per hardware thread.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);
// The CUDA backend on device `index` (kernels/cuda); an error when CUDA is not built in or the device is absent.
std::unique_ptr<Backend> make_cuda_backend(int index);
std::unique_ptr<Backend> make_backend(Device device, int threads = 0);

}  // namespace glassbox::kernels
