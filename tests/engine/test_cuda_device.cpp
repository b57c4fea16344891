// The CUDA allocator and copies (the CUDA kernels come with the CUDA backend). Skipped without a device.
#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/tensor.h"

namespace glassbox {
namespace {

TEST(CudaDevice, RoundTripCopy) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Tensor h = Tensor::from_vector<float>({4}, {1, 2, 3, 4});
  Tensor d = h.to(Device::cuda(0));
  EXPECT_EQ(d.device(), Device::cuda(0));
  Tensor d2 = d.clone();
  Tensor back = d2.to(Device::cpu());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<float>()[i], h.data<float>()[i]);
}

TEST(CudaDevice, MissingDeviceIsAnError) {
  if (cuda_device_count() == 0) {
    EXPECT_THROW(Tensor::empty({1}, DType::f32, Device::cuda(0)), Error);
    GTEST_SKIP() << "no CUDA device (checked that allocating on one fails cleanly)";
  }
  EXPECT_THROW(Tensor::empty({1}, DType::f32, Device::cuda(63)), Error);
}

}  // namespace
}  // namespace glassbox
