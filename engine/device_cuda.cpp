// The CUDA allocator and copies, through the CUDA runtime. Compiled only when GLASSBOX_CUDA is on;
// device_nocuda.cpp gives the same functions as clear errors otherwise.
#include <cuda_runtime_api.h>

#include <array>
#include <memory>
#include <mutex>

#include "engine/device.h"
#include "engine/error.h"

namespace glassbox {

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA error in ", what, ": ", cudaGetErrorString(e));
}

class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int index) : index_(index) {}
  void* allocate(size_t bytes) override {
    check(cudaSetDevice(index_), "cudaSetDevice");
    void* p = nullptr;
    check(cudaMalloc(&p, bytes == 0 ? 256 : bytes), "cudaMalloc");
    return p;
  }
  void deallocate(void* p) noexcept override {
    cudaSetDevice(index_);
    cudaFree(p);
  }

 private:
  int index_;
};
}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

Allocator& cuda_allocator(int index) {
  constexpr int kMaxDevices = 64;
  GB_CHECK(index >= 0 && index < kMaxDevices && index < cuda_device_count(), "CUDA device ", index,
           " is not present (", cuda_device_count(), " CUDA devices found)");
  // Stateless allocators, one per device index, created once.
  static std::array<std::unique_ptr<CudaAllocator>, kMaxDevices> allocators;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (!allocators[index]) allocators[index] = std::make_unique<CudaAllocator>(index);
  return *allocators[index];
}

CudaDeviceInfo cuda_device_info(int index) {
  GB_CHECK(index >= 0 && index < cuda_device_count(), "CUDA device ", index, " is not present");
  CudaDeviceInfo info;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  check(cudaDeviceGetAttribute(&info.sm_count, cudaDevAttrMultiProcessorCount, index), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&info.clock_khz, cudaDevAttrClockRate, index), "cudaDeviceGetAttribute");
  check(cudaDriverGetVersion(&info.driver_version), "cudaDriverGetVersion");
  check(cudaRuntimeGetVersion(&info.runtime_version), "cudaRuntimeGetVersion");
  check(cudaSetDevice(index), "cudaSetDevice");
  check(cudaMemGetInfo(&info.memory_free, &info.memory_total), "cudaMemGetInfo");
  return info;
}

void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  cudaMemcpyKind kind = cudaMemcpyDefault;  // unified addressing tells the direction
  if (!dst_device.is_cpu()) check(cudaSetDevice(dst_device.index), "cudaSetDevice");
  else if (!src_device.is_cpu()) check(cudaSetDevice(src_device.index), "cudaSetDevice");
  check(cudaMemcpy(dst, src, bytes, kind), "cudaMemcpy");
}

}  // namespace glassbox
