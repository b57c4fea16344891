// The CPU backend: wires kernels/cpu/<op>.cpp into the Backend interface, and holds the session's thread pool,
// scratch memory and kernel-variant choices.
#include <cstring>
#include <map>

#include "engine/error.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/registry.h"

namespace glassbox::kernels {

namespace {

using Conv2dFn = void (*)(cpu::Context&, const Conv2dAttrs&, ConstView, ConstView, ConstView, View);
const VariantTable<Conv2dFn>& conv2d_variants() {
  static const VariantTable<Conv2dFn> table("conv2d", {
      {"im2col_gemm", "depthwise direct; 1x1 as GEMM; others im2col + blocked sgemm", cpu::conv2d_im2col_gemm},
      {"direct", "the definition, loop by loop, float64 accumulation (reference)", cpu::conv2d_direct},
      {"winograd_f2x3", "Winograd F(2x2,3x3) for 3x3 stride-1 convolutions; others as im2col_gemm",
       cpu::conv2d_winograd_f2x3},
  });
  return table;
}

// Depthwise convolutions (groups == C) take their own path under every conv2d variant but "direct"; each variant
// names the forward and the layout of the x-gradient.
struct DepthwiseVariant {
  Conv2dFn forward;
  cpu::DepthwiseLayout backward;
};
const VariantTable<DepthwiseVariant>& depthwise_variants() {
  using cpu::DepthwiseLayout;
  static const VariantTable<DepthwiseVariant> table("depthwise", {
      {"by_plane", "channel_blocks for output planes of at most 784 positions and strided ones, phase_planes for the rest",
       {cpu::conv2d_depthwise_by_plane, DepthwiseLayout::by_plane}},
      {"phase_planes", "zero-bordered plane split in stride phases; each tap one contiguous run over the plane",
       {cpu::conv2d_depthwise_phase_planes, DepthwiseLayout::phase_planes}},
      {"channel_blocks", "16 (AVX2: 8) channels in the lanes of a vector, interleaved into a zero-bordered buffer",
       {cpu::conv2d_depthwise_channel_blocks, DepthwiseLayout::channel_blocks}},
      {"scalar", "one output at a time over its valid taps (x-gradient: phase_planes)",
       {cpu::conv2d_depthwise_scalar, DepthwiseLayout::phase_planes}},
  });
  return table;
}
bool is_depthwise(const Conv2dAttrs& a, const ConstView& x, const ConstView& w) {
  return a.groups == x.dim(1) && w.dim(1) == 1;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads)
      : ctx_(threads), conv_(conv2d_variants().find("im2col_gemm")), depthwise_(depthwise_variants().find("by_plane")) {}
  Device device() const override { return Device::cpu(); }

  void conv2d(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) override {
    if (is_depthwise(a, x, w) && conv_->name != "direct") depthwise_->fn.forward(ctx_, a, x, w, b, y);
    else conv_->fn(ctx_, a, x, w, b, y);
  }
  void pool2d(const Pool2dAttrs& a, ConstView x, View y) override { cpu::pool2d(ctx_, a, x, y); }
  void global_avg_pool(ConstView x, View y) override { cpu::global_avg_pool(ctx_, x, y); }
  void batchnorm(float eps, ConstView x, ConstView s, ConstView b, ConstView m, ConstView v, View y) override {
    cpu::batchnorm(ctx_, eps, x, s, b, m, v, y);
  }
  void activation(const ActivationAttrs& a, ConstView x, View y) override { cpu::activation(ctx_, a, x, y); }
  void binary(BinaryOp op, const ActivationAttrs& act, ConstView a, ConstView b, View y) override {
    cpu::binary(ctx_, op, act, a, b, y);
  }
  void gemm(const GemmAttrs& a, ConstView A, ConstView B, ConstView C, View y) override {
    cpu::gemm(ctx_, a, A, B, C, y);
  }
  void matmul(ConstView a, ConstView b, View y, bool constant_b) override { cpu::matmul(ctx_, a, b, y, constant_b); }
  void concat(int axis, const std::vector<ConstView>& xs, View y) override { cpu::concat(ctx_, axis, xs, y); }
  void pad(const PadAttrs& a, ConstView x, View y) override { cpu::pad(ctx_, a, x, y); }
  void resize2d(const Resize2dAttrs& a, ConstView x, View y) override { cpu::resize2d(ctx_, a, x, y); }
  void softmax(int axis, ConstView x, View y) override { cpu::softmax(ctx_, axis, x, y); }
  void reduce(ReduceKind kind, const std::vector<int>& axes, ConstView x, View y) override {
    cpu::reduce(ctx_, kind, axes, x, y);
  }
  void einsum(const std::vector<EinsumAxis>& axes, ConstView a, ConstView b, View y) override {
    cpu::einsum(ctx_, axes, a, b, y);
  }
  void strided_copy(int64_t offset, const std::vector<int64_t>& steps, ConstView x, View y) override {
    cpu::strided_copy(ctx_, offset, steps, x, y);
  }
  void layer_norm(float eps, ConstView x, ConstView scale, ConstView bias, View y) override {
    cpu::layer_norm(ctx_, eps, x, scale, bias, y);
  }
  void copy(ConstView x, View y) override {
    if (x.data != y.data) std::memcpy(y.data, x.data, static_cast<size_t>(x.numel()) * sizeof(float));
  }
  // The prepared (packed) constant operands the session holds.
  size_t workspace_bytes() const override { return ctx_.packed_bytes; }
  void upload(const float* host, View y) override {
    if (host != y.data) std::memcpy(y.data, host, static_cast<size_t>(y.numel()) * sizeof(float));
  }

