// cuDNN as an alternative convolution path, selected by name ("cudnn", "cudnn_tf32"), never the default: the
// yardstick the hand-written kernels are measured against. Built with GLASSBOX_CUDNN.
#pragma once
#include <memory>

#include "kernels/cuda/context.h"
#include "kernels/kernels.h"

namespace glassbox::kernels::cudnn {

// A cuDNN handle on the context's stream and, per convolution shape, the fastest algorithm cuDNN's own search
// found (cudnnFindConvolutionForwardAlgorithm, like PyTorch's cudnn.benchmark), found once and cached.
class ConvState;
struct ConvStateDeleter {
  void operator()(ConvState* s) const;
};
using ConvStatePtr = std::unique_ptr<ConvState, ConvStateDeleter>;
ConvStatePtr make_conv_state(cuda::Context& ctx);
// Opens libcudnn.so.9 if not yet open; throws glassbox::Error saying what is missing.
void ensure_loaded();

// tf32: allow TF32 tensor-core math (CUDNN_TENSOR_OP_MATH); otherwise strict fp32 FMA math (CUDNN_FMA_MATH).
// Bias and activation run after cuDNN as one epilogue kernel; asymmetric padding is applied to a padded copy of x.
void conv2d(ConvState& state, cuda::Context& ctx, bool tf32, const Conv2dAttrs& a, ConstView x, ConstView w,
            ConstView bias, View y);

}  // namespace glassbox::kernels::cudnn
