// Tensors: a shape, a dtype, a device and an RAII buffer shared by views.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace glassbox {

enum class DType { f32, f64, i64 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

using Shape = std::vector<int64_t>;
int64_t numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 224, 224]"
[[noreturn]] void throw_dtype_mismatch(DType have, DType want);
void check_element_count(int64_t have, int64_t want);

// Owns `bytes` bytes on one device; freed by the allocator that gave them when the last owner goes: the device's
// stateless allocator, or a caller's pool (kept alive by the buffer).
class Buffer {
 public:
  Buffer(Device device, size_t bytes, std::shared_ptr<Allocator> pool = nullptr);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Device device_;
  size_t bytes_;
  std::shared_ptr<Allocator> pool_;
  void* data_;
};

// A dense, row-major (NCHW for images) tensor, or a view into another tensor's buffer.
class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // Memory from `pool` (an allocator for `device`, e.g. a session's caching pool) instead of the device's own.
  static Tensor empty(const Shape& shape, DType dtype, Device device, std::shared_ptr<Allocator> pool);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // Views onto memory owned elsewhere (no ownership taken): the caller keeps `data` alive.
  static Tensor wrap(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the back
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return glassbox::numel(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T> T* data();
  template <class T> const T* data() const;

  // Same memory, another shape with the same element count.
  Tensor reshape(const Shape& shape) const;
  // Rows [begin, end) of the first dimension, sharing memory.
  Tensor slice(int64_t begin, int64_t end) const;
  // A deep copy on `device`.
  Tensor to(Device device) const;
  Tensor clone() const { return to(device_); }
  // Copies `src` (same element count and dtype) into this tensor's memory.
  void copy_from(const Tensor& src);

 private:
  std::shared_ptr<Buffer> owner_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_;
};

template <class T>
T* Tensor::data() {
  if (dtype_ != dtype_of<T>()) throw_dtype_mismatch(dtype_, dtype_of<T>());
  return static_cast<T*>(data_);
}
template <class T>
const T* Tensor::data() const {
  if (dtype_ != dtype_of<T>()) throw_dtype_mismatch(dtype_, dtype_of<T>());
  return static_cast<const T*>(data_);
}
template <class T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  Tensor t = empty(shape, dtype_of<T>());
  check_element_count(t.numel(), static_cast<int64_t>(values.size()));
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace glassbox
