#include "engine/device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.h"

namespace glassbox {

std::string Device::str() const {
  return kind == DeviceKind::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    const std::string n = s.substr(5);
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos && n.size() < 4)
      return cuda(std::stoi(n));
  }
  fail("unknown device '", s, "': expected cpu, cuda or cuda:N");
}

namespace {
// 64-byte aligned host memory (a cache line; enough for AVX-512 loads).
class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
  void deallocate(void* p) noexcept override { std::free(p); }
};
}  // namespace

// Defined in device_cuda.cpp (or as stubs when CUDA is not built in).
Allocator& cuda_allocator(int index);
void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

Allocator& allocator_for(Device device) {
  static CpuAllocator cpu;  // stateless
  if (device.is_cpu()) return cpu;
  return cuda_allocator(device.index);
}

CachingAllocator::~CachingAllocator() {
  Allocator& device = allocator_for(device_);
  for (auto& [size, p] : free_) device.deallocate(p);
  for (auto& [p, size] : used_) device.deallocate(p);  // not reached while buffers hold the pool
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.find(rounded);
  void* p = nullptr;
  if (it != free_.end()) {
    p = it->second;
    free_.erase(it);
  } else {
    p = allocator_for(device_).allocate(rounded);
    held_ += rounded;
    peak_ = std::max(peak_, held_);
  }
  used_[p] = rounded;
  return p;
}

void CachingAllocator::deallocate(void* p) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = used_.find(p);
  if (it == used_.end()) return;
  free_.emplace(it->second, p);
  used_.erase(it);
}

size_t CachingAllocator::held_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

size_t CachingAllocator::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

double CudaDeviceInfo::fp32_peak_tflops() const {
  // FP32 lanes per SM: Volta/Turing/GA100 64; GA10x, Ada and Hopper 128; Blackwell 128.
  int lanes = 0;
  if (major == 7 || (major == 8 && minor == 0)) lanes = 64;
  else if (major >= 8) lanes = 128;
  return double(lanes) * 2.0 * sm_count * clock_khz * 1e3 / 1e12;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  cuda_copy_bytes(dst, dst_device, src, src_device, bytes);
}

}  // namespace glassbox
