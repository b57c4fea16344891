#include "kernels/cuda/context.h"

#include "engine/error.h"

namespace glassbox::kernels::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA error in ", what, ": ", cudaGetErrorString(e));
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail("CUDA kernel ", kernel, " failed to launch: ", cudaGetErrorString(e));
}

Context::Context(int device) : device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  // A blocking stream: the legacy default stream (cudaMemcpy in Tensor::to) waits for its work.
  check(cudaStreamCreate(&stream_), "cudaStreamCreate");
  check(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
}

Context::~Context() {
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  if (scratch_) cudaFree(scratch_);
  if (stream_) cudaStreamDestroy(stream_);
}

void* Context::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  if (scratch_) check(cudaFree(scratch_), "cudaFree");
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  check(cudaMalloc(&scratch_, bytes), "cudaMalloc (scratch)");
  scratch_bytes_ = bytes;
  return scratch_;
}

}  // namespace glassbox::kernels::cuda
