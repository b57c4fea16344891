// What CUDA kernels get besides their views: the session's device, stream and reusable device scratch.
// Plain C++ (no CUDA syntax) so that backend.cpp and the cuDNN path can include it.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace glassbox::kernels::cuda {

// Throws glassbox::Error naming `what` when a CUDA call failed.
void check(cudaError_t e, const char* what);
// After a kernel launch: a bad launch configuration (or an earlier asynchronous fault) names the kernel.
void check_launch(const char* kernel);

class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  int sm_count() const { return sm_count_; }
  // Device scratch that grows to the largest request and is then reused (no allocation in the steady state).
  // Growing waits for the stream first: queued kernels may still read the old scratch.
  void* scratch(size_t bytes);
  size_t scratch_bytes() const { return scratch_bytes_; }

  // Blocks for a grid-stride loop over n items: enough to fill the device, no more.
  unsigned grid_for(int64_t n, int threads) const {
    const int64_t blocks = (n + threads - 1) / threads;
    const int64_t cap = static_cast<int64_t>(sm_count_) * 32;
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < cap ? blocks : cap));
  }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  int sm_count_ = 0;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

}  // namespace glassbox::kernels::cuda