  void conv2d_backward_data(const Conv2dAttrs& a, ConstView dy, ConstView w, View dx) override {
    if (conv_->name == "direct") cpu::conv2d_backward_data_direct(ctx_, a, dy, w, dx);
    else cpu::conv2d_backward_data(ctx_, a, dy, w, dx);
  }
  void pool2d_backward(const Pool2dAttrs& a, ConstView x, ConstView dy, View dx) override {
    cpu::pool2d_backward(ctx_, a, x, dy, dx);
  }
  void global_avg_pool_backward(ConstView dy, View dx) override { cpu::global_avg_pool_backward(ctx_, dy, dx); }
  void batchnorm_backward(float eps, ConstView scale, ConstView var, ConstView dy, View dx) override {
    cpu::batchnorm_backward(ctx_, eps, scale, var, dy, dx);
  }
  void activation_backward(const ActivationAttrs& a, ConstView x, ConstView y, ConstView dy, View dx,
                           BackwardRule rule) override {
    cpu::activation_backward(ctx_, a, x, y, dy, dx, rule);
  }
  void binary_backward(BinaryOp op, ConstView a, ConstView b, ConstView dy, View da, View db) override {
    cpu::binary_backward(ctx_, op, a, b, dy, da, db);
  }
  void gemm_backward(const GemmAttrs& a, ConstView A, ConstView B, ConstView dy, View dA, View dB) override {
    cpu::gemm_backward(ctx_, a, A, B, dy, dA, dB);
  }
  void matmul_backward(ConstView a, ConstView b, ConstView dy, View da, View db) override {
    cpu::matmul_backward(ctx_, a, b, dy, da, db);
  }
  void concat_backward(int axis, ConstView dy, const std::vector<View>& dxs) override {
    cpu::concat_backward(ctx_, axis, dy, dxs);
  }
  void pad_backward(const PadAttrs& a, ConstView dy, View dx) override { cpu::pad_backward(ctx_, a, dy, dx); }
  void resize2d_backward(const Resize2dAttrs& a, ConstView dy, View dx) override {
    cpu::resize2d_backward(ctx_, a, dy, dx);
  }
  void softmax_backward(int axis, ConstView y, ConstView dy, View dx) override {
    cpu::softmax_backward(ctx_, axis, y, dy, dx);
  }
  void layer_norm_backward(float eps, ConstView x, ConstView scale, ConstView dy, View dx) override {
    cpu::layer_norm_backward(ctx_, eps, x, scale, dy, dx);
  }
  void strided_copy_backward(int64_t offset, const std::vector<int64_t>& steps, ConstView dy, View dx) override {
    cpu::strided_copy_backward(ctx_, offset, steps, dy, dx);
  }
  void reduce_backward(ReduceKind kind, const std::vector<int>& axes, ConstView x, ConstView y, ConstView dy,
                       View dx) override {
    cpu::reduce_backward(ctx_, kind, axes, x, y, dy, dx);
  }

