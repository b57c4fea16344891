// Stand-ins for device_cuda.cpp in a build without CUDA: every CUDA request is a clear error.
#include "engine/device.h"
#include "engine/error.h"

namespace glassbox {

int cuda_device_count() { return 0; }

Allocator& cuda_allocator(int index) {
  fail("cuda:", index, " requested, but this glassbox was built without CUDA (configure with -DGLASSBOX_CUDA=ON)");
}

CudaDeviceInfo cuda_device_info(int index) {
  fail("cuda:", index, " requested, but this glassbox was built without CUDA");
}

void cuda_copy_bytes(void*, Device dst, const void*, Device src, size_t) {
  fail("copy ", src.str(), " -> ", dst.str(), ": this glassbox was built without CUDA");
}

}  // namespace glassbox
