// The CUDA kernels of kernels/cuda compiled as C++ and run by the CPU emulation (cuda_emulation.h), behind the
// Backend interface: make_cuda_backend here gives this backend (on host memory), so the one harness of
// tests/kernels/test_backends.cpp runs the CUDA kernels' logic where there is no GPU. The Context is emulated
// too: no stream, host scratch, and the SM count of an H100 so that tile choices match the real device.
#include <cstdlib>

#include "engine/error.h"
#include "kernels/cuda/backend_ops.h"
#include "kernels/cuda/conv2d_variants.h"
#include "kernels/registry.h"

namespace glassbox::kernels {

namespace cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("emulated CUDA error in ", what);
}
void check_launch(const char*) {}  // the emulator aborts on a bad launch

Context::Context(int device) : device_(device), sm_count_(132) {}
Context::~Context() { std::free(scratch_); }
void* Context::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  std::free(scratch_);
  scratch_ = std::malloc(bytes);
  GB_CHECK(scratch_, "out of host memory");
  scratch_bytes_ = bytes;
  return scratch_;
}

}  // namespace cuda

namespace {

// The hand-written variants of the CUDA backend (kernels/cuda/conv2d_variants.h: the same table).
const VariantTable<cuda::Conv2dFn>& conv_variants() {
  static const VariantTable<cuda::Conv2dFn> table("conv2d", cuda::conv2d_variants());
  return table;
}

class EmulatedCudaBackend final : public CudaOps {
 public:
  EmulatedCudaBackend() : CudaOps(0), conv_(conv_variants().find("implicit_gemm")) {}
  Device device() const override { return Device::cpu(); }
  void conv2d(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) override {
    conv_->fn(ctx_, a, x, w, b, y);
  }
  void copy(ConstView x, View y) override { std::copy(x.data, x.data + x.numel(), y.data); }
  void upload(const float* host, View y) override { std::copy(host, host + y.numel(), y.data); }
  std::vector<std::string> variants(const std::string& op) const override {
    return op == "conv2d" ? conv_variants().names() : std::vector<std::string>{};
  }
  void select_variant(const std::string& op, const std::string& name) override {
    GB_CHECK(op == "conv2d", "no variants for ", op);
    conv_ = conv_variants().find(name);
  }
  std::string selected_variant(const std::string& op) const override { return op == "conv2d" ? conv_->name : ""; }

 private:
  const VariantTable<cuda::Conv2dFn>::Entry* conv_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int) { return std::make_unique<EmulatedCudaBackend>(); }

}  // namespace glassbox::kernels
