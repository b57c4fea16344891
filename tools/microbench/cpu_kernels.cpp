// Google Benchmark microbenchmarks of the CPU kernels, through the Backend interface (what the engine calls):
//   conv2d/<variant>/<shape>/threads:<n>   every registered CPU convolution variant (Backend::variants) on
//                                          resnet50's 3x3 and 1x1 layers, a mobilenet_v2 depthwise layer and the
//                                          7x7 stem; FLOP/s in the "FLOPS" counter (2 x outputs x C/G x KH x KW)
//   sgemm/<micro-kernel>/<M>x<N>x<K>/...   every sgemm micro-kernel this CPU runs, on im2col GEMMs of resnet50
//   pool2d, batchnorm, activation, binary, softmax, cam                 the other main kernels (bytes/s)
// Each benchmark makes its own backend and random inputs when it runs (nothing is shared between benchmarks).
// Threads: 1 and every hardware thread. Programs, not tests: `microbench_cpu_kernels --benchmark_filter=conv2d`;
// a ctest smoke run (microbench_smoke) checks that they run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/kernels.h"

namespace {

using glassbox::Device;
using glassbox::Shape;
using namespace glassbox::kernels;

// Random host buffers and their views.
struct Buffers {
  std::vector<std::vector<float>> data;
  std::vector<ConstView> in;
  std::vector<float> out_data;
  View out;
  Buffers(const std::vector<Shape>& inputs, const Shape& output, bool positive = false) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(positive ? 0.5f : -1.f, positive ? 1.5f : 1.f);
    for (const Shape& s : inputs) {
      data.emplace_back(static_cast<size_t>(glassbox::numel(s)));
      for (float& v : data.back()) v = dist(rng);
      in.push_back({data.back().data(), s, Device::cpu()});
    }
    out_data.resize(static_cast<size_t>(glassbox::numel(output)));
    out = {out_data.data(), output, Device::cpu()};
  }
};

using Call = std::function<void(Backend&, const Buffers&)>;

// One benchmark: a fresh backend with `threads` threads (and a variant chosen), the buffers, then the timed calls.
// FLOPs and bytes per call become counters (FLOP/s; bytes/s).
void register_kernel(const std::string& name, int threads, const std::string& op, const std::string& variant,
                     std::vector<Shape> inputs, Shape output, double flops, double bytes, Call call,
                     bool positive = false) {
  benchmark::RegisterBenchmark(
      (name + "/threads:" + std::to_string(threads)).c_str(),
      [=](benchmark::State& state) {
        auto backend = make_cpu_backend(threads);
        if (!variant.empty()) backend->select_variant(op, variant);
        const Buffers b(inputs, output, positive);
        for (auto _ : state) {
          call(*backend, b);
          benchmark::DoNotOptimize(b.out_data.data());
          benchmark::ClobberMemory();
        }
        if (flops > 0)
          state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
        state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
      })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

struct ConvShape {
  const char* name;
  int64_t N, C, H, W, M, K, stride, pad, groups;
};

void register_conv(int threads) {
  const ConvShape shapes[] = {
      {"resnet50_3x3_64", 1, 64, 56, 56, 64, 3, 1, 1, 1},
      {"resnet50_3x3_256", 1, 256, 14, 14, 256, 3, 1, 1, 1},
      {"resnet50_1x1_256to64", 1, 256, 56, 56, 64, 1, 1, 0, 1},
      {"mobilenet_v2_dw3x3_144", 1, 144, 56, 56, 144, 3, 1, 1, 144},
      {"stem_7x7_s2", 1, 3, 224, 224, 64, 7, 2, 3, 1},
  };
  for (const std::string& variant : make_cpu_backend(1)->variants("conv2d"))
    for (const ConvShape& s : shapes) {
      Conv2dAttrs a;
      a.stride_h = a.stride_w = s.stride;
      a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = s.pad;
      a.groups = s.groups;
      a.act.kind = Activation::relu;
      const int64_t OH = (s.H + 2 * s.pad - s.K) / s.stride + 1, OW = (s.W + 2 * s.pad - s.K) / s.stride + 1;
      const Shape x{s.N, s.C, s.H, s.W}, w{s.M, s.C / s.groups, s.K, s.K}, y{s.N, s.M, OH, OW};
      const double flops = 2.0 * double(glassbox::numel(y)) * double(s.C / s.groups * s.K * s.K);
      const double bytes = 4.0 * double(glassbox::numel(x) + glassbox::numel(w) + s.M + glassbox::numel(y));
      register_kernel("conv2d/" + variant + "/" + s.name, threads, "conv2d", variant, {x, w, {s.M}}, y, flops, bytes,
                      [a](Backend& b, const Buffers& d) { b.conv2d(a, d.in[0], d.in[1], d.in[2], d.out); });
    }
}

void register_sgemm(int threads) {
  const int64_t shapes[][3] = {{64, 3136, 576}, {256, 196, 2304}, {512, 49, 4608}, {64, 3136, 256}};
  for (const std::string& kernel : make_cpu_backend(1)->variants("sgemm"))
    for (const auto& s : shapes) {
      const int64_t M = s[0], N = s[1], K = s[2];
      GemmAttrs g;
      g.beta = 0.f;
      register_kernel("sgemm/" + kernel + "/" + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K),
                      threads, "sgemm", kernel, {{M, K}, {K, N}}, {M, N}, 2.0 * M * N * K,
                      4.0 * (M * K + K * N + M * N),
                      [g](Backend& b, const Buffers& d) { b.gemm(g, d.in[0], d.in[1], ConstView{}, d.out); });
    }
}

