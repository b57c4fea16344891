// The CUDA backend: wires kernels/cuda/<op>.cu into the Backend interface, and holds the session's stream, device
// scratch, pinned upload buffer, convolution-variant choice and per-shape autotune cache.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/cuda/backend_ops.h"
#include "kernels/cuda/conv2d_variants.h"
#include "kernels/registry.h"
#if GLASSBOX_HAS_CUDNN
#include "kernels/cudnn/conv2d.h"
#endif

namespace glassbox::kernels {

namespace {

using ConvFn = std::function<void(const Conv2dAttrs&, ConstView, ConstView, ConstView, View)>;

class CudaBackend final : public CudaOps {
 public:
  explicit CudaBackend(int index) : CudaOps(index), conv_variants_("conv2d", make_conv_variants()) {
    cuda::check(cudaEventCreateWithFlags(&upload_done_, cudaEventDisableTiming), "cudaEventCreate");
    conv_ = conv_variants_.find("implicit_gemm");
  }
  ~CudaBackend() override {
    cudaSetDevice(ctx_.device());
    cudaEventSynchronize(upload_done_);
    cudaEventDestroy(upload_done_);
    if (pinned_) cudaFreeHost(pinned_);
  }
  Device device() const override { return Device::cuda(ctx_.device()); }

  void conv2d(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) override {
    activate();
    conv_->fn(a, x, w, b, y);
  }
  void copy(ConstView x, View y) override {
    if (x.data == y.data || y.numel() == 0) return;
    activate();
    cuda::check(cudaMemcpyAsync(y.data, x.data, static_cast<size_t>(y.numel()) * sizeof(float),
                                cudaMemcpyDeviceToDevice, ctx_.stream()),
                "cudaMemcpyAsync (copy)");
  }
  // Host -> pinned staging -> device, asynchronous on the stream. The staging buffer is reused once the previous
  // upload from it has finished (an event, usually long done).
  void upload(const float* host, View y) override {
    const size_t bytes = static_cast<size_t>(y.numel()) * sizeof(float);
    if (bytes == 0) return;
    activate();
    cuda::check(cudaEventSynchronize(upload_done_), "cudaEventSynchronize");
    if (pinned_bytes_ < bytes) {
      if (pinned_) cuda::check(cudaFreeHost(pinned_), "cudaFreeHost");
      pinned_ = nullptr;
      pinned_bytes_ = 0;
      cuda::check(cudaMallocHost(&pinned_, bytes), "cudaMallocHost (upload staging)");
      pinned_bytes_ = bytes;
    }
    std::memcpy(pinned_, host, bytes);
    cuda::check(cudaMemcpyAsync(y.data, pinned_, bytes, cudaMemcpyHostToDevice, ctx_.stream()), "cudaMemcpyAsync");
    cuda::check(cudaEventRecord(upload_done_, ctx_.stream()), "cudaEventRecord");
  }
  void synchronize() override {
    activate();
    cuda::check(cudaStreamSynchronize(ctx_.stream()), "cudaStreamSynchronize (a kernel failed)");
  }
  size_t workspace_bytes() const override { return ctx_.scratch_bytes() + pinned_bytes_; }

  std::vector<std::string> variants(const std::string& op) const override {
    if (op == "conv2d") return conv_variants_.names();
    return {};
  }
  void select_variant(const std::string& op, const std::string& name) override {
    GB_CHECK(op == "conv2d", "the CUDA backend has no kernel variants for operator '", op,
             "' (those with variants: conv2d)");
    conv_ = conv_variants_.find(name);
#if GLASSBOX_HAS_CUDNN
    if (name.rfind("cudnn", 0) == 0) cudnn::ensure_loaded();  // a missing libcudnn is an error now, not mid-run
#endif
  }
  std::string selected_variant(const std::string& op) const override { return op == "conv2d" ? conv_->name : ""; }

 private:
  void activate() const override { cuda::check(cudaSetDevice(ctx_.device()), "cudaSetDevice"); }

