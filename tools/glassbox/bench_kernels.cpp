// glassbox bench kernels: the kernel-research workbench. Every registered variant of an operator (Backend::variants)
// runs over a list of problems (a model's convolutions at a batch size, or shapes given on the command line), is
// checked against a float64 reference, and is timed; the report gives per (problem, variant) the median time,
// GFLOP/s, achieved bandwidth, the fractions of the device's peaks, and the time ratios to the first variant and
// to cuDNN (conv2d on CUDA, where the "cudnn" variant is built and loads). docs/kernels.md describes its use.
//
//   conv2d  y = act(conv(x, w) + bias) as the engine calls it (kernels.h); reference: the CPU backend's "direct"
//           variant (the definition loop by loop, float64 accumulation).
//           FLOPs = 2 x outputs x (C/G x KH x KW); compulsory bytes = 4 x (|x| + |w| + |bias| + |y|).
//   sgemm   the CPU GEMM micro-kernels (C = A B, A [M, K], B [K, N], through Backend::gemm); reference: a float64
//           loop. FLOPs = 2 M N K; bytes = 4 (MK + KN + MN). Shapes from a model: its convolutions as im2col GEMMs
//           (M = output channels per group, N = images x output pixels, K = C/G x KH x KW; depthwise layers have
//           no GEMM).
//
// Check: max|got - ref| / max|ref| against the tolerances of tests/kernels/test_backends.cpp (fp32 2e-5, TF32
// variants 5e-3); a mismatch prints FAIL (and the exit status is 1), a variant that cannot run a problem prints its
// error in the row; both keep going. Timing: one run per variant checks it and warms it up, a second sizes its
// sample (enough calls for --sample-ms), then the variants take turns round by round (machines drift: neighbours
// in time compare better than medians taken minutes apart); the report gives the median per call and the median
// of the per-round ratios. CUDA: the backend's stream is synchronized around each sample of calls.
//
// Device peaks: on a GPU the fp32 FMA peak (engine/device.h) and the memory bandwidth of its memory clock and bus
// width (from the CUDA runtime); on the CPU both are measured by small probes at start (an FMA-throughput loop with
// the widest vector unit on every thread; a STREAM-style triad over arrays far larger than the caches).
#include <immintrin.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "kernels/null_backend.h"
#include "tools/glassbox/args.h"
#include "tools/glassbox/bench_util.h"
#include "tools/glassbox/cli_common.h"
#if defined(GLASSBOX_HAS_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace glassbox::tools {