void register_others(int threads) {
  const Shape act{1, 64, 112, 112}, half{1, 64, 56, 56}, wide{1, 256, 56, 56}, channels{64};
  const double act_bytes = 4.0 * double(glassbox::numel(act));
  Pool2dAttrs pool;
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride_h = pool.stride_w = 2;
  pool.pad_top = pool.pad_left = pool.pad_bottom = pool.pad_right = 1;
  register_kernel("pool2d/max3x3_s2/1x64x112x112", threads, "", "", {act}, half, 0,
                  act_bytes + 4.0 * double(glassbox::numel(half)),
                  [pool](Backend& b, const Buffers& d) { b.pool2d(pool, d.in[0], d.out); });
  // batchnorm's variance (input 4) positive
  register_kernel("batchnorm/1x64x112x112", threads, "", "", {act, channels, channels, channels, channels}, act, 0,
                  2 * act_bytes,
                  [](Backend& b, const Buffers& d) {
                    b.batchnorm(1e-5f, d.in[0], d.in[1], d.in[2], d.in[3], d.in[4], d.out);
                  },
                  true);
  ActivationAttrs relu{Activation::relu}, hswish{Activation::hard_swish};
  register_kernel("activation/relu/1x64x112x112", threads, "", "", {act}, act, 0, 2 * act_bytes,
                  [relu](Backend& b, const Buffers& d) { b.activation(relu, d.in[0], d.out); });
  register_kernel("activation/hard_swish/1x64x112x112", threads, "", "", {act}, act, 0, 2 * act_bytes,
                  [hswish](Backend& b, const Buffers& d) { b.activation(hswish, d.in[0], d.out); });
  const double wide_bytes = 4.0 * double(glassbox::numel(wide));
  register_kernel("binary/add_relu/1x256x56x56", threads, "", "", {wide, wide}, wide, 0, 3 * wide_bytes,
                  [relu](Backend& b, const Buffers& d) { b.binary(BinaryOp::add, relu, d.in[0], d.in[1], d.out); });
  register_kernel("binary/mul_broadcast/1x256x56x56", threads, "", "", {wide, {1, 256, 1, 1}}, wide, 0, 2 * wide_bytes,
                  [](Backend& b, const Buffers& d) { b.binary(BinaryOp::mul, {}, d.in[0], d.in[1], d.out); });
  register_kernel("softmax/32x1000", threads, "", "", {{32, 1000}}, {32, 1000}, 0, 2 * 4.0 * 32 * 1000,
                  [](Backend& b, const Buffers& d) { b.softmax(1, d.in[0], d.out); });
  const Shape layer4{8, 2048, 7, 7};
  for (auto [method, name] : {std::pair{CamMethod::gradcam, "gradcam"}, std::pair{CamMethod::gradcampp, "gradcampp"}})
    register_kernel(std::string("cam/") + name + "/8x2048x7x7", threads, "", "", {layer4, layer4}, {8, 7, 7}, 0,
                    2 * 4.0 * double(glassbox::numel(layer4)),
                    [method = method](Backend& b, const Buffers& d) { b.cam(method, 1, d.in[0], d.in[1], d.out); });
}

}  // namespace

int main(int argc, char** argv) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> thread_counts = {1};
  if (hardware > 1) thread_counts.push_back(hardware);
  for (int threads : thread_counts) {
    register_conv(threads);
    register_sgemm(threads);
    register_others(threads);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return ran > 0 ? 0 : 1;  // a filter that matches nothing is an error (the smoke test must run something)
}
