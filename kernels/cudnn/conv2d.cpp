#include "kernels/cudnn/conv2d.h"

#include <cudnn.h>
#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/cuda/ops.h"

namespace glassbox::kernels::cudnn {

namespace {

// cuDNN is loaded at run time (dlopen), so that glassbox starts and runs everywhere else without it; only the
// cudnn variants need libcudnn.so.9 (on the library path, e.g. PyTorch's nvidia/cudnn/lib).
#define GB_CUDNN_FUNCTIONS(X)                                                                                 \
  X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream) X(cudnnGetErrorString) X(cudnnCreateTensorDescriptor)     \
  X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor) X(cudnnCreateFilterDescriptor)                \
  X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor) X(cudnnCreateConvolutionDescriptor)          \
  X(cudnnSetConvolution2dDescriptor) X(cudnnSetConvolutionGroupCount) X(cudnnSetConvolutionMathType)         \
  X(cudnnDestroyConvolutionDescriptor) X(cudnnFindConvolutionForwardAlgorithm) X(cudnnConvolutionForward)

struct Api {
#define GB_CUDNN_POINTER(name) decltype(&::name) name = nullptr;
  GB_CUDNN_FUNCTIONS(GB_CUDNN_POINTER)
#undef GB_CUDNN_POINTER
};

const Api& api() {
  static const Api loaded = [] {
    void* lib = nullptr;
    for (const char* name : {"libcudnn.so.9", "libcudnn.so"})
      if (!lib) lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    GB_CHECK(lib, "the cudnn convolution variants need cuDNN 9 (libcudnn.so.9 on the library path): ", dlerror());
    Api a;
#define GB_CUDNN_RESOLVE(name)                                                       \
  a.name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name));                   \
  GB_CHECK(a.name, "libcudnn.so.9 has no ", #name, " (cuDNN 9 is needed)");
    GB_CUDNN_FUNCTIONS(GB_CUDNN_RESOLVE)
#undef GB_CUDNN_RESOLVE
    return a;
  }();
  return loaded;
}

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) fail("cuDNN error in ", what, ": ", api().cudnnGetErrorString(s));
}

