// The defaults of the Backend interface (kernels.h): each backward or explanation method is a clear error on a
// backend that does not have that kernel yet.
#include "engine/error.h"
#include "kernels/kernels.h"

namespace glassbox::kernels {

namespace {
[[noreturn]] void no_backward(const Backend& b, const char* op) {
  fail("the ", b.device().str(), " backend has no kernel for ", op, " yet");
}
}  // namespace

void Backend::conv2d_backward_data(const Conv2dAttrs&, ConstView, ConstView, View) { no_backward(*this, "Conv"); }
void Backend::pool2d_backward(const Pool2dAttrs&, ConstView, ConstView, View) { no_backward(*this, "pooling"); }
void Backend::global_avg_pool_backward(ConstView, View) { no_backward(*this, "GlobalAveragePool"); }
void Backend::batchnorm_backward(float, ConstView, ConstView, ConstView, View) {
  no_backward(*this, "BatchNormalization");
}
void Backend::activation_backward(const ActivationAttrs&, ConstView, ConstView, ConstView, View, BackwardRule) {
  no_backward(*this, "activations");
}
void Backend::binary_backward(BinaryOp, ConstView, ConstView, ConstView, View, View) {
  no_backward(*this, "Add/Sub/Mul/Div");
}
void Backend::gemm_backward(const GemmAttrs&, ConstView, ConstView, ConstView, View, View) {
  no_backward(*this, "Gemm");
}
void Backend::matmul_backward(ConstView, ConstView, ConstView, View, View) { no_backward(*this, "MatMul"); }
void Backend::concat_backward(int, ConstView, const std::vector<View>&) { no_backward(*this, "Concat"); }
void Backend::pad_backward(const PadAttrs&, ConstView, View) { no_backward(*this, "Pad"); }
void Backend::resize2d_backward(const Resize2dAttrs&, ConstView, View) { no_backward(*this, "Resize"); }
void Backend::softmax_backward(int, ConstView, ConstView, View) { no_backward(*this, "Softmax"); }
void Backend::layer_norm_backward(float, ConstView, ConstView, ConstView, View) {
  no_backward(*this, "LayerNormalization");
}
void Backend::strided_copy_backward(int64_t, const std::vector<int64_t>&, ConstView, View) {
  no_backward(*this, "Slice/Gather");
}
void Backend::cam(CamMethod, int, ConstView, ConstView, View) { no_backward(*this, "class activation maps"); }
void Backend::resize_bilinear(ConstView, View) { no_backward(*this, "bilinear resizing"); }
void Backend::normalize_minmax(View) { no_backward(*this, "min-max normalization"); }
void Backend::fuse_layer_maps(float, bool, ConstView, View) { no_backward(*this, "LayerCAM fusion"); }
void Backend::fuse_heads(HeadFusion, ConstView, View) { no_backward(*this, "attention head fusion"); }
void Backend::discard_smallest(float, View) { no_backward(*this, "attention discarding"); }
void Backend::rollout_step(bool, View) { no_backward(*this, "attention rollout"); }
void Backend::target_seeds(bool, ConstView, ConstView, View, View) { no_backward(*this, "target seeds"); }
void Backend::repeat_rows(ConstView, View) { no_backward(*this, "repeated rows"); }
void Backend::noisy_copies(float, uint32_t, ConstView, View) { no_backward(*this, "noisy copies"); }
void Backend::channel_abs_max(ConstView, View) { no_backward(*this, "saliency"); }
void Backend::channel_seed(bool, int64_t, ConstView, View) { no_backward(*this, "channel seeds"); }
void Backend::row_ranges(ConstView, View) { no_backward(*this, "row ranges"); }
void Backend::gather_rows(ConstView, ConstView, View) { no_backward(*this, "gathered rows"); }
void Backend::score_inputs(float, float, uint32_t, uint64_t, ConstView, ConstView, View) {
  no_backward(*this, "masked inputs");
}
void Backend::target_scores(bool, float, bool, ConstView, ConstView, int64_t, View) {
  no_backward(*this, "target scores");
}
void Backend::ablate_channels(ConstView, ConstView, View) { no_backward(*this, "ablated channels"); }
void Backend::spatial_masked_copies(bool, int64_t, ConstView, View) { no_backward(*this, "spatial masks"); }
void Backend::rise_masks(uint32_t, uint64_t, int64_t, float, View) { no_backward(*this, "RISE masks"); }
void Backend::rank_pixels(ConstView, View) { no_backward(*this, "pixel ranks"); }
void Backend::ranked_copies(int64_t, int64_t, ConstView, ConstView, ConstView, View) {
  no_backward(*this, "ranked copies");
}
void Backend::affine_resample(ConstView, ConstView, View) { no_backward(*this, "affine resampling"); }
void Backend::affine_resample_backward(ConstView, ConstView, View) {
  no_backward(*this, "affine resampling's backward");
}
void Backend::tv_gradient(float, ConstView, View) { no_backward(*this, "total variation"); }
void Backend::adam_step(float, float, float, float, int64_t, ConstView, View, View, View) {
  no_backward(*this, "Adam steps");
}
void Backend::scale_add(float, ConstView, float, float, View) { no_backward(*this, "scale_add"); }
void Backend::unit_seed(int64_t, int64_t, int64_t, float, View) { no_backward(*this, "unit seeds"); }
void Backend::dot(float, bool, ConstView, ConstView, View) { no_backward(*this, "dot products"); }
void Backend::reduce_backward(ReduceKind, const std::vector<int>&, ConstView, ConstView, ConstView, View) {
  no_backward(*this, "reductions (ReduceMean, ReduceSum, ...)");
}

}  // namespace glassbox::kernels
