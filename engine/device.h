// Devices and their allocators. A Device names where memory lives; an Allocator gets and frees it there.
// The allocators are stateless (no caches shared between models); per-session arenas are built on top.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace glassbox {

enum class DeviceKind { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;
  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
  static Device parse(const std::string& s);  // inverse of str()
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
};

// A pool owned by one session: freed blocks are kept by size and handed out again, so a steady state of the same
// requests (a result tensor per run) never reaches the device allocator (no cudaMalloc/cudaFree per run).
// Thread-safe (a result may be dropped on another thread). Returns everything to the device when destroyed;
// buffers keep their pool alive through a shared_ptr.
class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  void* allocate(size_t bytes) override;
  void deallocate(void* p) noexcept override;
  size_t held_bytes() const;  // in use plus cached
  size_t peak_bytes() const;  // the most ever held

 private:
  Device device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;  // cached blocks by rounded size
  std::map<void*, size_t> used_;       // blocks handed out
  size_t held_ = 0, peak_ = 0;
};

// The allocator for a device. Throws glassbox::Error when the device is absent or CUDA is not built in.
Allocator& allocator_for(Device device);

// Copies bytes between any two devices (host<->device, device<->device, host<->host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Number of CUDA devices usable now (0 without CUDA support, driver or device).
int cuda_device_count();

// What a CUDA device is, for benchmark reports.
struct CudaDeviceInfo {
  std::string name;
  int sm_count = 0, clock_khz = 0, major = 0, minor = 0;
  int driver_version = 0, runtime_version = 0;  // e.g. 13000 = 13.0
  size_t memory_total = 0, memory_free = 0;     // bytes, now
  // FP32 FMA lanes per SM for this architecture x 2 flops x SMs x clock, in TFLOP/s (0 when unknown).
  double fp32_peak_tflops() const;
};
CudaDeviceInfo cuda_device_info(int index);

}  // namespace glassbox
