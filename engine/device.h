// Devices and their allocators. A Device names where memory lives; an Allocator gets and frees it there.
// The allocators are stateless (no caches shared between models); per-session arenas are built on top.
#pragma once
#include <cstddef>
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

// The allocator for a device. Throws glassbox::Error when the device is absent or CUDA is not built in.
Allocator& allocator_for(Device device);

// Copies bytes between any two devices (host<->device, device<->device, host<->host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Number of CUDA devices usable now (0 without CUDA support, driver or device).
int cuda_device_count();

}  // namespace glassbox