  // The hand-written variants (conv2d_variants.h) on this backend's context, then the autotuners and cuDNN.
  std::vector<VariantTable<ConvFn>::Entry> make_conv_variants() {
    std::vector<VariantTable<ConvFn>::Entry> v;
    for (const auto& e : cuda::conv2d_variants()) {
      hand_written_.push_back(e.name);
      v.push_back({e.name, e.description, [this, fn = e.fn](auto& a, auto x, auto w, auto b, auto y) {
                     fn(ctx_, a, x, w, b, y);
                   }});
    }
    v.push_back({"autotune", "per shape, the fastest fp32 hand-written variant, timed once and cached",
                 [this](auto& a, auto x, auto w, auto b, auto y) { autotuned(false, a, x, w, b, y); }});
    v.push_back({"autotune_tf32", "per shape, the fastest hand-written variant including TF32, timed once and cached",
                 [this](auto& a, auto x, auto w, auto b, auto y) { autotuned(true, a, x, w, b, y); }});
#if GLASSBOX_HAS_CUDNN
    v.push_back({"cudnn", "cuDNN, fp32 FMA math, its fastest algorithm per shape (the yardstick)",
                 [this](auto& a, auto x, auto w, auto b, auto y) { cudnn_conv(false, a, x, w, b, y); }});
    v.push_back({"cudnn_tf32", "cuDNN with TF32 tensor-core math allowed (the yardstick for implicit_gemm_tf32)",
                 [this](auto& a, auto x, auto w, auto b, auto y) { cudnn_conv(true, a, x, w, b, y); }});
#endif
    return v;
  }

  // Autotune: the first call for a shape times each candidate (one warm-up, then the best of three, CUDA events)
  // and caches the winner; later calls run it directly. A candidate that cannot run a shape is skipped.
  void autotuned(bool tf32, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) {
    std::string key = (tf32 ? "tf32" : "fp32") + shape_str(x.shape) + shape_str(w.shape) + shape_str(y.shape);
    for (int64_t v : {a.stride_h, a.stride_w, a.pad_top, a.pad_left, a.pad_bottom, a.pad_right, a.dilation_h,
                      a.dilation_w, a.groups, int64_t(a.act.kind)})
      key += "," + std::to_string(v);
    auto it = tuned_.find(key);
    if (it == tuned_.end()) {
      std::vector<std::string> candidates;  // every hand-written variant; TF32 ones for autotune_tf32 only
      for (const std::string& name : hand_written_)
        if (tf32 || !cuda::is_tf32_variant(name)) candidates.push_back(name);
      cudaEvent_t start, stop;
      cuda::check(cudaEventCreate(&start), "cudaEventCreate");
      cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
      const VariantTable<ConvFn>::Entry* best = nullptr;
      float best_ms = 0.f;
      for (const auto& name : candidates) {
        const auto* e = conv_variants_.find(name);
        float ms = 0.f;
        try {
          e->fn(a, x, w, b, y);  // warm-up; throws for a shape this variant cannot run
          for (int rep = 0; rep < 3; ++rep) {
            cuda::check(cudaEventRecord(start, ctx_.stream()), "cudaEventRecord");
            e->fn(a, x, w, b, y);
            cuda::check(cudaEventRecord(stop, ctx_.stream()), "cudaEventRecord");
            cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
            float t = 0.f;
            cuda::check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
            ms = rep == 0 ? t : std::min(ms, t);
          }
        } catch (const Error&) {
          continue;
        }
        if (!best || ms < best_ms) best = e, best_ms = ms;
      }
      cudaEventDestroy(start);
      cudaEventDestroy(stop);
      GB_CHECK(best, "autotune: no convolution variant runs ", key);
      it = tuned_.emplace(key, best).first;
    }
    it->second->fn(a, x, w, b, y);
  }

#if GLASSBOX_HAS_CUDNN
  void cudnn_conv(bool tf32, const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) {
    if (!cudnn_) cudnn_ = cudnn::make_conv_state(ctx_);
    cudnn::conv2d(*cudnn_, ctx_, tf32, a, x, w, b, y);
  }
#endif

  std::vector<std::string> hand_written_;  // names of the conv2d_variants.h entries (autotune candidates)
  VariantTable<ConvFn> conv_variants_;
  const VariantTable<ConvFn>::Entry* conv_ = nullptr;
  std::map<std::string, const VariantTable<ConvFn>::Entry*> tuned_;
  cudaEvent_t upload_done_ = nullptr;
  void* pinned_ = nullptr;
  size_t pinned_bytes_ = 0;
#if GLASSBOX_HAS_CUDNN
  cudnn::ConvStatePtr cudnn_;
#endif
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int index) {
  GB_CHECK(index >= 0 && index < cuda_device_count(), "CUDA device ", index, " is not present (",
           cuda_device_count(), " CUDA devices found)");
  return std::make_unique<CudaBackend>(index);
}

}  // namespace glassbox::kernels