namespace {

using kernels::Backend;
using kernels::ConstView;
using kernels::Conv2dAttrs;
using kernels::View;

// ---- problems ---------------------------------------------------------------------------------------------------

// One timed computation: random inputs of the given shapes, one output, the call under test and its reference.
struct Problem {
  std::string label;
  int64_t count = 1;  // how many steps of the model have this problem
  double flops = 0, bytes = 0;
  std::vector<Shape> inputs;
  Shape output;
  std::function<void(Backend&, const std::vector<ConstView>&, View)> run;
  // The float64 (or float64-accumulated) result on the host, from host inputs.
  std::function<void(const std::vector<ConstView>&, View)> reference;
};

struct ConvShape {
  Shape x, w, y;
  Conv2dAttrs a;
  bool bias = false;
  std::string fused;  // the fused activation's operator as the plan names it ("Relu" for a "Conv+Relu" step)
};

std::string conv_label(const ConvShape& c) {
  auto dims = [](const Shape& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
    return out;
  };
  const Conv2dAttrs& a = c.a;
  std::string l = dims(c.x) + " * " + dims(c.w) + " s" + std::to_string(a.stride_h);
  if (a.stride_w != a.stride_h) l += "x" + std::to_string(a.stride_w);
  if (a.pad_top == a.pad_left && a.pad_top == a.pad_bottom && a.pad_top == a.pad_right)
    l += " p" + std::to_string(a.pad_top);
  else
    l += " p" + std::to_string(a.pad_top) + "," + std::to_string(a.pad_left) + "," + std::to_string(a.pad_bottom) +
         "," + std::to_string(a.pad_right);
  if (a.dilation_h != 1 || a.dilation_w != 1)
    l += " d" + std::to_string(a.dilation_h) + (a.dilation_w != a.dilation_h ? "x" + std::to_string(a.dilation_w) : "");
  if (a.groups != 1) l += a.groups == c.x[1] ? " dw" : " g" + std::to_string(a.groups);
  if (!c.fused.empty()) l += " +" + c.fused;
  if (!c.bias) l += " nobias";
  return l;
}

// Records the convolutions a plan's steps call, with the shapes and attributes (fused activation included) the
// executor passes: the engine's own attribute extraction, no second reading of the ONNX attributes here.
class ConvRecorder final : public kernels::NullBackend {
 public:
  std::vector<ConvShape> calls;
  void conv2d(const Conv2dAttrs& a, ConstView x, ConstView w, ConstView b, View y) override {
    calls.push_back({x.shape, w.shape, y.shape, a, !b.shape.empty(), ""});
  }
};

// The distinct convolutions of a model's plan at `batch`, in order of first use, each with its number of steps.
std::vector<std::pair<ConvShape, int64_t>> model_convolutions(const Model& model, long batch) {
  const Graph& g = model.graph();
  const Plan plan = make_plan(g, {input_shape_at(model, batch)}, {});
  ConvRecorder recorder;
  for (const Step& step : plan.steps) {
    if (step.alias() || g.nodes[step.node].op != "Conv") continue;
    std::vector<ConstView> in;
    std::vector<View> out;
    for (int v : step.inputs) in.push_back(v < 0 ? ConstView{} : ConstView{nullptr, plan.shapes[v], Device::cpu()});
    for (int v : step.outputs) out.push_back(View{nullptr, plan.shapes[v], Device::cpu()});
    step.run(recorder, in, out);
    const size_t plus = step.label.find('+');
    if (!recorder.calls.empty() && plus != std::string::npos) recorder.calls.back().fused = step.label.substr(plus + 1);
  }
  std::vector<std::pair<ConvShape, int64_t>> unique;
  std::map<std::string, size_t> index;
  for (const ConvShape& c : recorder.calls) {
    const std::string key = conv_label(c) + " " + std::to_string(c.a.act.alpha) + " " + std::to_string(c.a.act.beta);
    auto [it, fresh] = index.emplace(key, unique.size());
    if (fresh) unique.push_back({c, 0});
    ++unique[it->second].second;
  }
  return unique;
}

// "a,b,c" -> integers, each in [lo, 2^31); `expected` describes the entry's syntax for the error.
std::vector<int64_t> parse_ints(const std::string& field, int64_t lo, const std::string& entry, const char* expected) {
  std::vector<int64_t> v;
  for (const std::string& s : split_list(field)) {
    const bool digits = !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
    GB_CHECK(digits && std::stol(s) >= lo, "--shapes: bad entry '", entry, "': expected ", expected);
    v.push_back(std::stol(s));
  }
  return v;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

constexpr const char* kConvSyntax =
    "N,C,H,W:M,KH,KW[:stride[,pad[,dilation[,groups]]]] (positive integers, pad >= 0; entries separated by ';'; "
    "e.g. 1,64,56,56:64,3,3:1,1)";

// --shapes for conv2d: "N,C,H,W:M,KH,KW[:stride[,pad[,dilation[,groups]]]];..." (bias on, no activation).
std::vector<std::pair<ConvShape, int64_t>> parse_conv_shapes(const std::string& spec) {
  std::vector<std::pair<ConvShape, int64_t>> out;
  for (const std::string& entry : split_list(spec, ';')) {
    const auto parts = split_list(entry, ':');
    GB_CHECK(parts.size() == 2 || parts.size() == 3, "--shapes: bad entry '", entry, "': expected ", kConvSyntax);
    const auto x = parse_ints(parts[0], 1, entry, kConvSyntax), w = parse_ints(parts[1], 1, entry, kConvSyntax);
    const auto opt = parts.size() == 3 ? parse_ints(parts[2], 0, entry, kConvSyntax) : std::vector<int64_t>{};
    GB_CHECK(x.size() == 4 && w.size() == 3 && opt.size() <= 4, "--shapes: bad entry '", entry, "': expected ",
             kConvSyntax);
    ConvShape c;
    c.a.stride_h = c.a.stride_w = opt.size() > 0 ? opt[0] : 1;
    c.a.pad_top = c.a.pad_left = c.a.pad_bottom = c.a.pad_right = opt.size() > 1 ? opt[1] : 0;
    c.a.dilation_h = c.a.dilation_w = opt.size() > 2 ? opt[2] : 1;
    c.a.groups = opt.size() > 3 ? opt[3] : 1;
    GB_CHECK(c.a.stride_h > 0 && c.a.dilation_h > 0 && c.a.groups > 0, "--shapes: bad entry '", entry,
             "': stride, dilation and groups must be positive");
    GB_CHECK(x[1] % c.a.groups == 0 && w[0] % c.a.groups == 0, "--shapes: bad entry '", entry, "': groups ",
             c.a.groups, " must divide C = ", x[1], " and M = ", w[0]);
    const int64_t pad = c.a.pad_top, span_h = x[2] + 2 * pad - c.a.dilation_h * (w[1] - 1) - 1,
                  span_w = x[3] + 2 * pad - c.a.dilation_w * (w[2] - 1) - 1;
    GB_CHECK(span_h >= 0 && span_w >= 0, "--shapes: bad entry '", entry, "': the ", w[1], "x", w[2],
             " kernel is larger than the padded ", x[2], "x", x[3], " input");
    c.x = {x[0], x[1], x[2], x[3]};
    c.w = {w[0], x[1] / c.a.groups, w[1], w[2]};
    c.y = {x[0], w[0], span_h / c.a.stride_h + 1, span_w / c.a.stride_w + 1};
    c.bias = true;
    c.a.constant_weights = true;  // as a model's weights are (prepared once, then reused)
    out.push_back({c, 1});
  }
  GB_CHECK(!out.empty(), "--shapes: no shapes given; expected ", kConvSyntax);
  return out;
}

Problem conv_problem(const ConvShape& c, int64_t count, Backend& reference) {
  Problem p;
  p.label = conv_label(c);
  p.count = count;
  p.flops = 2.0 * double(numel(c.y)) * double(c.w[1] * c.w[2] * c.w[3]);
  p.bytes = 4.0 * double(numel(c.x) + numel(c.w) + (c.bias ? c.w[0] : 0) + numel(c.y));
  p.inputs = {c.x, c.w};
  if (c.bias) p.inputs.push_back({c.w[0]});
  p.output = c.y;
  const Conv2dAttrs a = c.a;
  const bool bias = c.bias;
  p.run = [a, bias](Backend& b, const std::vector<ConstView>& in, View y) {
    b.conv2d(a, in[0], in[1], bias ? in[2] : ConstView{}, y);
  };
  p.reference = [a, bias, &reference](const std::vector<ConstView>& in, View y) {
    reference.conv2d(a, in[0], in[1], bias ? in[2] : ConstView{}, y);
  };
  return p;
}

constexpr const char* kGemmSyntax = "M,N,K (positive integers; entries separated by ';'; e.g. 64,3136,576)";

Problem gemm_problem(int64_t M, int64_t N, int64_t K, int64_t count, const std::string& origin) {
  Problem p;
  p.label = std::to_string(M) + " x " + std::to_string(N) + " x " + std::to_string(K) + origin;
  p.count = count;
  p.flops = 2.0 * double(M) * double(N) * double(K);
  p.bytes = 4.0 * double(M * K + K * N + M * N);
  p.inputs = {{M, K}, {K, N}};
  p.output = {M, N};
  p.run = [](Backend& b, const std::vector<ConstView>& in, View y) {
    kernels::GemmAttrs g;
    g.beta = 0.f;
    b.gemm(g, in[0], in[1], ConstView{}, y);
  };
  p.reference = [M, N, K](const std::vector<ConstView>& in, View y) {
    std::vector<double> row(static_cast<size_t>(N));
    for (int64_t i = 0; i < M; ++i) {
      std::fill(row.begin(), row.end(), 0.0);
      for (int64_t k = 0; k < K; ++k) {
        const double a = in[0].data[i * K + k];
        const float* b = in[1].data + k * N;
        for (int64_t j = 0; j < N; ++j) row[j] += a * b[j];
      }
      for (int64_t j = 0; j < N; ++j) y.data[i * N + j] = static_cast<float>(row[j]);
    }
  };
  return p;
}

// --shapes for sgemm: "M,N,K;...".
std::vector<Problem> parse_gemm_shapes(const std::string& spec) {
  std::vector<Problem> out;
  for (const std::string& entry : split_list(spec, ';')) {
    const auto v = parse_ints(entry, 1, entry, kGemmSyntax);
    GB_CHECK(v.size() == 3, "--shapes: bad entry '", entry, "': expected ", kGemmSyntax);
    out.push_back(gemm_problem(v[0], v[1], v[2], 1, ""));
  }
  GB_CHECK(!out.empty(), "--shapes: no shapes given; expected ", kGemmSyntax);
  return out;
}

// A model's convolutions as the GEMMs of im2col (per image batch and group), distinct, with their step counts.
std::vector<Problem> gemms_of(const std::vector<std::pair<ConvShape, int64_t>>& convs) {
  std::vector<Problem> out;
  std::map<std::string, size_t> index;
  for (const auto& [c, count] : convs) {
    const int64_t G = c.a.groups;
    if (G == c.x[1] && c.w[1] == 1) continue;  // depthwise: a direct loop, no GEMM
    const int64_t M = c.w[0] / G, N = c.y[0] * c.y[2] * c.y[3], K = c.w[1] * c.w[2] * c.w[3];
    const std::string key = std::to_string(M) + "," + std::to_string(N) + "," + std::to_string(K);
    auto [it, fresh] = index.emplace(key, out.size());
    if (fresh) out.push_back(gemm_problem(M, N, K, 0, "  (" + conv_label(c) + ")"));
    out[it->second].count += count * G;
  }
  GB_CHECK(!out.empty(), "the model has no convolution that runs as a GEMM");
  return out;
}

// ---- device peaks -----------------------------------------------------------------------------------------------

struct Peaks {
  double gflops = 0, gbps = 0;  // 0: unknown
  std::string note;             // how they were obtained
};

// Runs fn(t) for t in [0, threads) on threads started together; the wall-clock ms from the start to the last end.
double timed_on_threads(int threads, const std::function<void(int)>& fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      fn(t);
    });
  while (ready.load() < threads) std::this_thread::yield();
  const double t0 = now_ms();
  go = true;
  for (auto& th : pool) th.join();
  return now_ms() - t0;
}

