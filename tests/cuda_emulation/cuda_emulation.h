// A CPU emulation of the parts of CUDA that glassbox's kernels use, so that the kernel sources in kernels/cuda
// also compile as plain C++ and run in the CPU test suite (tests/kernels/test_backends.cpp): their indexing,
// shared-memory tiling, barriers, warp shuffles and epilogues are checked against the CPU reference on machines
// without a GPU. It checks logic, not speed, and it is no substitute for the GPU run (memory model, real
// tensor cores, occupancy).
//
// A launch runs the grid one block at a time on the calling thread; the block's threads are fibers, __syncthreads
// and __syncwarp are points where they wait for each other, and a barrier that can never be passed (some threads
// left the kernel or wait at another barrier) is reported as divergence (a hang or undefined behaviour on a GPU).
// `__shared__` arrays become function statics, shared by the block's threads; blocks never run concurrently.
// WMMA fragments hold the whole tile in every lane; mma_sync multiplies in fp32 what __float_to_tf32 rounded.
//
// Force-included (-include) before each kernel source, with GB_CUDA_EMULATION defined.
#pragma once
#include <cuda_runtime_api.h>  // dim3, float2, float4, cudaError_t, cudaStream_t (types only; no runtime calls)
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define GB_EMU_ASAN 1
#else
#define GB_EMU_ASAN 0
#endif

#undef __shared__
#define __shared__ static
#define __launch_bounds__(...)
using std::max;
using std::min;

namespace gb_emu {

// One CUDA thread: a fiber (ucontext) with its own stack, run by the block's scheduler until it reaches a barrier
// or leaves the kernel. Fibers rather than host threads: a barrier costs a few context switches, not a wake-up of
// hundreds of threads.
enum class At { running, block_barrier, warp_barrier, done };

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  At at = At::running;
  dim3 index;
  void* fake_stack = nullptr;  // AddressSanitizer's bookkeeping while switched out
};

constexpr size_t kFiberStack = 256 * 1024;

struct Block {
  std::vector<Fiber> fibers;
  std::vector<float> dynamic_shared;
  std::vector<float> lane_values;  // shuffle exchange, one slot per thread
  ucontext_t scheduler;
  std::function<void()> body;      // the kernel with its parameters
  // AddressSanitizer's view of the switches: the scheduler's stack, and its bookkeeping while a fiber runs.
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_size = 0;
  void* scheduler_fake_stack = nullptr;
};

inline Block* current_block = nullptr;
inline int linear_thread = 0;

[[noreturn]] inline void divergence(const char* what) {
  std::fprintf(stderr, "CUDA emulation: barrier divergence: %s\n", what);
  std::abort();
}

// Back to the scheduler, marked as waiting at `at` (or done).
inline void yield(At at) {
  Block& b = *current_block;
  Fiber& f = b.fibers[linear_thread];
  f.at = at;
#if GB_EMU_ASAN
  __sanitizer_start_switch_fiber(at == At::done ? nullptr : &f.fake_stack, b.scheduler_stack, b.scheduler_stack_size);
#endif
  swapcontext(&f.context, &b.scheduler);
#if GB_EMU_ASAN
  __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
}

inline void fiber_main() {
#if GB_EMU_ASAN
  Block& b = *current_block;
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
  current_block->body();
  yield(At::done);
}

}  // namespace gb_emu

inline thread_local dim3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

inline void __syncthreads() { gb_emu::yield(gb_emu::At::block_barrier); }
inline void __syncwarp(unsigned = 0xffffffffu) { gb_emu::yield(gb_emu::At::warp_barrier); }
inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
  auto& values = gb_emu::current_block->lane_values;
  const int t = gb_emu::linear_thread, lane = t % 32;
  values[t] = v;
  __syncwarp();
  const float r = values[t - lane + (lane ^ lane_mask)];
  __syncwarp();
  return r;
}
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
// One block at a time, its threads one at a time between barriers: a plain add is atomic here.
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}

