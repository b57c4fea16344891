// What CPU kernels get besides their views: the session's thread pool and its reusable scratch memory.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace glassbox::kernels::cpu {

struct SgemmKernel;  // sgemm.h

struct Context {
  explicit Context(int threads) : pool(threads) {}
  ThreadPool pool;
  const SgemmKernel* gemm_kernel = nullptr;  // null: the best micro-kernel this CPU has
  // Scratch that grows to the largest request and is then reused (no allocation in the steady state).
  float* scratch(int64_t floats) {
    if (static_cast<int64_t>(scratch_.size()) < floats) scratch_.resize(static_cast<size_t>(floats));
    return scratch_.data();
  }

 private:
  std::vector<float> scratch_;
};

}  // namespace glassbox::kernels::cpu