// FMA throughput probes: kChains independent multiply-add chains (enough to cover the FMA latency on two ports),
// `iters` steps each; they return a sum so that the work is not optimized away. FLOPs = iters x chains x lanes x 2.
constexpr int kChains = 12;

__attribute__((target("avx512f"))) float fma_avx512(int64_t iters) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(0.001f * float(j));
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], m, c);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters) {
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(0.001f * float(j));
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], m, c);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

float fma_generic(int64_t iters) {  // 4-wide multiply + add (SSE2), as the compiler vectorizes it
  float acc[kChains][4];
  for (int j = 0; j < kChains; ++j)
    for (int l = 0; l < 4; ++l) acc[j][l] = 0.001f * float(j + l);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < kChains; ++j)
      for (int l = 0; l < 4; ++l) acc[j][l] = acc[j][l] * 0.999999f + 1e-6f;
  float s = 0;
  for (auto& a : acc)
    for (float v : a) s += v;
  return s;
}

// The fp32 FMA peak of `threads` threads with the widest vector unit this CPU has (best of 3 runs).
double measure_cpu_gflops(int threads, std::string& isa) {
  __builtin_cpu_init();
  float (*probe)(int64_t) = fma_generic;
  int lanes = 4;
  isa = "SSE2 multiply+add";
  if (__builtin_cpu_supports("avx512f")) probe = fma_avx512, lanes = 16, isa = "AVX-512 FMA";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    probe = fma_avx2, lanes = 8, isa = "AVX2 FMA";
  constexpr int64_t kIters = 20'000'000;
  std::vector<float> sink(static_cast<size_t>(threads));
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double ms = timed_on_threads(threads, [&](int t) { sink[t] = probe(kIters); });
    best = std::max(best, double(threads) * kIters * kChains * lanes * 2 / (ms * 1e6));
  }
  return best;
}

