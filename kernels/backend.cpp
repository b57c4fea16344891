// The backend for a device: the CPU backend, or the CUDA backend (kernels/cuda, or an error without CUDA).
#include "kernels/kernels.h"

namespace glassbox::kernels {

std::unique_ptr<Backend> make_backend(Device device, int threads) {
  if (device.is_cpu()) return make_cpu_backend(threads);
  return make_cuda_backend(device.index);
}

}  // namespace glassbox::kernels