  void cam(CamMethod m, int samples, ConstView A, ConstView G, View map) override {
    cpu::cam(ctx_, m, samples, A, G, map);
  }
  void resize_bilinear(ConstView x, View y) override { cpu::resize_bilinear(ctx_, x, y); }
  void normalize_minmax(View maps) override { cpu::normalize_minmax(ctx_, maps); }
  void fuse_heads(HeadFusion fusion, ConstView a, View y) override { cpu::fuse_heads(ctx_, fusion, a, y); }
  void discard_smallest(float ratio, View x) override { cpu::discard_smallest(ctx_, ratio, x); }
  void rollout_step(bool normalize, View a) override { cpu::rollout_step(ctx_, normalize, a); }
  void fuse_layer_maps(float gamma, bool first, ConstView map, View fused) override {
    cpu::fuse_layer_maps(ctx_, gamma, first, map, fused);
  }
  void target_seeds(bool probability, ConstView logits, ConstView given, View seeds, View classes) override {
    cpu::target_seeds(ctx_, probability, logits, given, seeds, classes);
  }
  void repeat_rows(ConstView x, View y) override { cpu::repeat_rows(ctx_, x, y); }
  void channel_abs_max(ConstView x, View y) override { cpu::channel_abs_max(ctx_, x, y); }
  void channel_seed(bool peak, int64_t channel, ConstView a, View y) override {
    cpu::channel_seed(ctx_, peak, channel, a, y);
  }
  void noisy_copies(float std_fraction, uint32_t seed, ConstView x, View y) override {
    cpu::noisy_copies(ctx_, std_fraction, seed, x, y);
  }
  void row_ranges(ConstView x, View range) override { cpu::row_ranges(ctx_, x, range); }
  void gather_rows(ConstView x, ConstView index, View y) override { cpu::gather_rows(ctx_, x, index, y); }
  void score_inputs(float scale, float noise_std, uint32_t seed, uint64_t noise_offset, ConstView x, ConstView masks,
                    View y) override {
    cpu::score_inputs(ctx_, scale, noise_std, seed, noise_offset, x, masks, y);
  }
  void target_scores(bool probability, float scale, bool accumulate, ConstView logits, ConstView classes,
                     int64_t column, View scores) override {
    cpu::target_scores(ctx_, probability, scale, accumulate, logits, classes, column, scores);
  }
  void ablate_channels(ConstView a, ConstView channels, View y) override {
    cpu::ablate_channels(ctx_, a, channels, y);
  }
  void spatial_masked_copies(bool gaussian, int64_t first, ConstView a, View y) override {
    cpu::spatial_masked_copies(ctx_, gaussian, first, a, y);
  }
  void rise_masks(uint32_t seed, uint64_t first, int64_t cells, float probability, View y) override {
    cpu::rise_masks(ctx_, seed, first, cells, probability, y);
  }
  void rank_pixels(ConstView maps, View ranks) override { cpu::rank_pixels(ctx_, maps, ranks); }
  void ranked_copies(int64_t first_step, int64_t pixels_per_step, ConstView from, ConstView to, ConstView ranks,
                     View y) override {
    cpu::ranked_copies(ctx_, first_step, pixels_per_step, from, to, ranks, y);
  }
  void affine_resample(ConstView params, ConstView x, View y) override { cpu::affine_resample(ctx_, params, x, y); }
  void affine_resample_backward(ConstView params, ConstView dy, View dx) override {
    cpu::affine_resample_backward(ctx_, params, dy, dx);
  }
  void tv_gradient(float scale, ConstView x, View dx) override { cpu::tv_gradient(ctx_, scale, x, dx); }
  void adam_step(float lr, float b1, float b2, float eps, int64_t step, ConstView g, View m, View v,
                 View p) override {
    cpu::adam_step(ctx_, lr, b1, b2, eps, step, g, m, v, p);
  }
  void scale_add(float a, ConstView x, float b, float c, View y) override { cpu::scale_add(ctx_, a, x, b, c, y); }
  void unit_seed(int64_t row, int64_t channel, int64_t position, float weight, View seed) override {
    cpu::unit_seed(ctx_, row, channel, position, weight, seed);
  }
  void dot(float scale, bool accumulate, ConstView a, ConstView b, View out) override {
    cpu::dot(ctx_, scale, accumulate, a, b, out);
  }

  // "conv2d": the convolution algorithm; "depthwise": the depthwise convolution under it; "sgemm": the GEMM
  // micro-kernel under convolution, Gemm and MatMul; "isa": the instruction set of every vector kernel (choosing
  // one also resets "sgemm" to that set's micro-kernel).
  std::vector<std::string> variants(const std::string& op) const override {
    if (op == "conv2d") return conv2d_variants().names();
    if (op == "depthwise") return depthwise_variants().names();
    if (op == "sgemm") return cpu::sgemm_kernel_names();
    if (op == "isa") {
      std::vector<std::string> names;
      for (cpu::Isa isa : {cpu::Isa::avx512, cpu::Isa::avx2, cpu::Isa::generic})
        if (cpu::isa_supported(isa)) names.push_back(cpu::isa_name(isa));
      return names;
    }
    return {};
  }
  void select_variant(const std::string& op, const std::string& name) override {
    if (op == "conv2d") conv_ = conv2d_variants().find(name);
    else if (op == "depthwise") depthwise_ = depthwise_variants().find(name), ctx_.depthwise_backward = depthwise_->fn.backward;
    else if (op == "sgemm") ctx_.gemm_kernel = cpu::sgemm_kernel(name);
    else if (op == "isa") ctx_.isa = cpu::isa_named(name), ctx_.gemm_kernel = nullptr;
    else
      fail("the CPU backend has no kernel variants for operator '", op,
           "' (those with variants: conv2d, depthwise, sgemm, isa)");
  }
  std::string selected_variant(const std::string& op) const override {
    if (op == "conv2d") return conv_->name;
    if (op == "depthwise") return depthwise_->name;
    if (op == "sgemm")
      return cpu::sgemm_kernel_name(ctx_.gemm_kernel ? ctx_.gemm_kernel : cpu::sgemm_kernel_for(ctx_.isa));
    if (op == "isa") return cpu::isa_name(ctx_.isa);
    return "";
  }
  void release_prepared() override {
    ctx_.packed.clear();
    ctx_.packed_bytes = 0;
  }

 private:
  cpu::Context ctx_;
  const VariantTable<Conv2dFn>::Entry* conv_;
  const VariantTable<DepthwiseVariant>::Entry* depthwise_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace glassbox::kernels