// STREAM's triad a = b + s c on `threads` threads over arrays of 2^24 floats each (64 MiB: far beyond the caches),
// counting 3 x 4 bytes per element (the STREAM convention: write-allocate traffic not counted). Best of 5.
double measure_cpu_gbps(int threads) {
  constexpr int64_t n = int64_t(1) << 24;
  std::vector<float> a(n), b(n, 1.f), c(n, 2.f);
  const int64_t per = (n + threads - 1) / threads;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double ms = timed_on_threads(threads, [&](int t) {
      const int64_t lo = t * per, hi = std::min(n, lo + per);
      for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 0.5f * c[i];
    });
    best = std::max(best, 3.0 * 4.0 * double(n) / (ms * 1e6));
  }
  return best;
}

Peaks cpu_peaks(int threads) {
  Peaks p;
  std::string isa;
  p.gflops = measure_cpu_gflops(threads, isa);
  p.gbps = measure_cpu_gbps(threads);
  p.note = "measured on this machine at start, not datasheet values: fp32 " + isa +
           " throughput and a STREAM triad, " + std::to_string(threads) + " threads";
  return p;
}

Peaks cuda_peaks(int index) {
  Peaks p;
  const CudaDeviceInfo info = cuda_device_info(index);
  p.gflops = info.fp32_peak_tflops() * 1e3;
  std::string bandwidth = "memory bandwidth unknown (no fraction of it is given)";
#if defined(GLASSBOX_HAS_CUDA)
  int mem_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, index) == cudaSuccess &&
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, index) == cudaSuccess && mem_khz > 0) {
    p.gbps = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // double data rate x clock x bus width
    bandwidth = "memory bandwidth = 2 x memory clock x bus width (theoretical)";
  }
  cudaGetLastError();
