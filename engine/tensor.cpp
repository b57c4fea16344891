#include "engine/tensor.h"

#include <cstring>
#include <limits>

#include "engine/error.h"

namespace glassbox {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
  }
  return "?";
}

int64_t numel(const Shape& s) {
  // Shapes from model files are bounded where they are read (onnx_import.cpp, plan.cpp); this keeps any other
  // product an error rather than undefined behaviour.
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n)) fail("the element count of shape ", shape_str(s), " overflows int64");
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return out + "]";
}

void throw_dtype_mismatch(DType have, DType want) {
  fail("tensor holds ", dtype_name(have), ", read as ", dtype_name(want));
}

void check_element_count(int64_t have, int64_t want) {
  GB_CHECK(have == want, "element count mismatch: shape holds ", have, " elements, ", want, " given");
}

Buffer::Buffer(Device device, size_t bytes, std::shared_ptr<Allocator> pool)
    : device_(device), bytes_(bytes), pool_(std::move(pool)),
      data_(pool_ ? pool_->allocate(bytes) : allocator_for(device).allocate(bytes)) {}

Buffer::~Buffer() {
  if (pool_) pool_->deallocate(data_);
  else allocator_for(device_).deallocate(data_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return empty(shape, dtype, device, nullptr); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, std::shared_ptr<Allocator> pool) {
  for (int64_t d : shape) GB_CHECK(d >= 0, "cannot make a tensor of shape ", shape_str(shape));
  GB_CHECK(static_cast<uint64_t>(glassbox::numel(shape)) <= std::numeric_limits<size_t>::max() / dtype_size(dtype),
           "cannot make a tensor of shape ", shape_str(shape), ": its byte size overflows");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.owner_ = std::make_shared<Buffer>(device, t.bytes(), std::move(pool));
  t.data_ = t.owner_->data();
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  std::memset(t.data_, 0, t.bytes());
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.data_ = data;
  return t;
}

int64_t Tensor::dim(int i) const {
  const int r = rank();
  GB_CHECK(i >= -r && i < r, "dimension ", i, " out of range for shape ", shape_str(shape_));
  return shape_[i < 0 ? i + r : i];
}

Tensor Tensor::reshape(const Shape& shape) const {
  GB_CHECK(glassbox::numel(shape) == numel(), "cannot reshape ", shape_str(shape_), " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  GB_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ", ", end,
           ") out of range for shape ", shape_str(shape_));
  Tensor t = *this;
  const int64_t row = shape_[0] == 0 ? 0 : numel() / shape_[0];
  t.shape_[0] = end - begin;
  t.data_ = static_cast<char*>(data_) + static_cast<size_t>(begin * row) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, dtype_, device);
  copy_bytes(t.data_, device, data_, device_, bytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  GB_CHECK(src.numel() == numel() && src.dtype() == dtype_, "copy_from: ", shape_str(src.shape()), " ",
           dtype_name(src.dtype()), " into ", shape_str(shape_), " ", dtype_name(dtype_));
  copy_bytes(data_, device_, src.data_, src.device_, bytes());
}

}  // namespace glassbox
