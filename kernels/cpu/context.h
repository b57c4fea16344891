// What CPU kernels get besides their views: the session's thread pool, its reusable scratch memory, and the
// instruction set its vector kernels use.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace glassbox::kernels::cpu {

struct SgemmKernel;    // sgemm.h
struct PackedOperand;  // sgemm.h
// A packed constant's identity: its first element, extent (M for a left operand, -N for a right one), depth,
// strides, and the micro-kernel it was packed for.
using PackedKey = std::tuple<const float*, int64_t, int64_t, int64_t, int64_t, const SgemmKernel*>;

// The vector instruction set of the hand-written kernels (sgemm micro-kernels, depthwise rows, ...). One binary
// runs on any x86-64: the best set is picked at run time from the CPU's features, and a lower one can be forced
// (environment GLASSBOX_CPU_ISA=avx2, or the backend variant "isa") so a machine with AVX-512 tests the AVX2 path.
enum class Isa { generic, avx2, avx512 };
bool isa_supported(Isa isa);
Isa isa_named(const std::string& name);  // "generic", "avx2", "avx512"; unknown or unsupported: an error
const char* isa_name(Isa isa);
// The best this CPU supports, or GLASSBOX_CPU_ISA where set (an error when it names an unknown or unsupported set).
Isa default_isa();

// How the depthwise x-gradient lays out its work (conv2d_depthwise.cpp): stride-phase planes, blocks of channels in
// vector lanes, or each by the plane size. Set with the backend's "depthwise" variant.
enum class DepthwiseLayout { by_plane, phase_planes, channel_blocks };

// 64-byte aligned floats that grow to the largest request and are then kept (contents not preserved on growth).
class AlignedFloats {
 public:
  float* get(int64_t floats);  // sgemm.cpp; an error naming the size when memory runs out

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

struct Context {
  explicit Context(int threads) : pool(threads) {}
  ThreadPool pool;
  Isa isa = default_isa();
  const SgemmKernel* gemm_kernel = nullptr;  // null: the best micro-kernel of `isa`
  DepthwiseLayout depthwise_backward = DepthwiseLayout::by_plane;
  // Prepared weights (sgemm.h packed_constant): the session's constant GEMM operands, each packed once.
  std::map<PackedKey, std::shared_ptr<const PackedOperand>> packed;
  size_t packed_bytes = 0;
  // Scratch that grows to the largest request and is then reused (no allocation in the steady state), 64-byte
  // aligned (the sgemm micro-kernels read packed operands with aligned vector loads). Its contents do not survive a
  // call that grows it.
  float* scratch(int64_t floats) { return scratch_.get(floats); }

 private:
  AlignedFloats scratch_;
};

}  // namespace glassbox::kernels::cpu