#endif
  p.note = info.name + ": fp32 peak = FMA lanes x 2 x SMs x clock (theoretical); " + bandwidth;
  return p;
}

// ---- measuring --------------------------------------------------------------------------------------------------

struct Options {
  std::string op;
  std::vector<std::string> variants;
  long rounds = 5;
  double sample_ms = 20;
  bool check = true;
};

struct Measurement {
  std::string error;  // the variant could not run the problem (its message)
  bool checked = false, pass = true;
  double max_error = 0, tolerance = 0;
  double ms = 0;                // median per call
  std::vector<double> samples;  // ms per call, one per round
};

bool is_tf32(const std::string& variant) { return variant.find("tf32") != std::string::npos; }
double tolerance_of(const std::string& variant) { return is_tf32(variant) ? 5e-3 : 2e-5; }

// max |got - ref| / max |ref| (infinite where got has a NaN or infinity the reference does not).
double normalized_error(const Tensor& got, const Tensor& ref) {
  double diff = 0, scale = 0;
  const float *g = got.data<float>(), *r = ref.data<float>();
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (!std::isfinite(g[i]) && std::isfinite(r[i])) return INFINITY;
    diff = std::max(diff, std::fabs(double(g[i]) - double(r[i])));
    scale = std::max(scale, std::fabs(double(r[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// Milliseconds per call over `calls` back-to-back calls, waited for at the end.
double time_calls(Backend& b, const Problem& p, const std::vector<ConstView>& in, View y, long calls) {
  const double t0 = now_ms();
  for (long i = 0; i < calls; ++i) p.run(b, in, y);
  b.synchronize();
  return (now_ms() - t0) / double(calls);
}

std::vector<Measurement> measure(Backend& b, const Problem& p, const Options& o, uint32_t seed) {
  std::vector<Tensor> host, device;
  std::vector<ConstView> host_in, device_in;
  for (const Shape& s : p.inputs) {
    host.push_back(random_tensor(s, seed++));
    device.push_back(host.back().to(b.device()));
  }
  for (const Tensor& t : host) host_in.push_back(kernels::view_of(t));
  for (const Tensor& t : device) device_in.push_back(kernels::view_of(t));
  Tensor want;
  if (o.check) {
    want = Tensor::empty(p.output);
    p.reference(host_in, kernels::view_of(want));
  }
  Tensor out = Tensor::empty(p.output, DType::f32, b.device());
  const View y = kernels::view_of(out);
  // NaN in the output before each checked run: a variant that leaves part of it unwritten fails the check.
  const std::vector<float> nans(static_cast<size_t>(numel(p.output)), NAN);

  std::vector<Measurement> m(o.variants.size());
  std::vector<long> calls(o.variants.size(), 1);
  for (size_t v = 0; v < o.variants.size(); ++v) {
    try {
      b.select_variant(o.op, o.variants[v]);
      b.upload(nans.data(), y);
      const double first_ms = time_calls(b, p, device_in, y, 1);  // the checked run, also a warm-up
      if (o.check) {
        m[v].checked = true;
        m[v].max_error = normalized_error(out.to(Device::cpu()), want);
        m[v].tolerance = tolerance_of(o.variants[v]);
        m[v].pass = m[v].max_error <= m[v].tolerance;
      }
      const double ms = std::min(first_ms, time_calls(b, p, device_in, y, 1));
      calls[v] = std::clamp(long(o.sample_ms / std::max(ms, 1e-3)), 1L, 10000L);
    } catch (const Error& e) {
      m[v].error = e.what();
    }
  }
  for (long r = 0; r < o.rounds; ++r)
    for (size_t v = 0; v < o.variants.size(); ++v) {
      if (!m[v].error.empty()) continue;
      b.select_variant(o.op, o.variants[v]);
      m[v].samples.push_back(time_calls(b, p, device_in, y, calls[v]));
    }
  for (Measurement& x : m) x.ms = median(x.samples);
  b.release_prepared();  // this problem's weights are freed now; the next one's may take their address
  return m;
}

// Median over rounds of a's time / b's time (neighbours in time compare better than medians); 0 if either is absent.
double ratio(const Measurement& a, const Measurement& b) {
  if (a.samples.empty() || b.samples.empty()) return 0;
  std::vector<double> r;
  for (size_t i = 0; i < a.samples.size() && i < b.samples.size(); ++i) r.push_back(a.samples[i] / b.samples[i]);
  return median(r);
}

// ---- report -----------------------------------------------------------------------------------------------------

// The cuDNN yardstick of a variant, as an index into the variant list (-1: none among the measured variants).
int yardstick(const std::vector<std::string>& variants, const std::string& v) {
  int fp32 = -1, tf = -1;
  for (size_t i = 0; i < variants.size(); ++i) {
    if (variants[i] == "cudnn") fp32 = int(i);
    if (variants[i] == "cudnn_tf32") tf = int(i);
  }
  return is_tf32(v) && tf >= 0 ? tf : fp32;
}

// One number in printf format `f`.
std::string format(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// A time ratio as "0.87", or "—" where there is none.
std::string times(double ratio) { return ratio > 0 ? format("%.2f", ratio) : "—"; }

// "12.3%" of a peak, or "—" where the peak is unknown.
std::string percent(double value, double peak) { return peak > 0 ? format("%.1f%%", 100 * value / peak) : "—"; }

std::string check_cell(const Measurement& m) {
  if (!m.error.empty()) return "error: " + m.error;
  if (!m.checked) return "not checked";
  char b[64];
  std::snprintf(b, sizeof b, "%s %.1e", m.pass ? "ok" : "FAIL", m.max_error);
  return b;
}

struct Report {
  std::string json;
  int failures = 0;
  std::vector<double> total_ms, total_gflop;  // per variant, weighted by the problems' counts
  std::vector<int> problems_run;
};

void print_rows(size_t index, const Problem& p, const std::vector<Measurement>& m, const Options& o,
                const Peaks& peaks, const std::string& device_name, bool cudnn_column, Report& r) {
  for (size_t v = 0; v < m.size(); ++v) {
    const Measurement& x = m[v];
    const std::string& name = o.variants[v];
    std::printf("| %zu | %s | %lld | %.3f | %s | %s |", index, p.label.c_str(), static_cast<long long>(p.count),
                p.flops / 1e9, name.c_str(), check_cell(x).c_str());
    if (x.checked && !x.pass) ++r.failures;
    const double gflops = x.ms > 0 ? p.flops / (x.ms * 1e6) : 0, gbps = x.ms > 0 ? p.bytes / (x.ms * 1e6) : 0;
    const double vs_first = ratio(x, m[0]);
    const int yard = yardstick(o.variants, name);
    const double vs_cudnn = yard >= 0 ? ratio(x, m[yard]) : 0;
    if (x.ms > 0) {
      std::printf(" %.3f | %.1f | %.1f | %s | %s |", x.ms, gflops, gbps, percent(gflops, peaks.gflops).c_str(),
                  percent(gbps, peaks.gbps).c_str());
      std::printf(" %s |", times(vs_first).c_str());
      if (cudnn_column) std::printf(" %s |", times(vs_cudnn).c_str());
      r.total_ms[v] += x.ms * double(p.count);
      r.total_gflop[v] += p.flops / 1e9 * double(p.count);
      ++r.problems_run[v];
    } else {
      std::printf(" — | — | — | — | — | — |%s", cudnn_column ? " — |" : "");
    }
    std::printf("\n");
    r.json += std::string(r.json.size() > 1 ? ",\n " : "") + "{\"op\": \"" + o.op + "\", \"device\": \"" +
              json_escape(device_name) + "\", \"problem\": \"" + p.label + "\", \"count\": " +
              std::to_string(p.count) + ", \"gflop\": " + json_number(p.flops / 1e9) + ", \"variant\": \"" + name +
              "\", \"check\": \"" + (!x.error.empty() ? "error" : !x.checked ? "not checked" : x.pass ? "ok" : "FAIL") +
              "\", \"error\": \"" + json_escape(x.error) + "\", \"max_error\": " + json_number(x.max_error) +
              ", \"ms\": " + json_number(x.ms) + ", \"gflops\": " + json_number(gflops) + ", \"gbps\": " +
              json_number(gbps) + ", \"peak_flops_fraction\": " +
              json_number(peaks.gflops > 0 ? gflops / peaks.gflops : 0) +
              ", \"peak_bandwidth_fraction\": " + json_number(peaks.gbps > 0 ? gbps / peaks.gbps : 0) +
              ", \"ratio_to_first\": " + json_number(vs_first) + ", \"ratio_to_cudnn\": " + json_number(vs_cudnn) + "}";
  }
  std::fflush(stdout);
}

void print_summary(const Options& o, size_t problems, const Report& r) {
  std::printf("\n| variant | problems run | total ms (each x its count) | GFLOP/s over them | vs %s (total ms) |\n"
              "|---|---|---|---|---|\n",
              o.variants[0].c_str());
  for (size_t v = 0; v < o.variants.size(); ++v) {
    const bool all = r.problems_run[v] == int(problems);
    std::printf("| %s | %d of %zu | %.3f | %.1f | %s |\n", o.variants[v].c_str(), r.problems_run[v], problems,
                r.total_ms[v], r.total_ms[v] > 0 ? r.total_gflop[v] / r.total_ms[v] * 1e3 : 0.0,
                all && r.problems_run[0] == int(problems) && r.total_ms[0] > 0
                    ? times(r.total_ms[v] / r.total_ms[0]).c_str()
                    : "— (not every problem ran)");
  }
}

// The problems: a model's distinct convolutions at `batch` (or their im2col GEMMs), or --shapes. `source` says
// which; conv2d problems check against `reference`, which must outlive them.
std::vector<Problem> problems_for(const Args& a, const Options& o, long batch, Backend& reference,
                                  std::string& source) {
  std::vector<Problem> problems;
  if (!a.get("shapes").empty()) {
    source = "given shapes";
    if (o.op == "sgemm") return parse_gemm_shapes(a.get("shapes"));
    for (const auto& [c, count] : parse_conv_shapes(a.get("shapes"))) {
      GB_CHECK(o.op != "depthwise" || (c.a.groups == c.x[1] && c.w[1] == 1), "--shapes: --op depthwise takes "
               "depthwise convolutions (groups = C), got groups ", c.a.groups, " with C = ", c.x[1]);
      problems.push_back(conv_problem(c, count, reference));
    }
    return problems;
  }
  const auto model = Model::load(a.positional[0]);
  const auto convs = model_convolutions(*model, batch);
  GB_CHECK(!convs.empty(), a.positional[0], " has no convolution");
  source = model_label(a.positional[0]) + " at batch " + std::to_string(batch);
  if (o.op == "sgemm") return gemms_of(convs);
  for (const auto& [c, count] : convs)  // --op depthwise: only the convolutions with one group per channel
    if (o.op != "depthwise" || (c.a.groups == c.x[1] && c.w[1] == 1)) problems.push_back(conv_problem(c, count, reference));
  GB_CHECK(!problems.empty(), a.positional[0], " has no depthwise convolution");
  return problems;
}

// What was run, the peaks and how they were obtained, what the check and the ratios mean, and the table's header.
void print_header(const Options& o, const std::string& device_name, const Peaks& peaks, size_t problems,
                  const std::string& source, bool cudnn_column) {
  std::printf("kernel workbench: %s on %s, %zu distinct problems from %s; variants: %s\n", o.op.c_str(),
              device_name.c_str(), problems, source.c_str(), join(o.variants).c_str());
  std::printf("peaks: fp32 %.1f GFLOP/s, memory %s (%s)\n", peaks.gflops,
              peaks.gbps > 0 ? format("%.1f GB/s", peaks.gbps).c_str() : "unknown", peaks.note.c_str());
  if (o.check)
    std::printf("check: max|got - ref| / max|ref| against %s; tolerance 2e-5 (TF32 variants 5e-3)\n",
                o.op != "sgemm" ? "the CPU backend's direct convolution (float64 accumulation)" : "a float64 GEMM");
  else
    std::printf("check: skipped (--no-check)\n");
  std::printf("time: median ms per call over %ld interleaved rounds; \"vs %s\" and \"vs cuDNN\" are medians of "
              "per-round time ratios (below 1: faster)\n",
              o.rounds, o.variants[0].c_str());
  if (o.op == "sgemm")
    std::printf("no cuBLAS ratio: the sgemm micro-kernels are CPU kernels and glassbox has no BLAS to compare with\n");
  else if (!cudnn_column)
    std::printf("no cuDNN ratio: cuDNN is a comparison on CUDA devices only (the \"cudnn\" variant); conv2d has no "
                "cuBLAS comparison\n");
  std::printf("\n| # | problem | count | GFLOP | variant | check | ms | GFLOP/s | GB/s | %% of peak FLOP/s "
              "| %% of peak GB/s | vs %s |%s\n|---|---|---|---|---|---|---|---|---|---|---|---|%s\n",
              o.variants[0].c_str(), cudnn_column ? " vs cuDNN |" : "", cudnn_column ? "---|" : "");
}

}  // namespace

int cmd_bench_kernels(const Args& a) {
  GB_CHECK(a.positional.size() <= 1, "bench kernels takes at most one MODEL.onnx");
  Options o;
  o.op = a.get("op", "conv2d");
  GB_CHECK(o.op == "conv2d" || o.op == "depthwise" || o.op == "sgemm",
           "--op: expected conv2d, depthwise or sgemm, got '", o.op, "'");
  GB_CHECK(!a.positional.empty() || !a.get("shapes").empty(), "bench kernels takes MODEL.onnx or --shapes SPEC");
  o.rounds = a.integer("iters", 5, 1, 1 << 20);
  o.sample_ms = double(a.integer("sample-ms", 20, 1, 600000));
  o.check = !a.flag("no-check");
  const long batch = a.integer("batch", 1, 1, 4096);
  const Device device = Device::parse(a.get("device", "cpu"));
  const int threads = int(a.integer("threads", 0, 0, 1024));

  auto backend = kernels::make_backend(device, threads);
  const std::vector<std::string> registered = backend->variants(o.op);
  GB_CHECK(!registered.empty(), "the ", device.str(), " backend has no registered variants of ", o.op);
  o.variants = a.get("variants").empty() ? registered : split_list(a.get("variants"));
  for (const std::string& v : o.variants)
    GB_CHECK(std::find(registered.begin(), registered.end(), v) != registered.end(), "--variants: unknown ", o.op,
             " variant '", v, "' on ", device.str(), " (registered: ", join(registered), ")");

  auto reference = kernels::make_cpu_backend(0);
  reference->select_variant("conv2d", "direct");
  std::string source;
  const std::vector<Problem> problems = problems_for(a, o, batch, *reference, source);

  std::string device_name = device.str();
  Peaks peaks;
  if (device.is_cpu()) {
    const int used = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
    device_name = "cpu (" + std::to_string(used) + " threads)";
    peaks = cpu_peaks(used);
  } else {
    peaks = cuda_peaks(device.index);
    device_name = cuda_device_info(device.index).name;
  }
  const bool cudnn_column = std::any_of(o.variants.begin(), o.variants.end(),
                                        [](const std::string& v) { return v.rfind("cudnn", 0) == 0; });
  print_header(o, device_name, peaks, problems.size(), source, cudnn_column);

  Report r;
  r.json = "[";
  r.total_ms.assign(o.variants.size(), 0);
  r.total_gflop.assign(o.variants.size(), 0);
  r.problems_run.assign(o.variants.size(), 0);
  for (size_t i = 0; i < problems.size(); ++i) {
    const auto m = measure(*backend, problems[i], o, uint32_t(1000 * i + 1));
    print_rows(i, problems[i], m, o, peaks, device_name, cudnn_column, r);
  }
  print_summary(o, problems.size(), r);
  if (o.check)
    std::printf("\n%s\n", r.failures ? (std::to_string(r.failures) + " checks FAILED").c_str() : "all checks passed");
  if (!a.get("json").empty()) {
    std::ofstream f(a.get("json"));
    GB_CHECK(f, "cannot write ", a.get("json"));
    f << r.json << "]\n";
  }
  return r.failures ? 1 : 0;
}

}  // namespace glassbox::tools