namespace gb_emu {

// Runs one block: every fiber until it waits or is done; then releases the whole block when every thread waits at
// __syncthreads, or a warp when all its lanes wait at __syncwarp; anything else can never finish: divergence.
// (getcontext and swapcontext return twice: they live in functions of their own, away from loop variables.)
__attribute__((noinline)) inline void start_fiber(Fiber& f) {
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = kFiberStack;
  f.context.uc_link = nullptr;
  makecontext(&f.context, fiber_main, 0);
  f.at = At::running;
}

__attribute__((noinline)) inline void resume(Block& b, int t) {
  linear_thread = t;
  threadIdx = b.fibers[t].index;
#if GB_EMU_ASAN
  __sanitizer_start_switch_fiber(&b.scheduler_fake_stack, b.fibers[t].stack.get(), kFiberStack);
#endif
  swapcontext(&b.scheduler, &b.fibers[t].context);
#if GB_EMU_ASAN
  __sanitizer_finish_switch_fiber(b.scheduler_fake_stack, nullptr, nullptr);
#endif
}

inline void run_block(Block& b) {
  const int n = static_cast<int>(b.fibers.size());
  for (Fiber& f : b.fibers) start_fiber(f);
  std::vector<char> runnable(n, 1);
  for (;;) {
    for (int t = 0; t < n; ++t)
      if (runnable[t]) resume(b, t);
    int done = 0, at_block = 0;
    for (const Fiber& f : b.fibers) done += f.at == At::done, at_block += f.at == At::block_barrier;
    if (done == n) return;
    std::fill(runnable.begin(), runnable.end(), 0);
    if (at_block == n) {
      std::fill(runnable.begin(), runnable.end(), 1);
      continue;
    }
    bool any = false;
    for (int w = 0; w * 32 < n; ++w) {
      bool all = true;
      for (int t = w * 32; t < std::min(n, w * 32 + 32); ++t) all = all && b.fibers[t].at == At::warp_barrier;
      if (!all) continue;
      for (int t = w * 32; t < std::min(n, w * 32 + 32); ++t) runnable[t] = 1;
      any = true;
    }
    if (!any) {
      divergence(at_block ? "__syncthreads reached by only part of the block (early return?)"
                          : "__syncwarp or a shuffle reached by only part of a warp");
    }
  }
}

// Runs kernel over the grid, one block at a time; parameters are copied once (by value, as a CUDA launch does).
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes, A&&... args) {
  const int threads = int(block.x * block.y * block.z);
  if (threads < 1 || threads > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 || grid.z > 65535 ||
      shared_bytes > 48 * 1024) {
    std::fprintf(stderr, "CUDA emulation: invalid launch configuration\n");
    std::abort();
  }
  const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  Block b;
  b.fibers.resize(threads);
  for (int t = 0; t < threads; ++t) {
    b.fibers[t].stack.reset(new char[kFiberStack]);
    b.fibers[t].index = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
  }
  b.dynamic_shared.resize(shared_bytes / sizeof(float) + 1);
  b.lane_values.resize(threads);
  b.body = [&] { std::apply(kernel, params); };
  Block* outer = current_block;
  current_block = &b;
  blockDim = block;
  gridDim = grid;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        run_block(b);
      }
  current_block = outer;
}

template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(current_block->dynamic_shared.data());
}

}  // namespace gb_emu

#define GB_LAUNCH(kernel, grid, block, shared, stream)                       \
  [&](auto&&... args) {                                                     \
    (void)(stream); /* one stream: launches run in order, synchronously */  \
    ::gb_emu::launch(kernel, dim3(grid), dim3(block), shared, args...);     \
  }
#define GB_DYNAMIC_SHARED(type, name) type* name = ::gb_emu::dynamic_shared<type>()

// WMMA for the shapes glassbox uses (m16n16k8, tf32 inputs, fp32 accumulators).
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  float x[rows * cols];
};

template <class U, int M, int N, int K, class T, class L>
void fill_fragment(fragment<U, M, N, K, T, L>& f, float v) {
  std::fill(std::begin(f.x), std::end(f.x), v);
}
template <class U, int M, int N, int K, class T>
void load_matrix_sync(fragment<U, M, N, K, T, row_major>& f, const float* p, unsigned ldm) {
  using F = fragment<U, M, N, K, T, row_major>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c) f.x[r * F::cols + c] = p[r * ldm + c];
}
template <int M, int N, int K, class TA, class LA, class TB, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  float out[M * N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = c.x[i * N + j];
      for (int k = 0; k < K; ++k) s = std::fma(a.x[i * K + k], b.x[k * N + j], s);
      out[i * N + j] = s;
    }
  std::copy(out, out + M * N, d.x);
}
// A warp-collective store: lane 0 writes the tile (every lane holds the same one).
template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  if (gb_emu::linear_thread % 32 == 0)
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c) p[layout == mem_row_major ? r * ldm + c : c * ldm + r] = f.x[r * N + c];
  __syncwarp();
}
// Round to TF32 (10 explicit mantissa bits), to nearest with ties away from zero as cvt.rna.tf32.f32 does.
inline float __float_to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  uint32_t b;
  std::memcpy(&b, &v, 4);
  b = (b + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &b, 4);
  return v;
}
}  // namespace nvcuda::wmma