// RAII descriptors.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  explicit TensorDesc(const Shape& s) {
    check(api().cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
    check(api().cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(s[0]), int(s[1]), int(s[2]),
                                     int(s[3])),
          "cudnnSetTensor4dDescriptor");
  }
  ~TensorDesc() { api().cudnnDestroyTensorDescriptor(d); }
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  explicit FilterDesc(const Shape& s) {
    check(api().cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
    check(api().cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(s[0]), int(s[1]), int(s[2]),
                                     int(s[3])),
          "cudnnSetFilter4dDescriptor");
  }
  ~FilterDesc() { api().cudnnDestroyFilterDescriptor(d); }
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const Conv2dAttrs& a, int pad_h, int pad_w, cudnnMathType_t math) {
    check(api().cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
    check(api().cudnnSetConvolution2dDescriptor(d, pad_h, pad_w, int(a.stride_h), int(a.stride_w), int(a.dilation_h),
                                          int(a.dilation_w), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
    check(api().cudnnSetConvolutionGroupCount(d, int(a.groups)), "cudnnSetConvolutionGroupCount");
    check(api().cudnnSetConvolutionMathType(d, math), "cudnnSetConvolutionMathType");
  }
  ~ConvDesc() { api().cudnnDestroyConvolutionDescriptor(d); }
};

struct Choice {
  cudnnConvolutionFwdAlgo_t algo;
  cudnnMathType_t math;
  size_t workspace;
};

}  // namespace

class ConvState {
 public:
  explicit ConvState(cuda::Context& ctx) {
    check(api().cudnnCreate(&handle), "cudnnCreate");
    check(api().cudnnSetStream(handle, ctx.stream()), "cudnnSetStream");
  }
  ~ConvState() { api().cudnnDestroy(handle); }
  cudnnHandle_t handle = nullptr;
  std::map<std::string, Choice> choices;  // by shape key
};

void ConvStateDeleter::operator()(ConvState* s) const { delete s; }

ConvStatePtr make_conv_state(cuda::Context& ctx) { return ConvStatePtr(new ConvState(ctx)); }

void ensure_loaded() { api(); }

void conv2d(ConvState& state, cuda::Context& ctx, bool tf32, const Conv2dAttrs& a, ConstView x, ConstView w,
            ConstView bias, View y) {
  if (y.numel() == 0) return;
  // cuDNN pads symmetrically; an asymmetric pad (TF "same" with stride 2) goes into a padded copy of x.
  const bool symmetric = a.pad_top == a.pad_bottom && a.pad_left == a.pad_right;
  Shape xs = x.shape;
  if (!symmetric) xs = {x.dim(0), x.dim(1), x.dim(2) + a.pad_top + a.pad_bottom, x.dim(3) + a.pad_left + a.pad_right};
  const int pad_h = symmetric ? int(a.pad_top) : 0, pad_w = symmetric ? int(a.pad_left) : 0;
  const cudnnMathType_t requested = tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;

  TensorDesc xd(xs), yd(y.shape);
  FilterDesc wd(w.shape);
  std::string key = shape_str(xs) + shape_str(w.shape) + shape_str(y.shape) + (tf32 ? "tf32" : "fp32");
  for (int64_t v : {a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, a.groups, int64_t(pad_h), int64_t(pad_w)})
    key += "," + std::to_string(v);
  auto it = state.choices.find(key);
  if (it == state.choices.end()) {
    ConvDesc cd(a, pad_h, pad_w, requested);
    constexpr int kMaxAlgos = 16;
    cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgos];
    int found = 0;
    check(api().cudnnFindConvolutionForwardAlgorithm(state.handle, xd.d, wd.d, cd.d, yd.d, kMaxAlgos, &found, perf),
          "cudnnFindConvolutionForwardAlgorithm");
    const Choice* best = nullptr;
    Choice c{};
    for (int i = 0; i < found && !best; ++i) {  // sorted fastest first
      const bool tensor_op = perf[i].mathType == CUDNN_TENSOR_OP_MATH ||
                             perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
      if (perf[i].status != CUDNN_STATUS_SUCCESS || (tensor_op && !tf32)) continue;
      c = Choice{perf[i].algo, perf[i].mathType, perf[i].memory};
      best = &c;
    }
    GB_CHECK(best, "cuDNN found no ", tf32 ? "TF32" : "fp32", " algorithm for convolution ", key);
    it = state.choices.emplace(key, c).first;
  }
  const Choice& choice = it->second;
  ConvDesc cd(a, pad_h, pad_w, choice.math);

  const size_t padded_bytes = symmetric ? 0 : static_cast<size_t>(numel(xs)) * sizeof(float);
  const size_t padded_aligned = (padded_bytes + 255) / 256 * 256;
  char* scratch = static_cast<char*>(ctx.scratch(padded_aligned + choice.workspace + 256));
  const float* xin = x.data;
  if (!symmetric) {
    PadAttrs pa;
    pa.pads = {0, 0, a.pad_top, a.pad_left, 0, 0, a.pad_bottom, a.pad_right};
    View padded{reinterpret_cast<float*>(scratch), xs, y.device};
    cuda::pad(ctx, pa, x, padded);
    xin = padded.data;
  }
  const float one = 1.f, zero = 0.f;
  check(api().cudnnConvolutionForward(state.handle, &one, xd.d, xin, wd.d, w.data, cd.d, choice.algo,
                                choice.workspace ? scratch + padded_aligned : nullptr, choice.workspace, &zero, yd.d,
                                y.data),
        "cudnnConvolutionForward");
  cuda::bias_activation(ctx, a.act, bias, y);
}

}  // namespace glassbox::kernels::cudnn
