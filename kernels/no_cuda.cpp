// make_cuda_backend in a build without CUDA: a clear error.
#include "engine/error.h"
#include "kernels/kernels.h"

namespace glassbox::kernels {

std::unique_ptr<Backend> make_cuda_backend(int index) {
  fail("cuda:", index, " requested, but this glassbox was built without CUDA (configure with -DGLASSBOX_CUDA=ON)");
}

}  // namespace glassbox::kernels
