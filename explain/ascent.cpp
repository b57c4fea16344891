#include "explain/ascent.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/element_formulas.h"

namespace glassbox::explain {

namespace {
using kernels::ConstView;
using kernels::View;
using kernels::view_of;

constexpr double kPi = 3.14159265358979323846;

const std::pair<TermKind, const char*> kKinds[] = {{TermKind::channel, "channel"},
                                                    {TermKind::neuron, "neuron"},
                                                    {TermKind::logit, "logit"},
                                                    {TermKind::probability, "probability"},
                                                    {TermKind::energy, "energy"}};

// A view of `count` rows of t starting at `first` (dimension 0), or of one row with the given shape.
View rows(Tensor& t, int64_t first, int64_t count) {
  Shape s = t.shape();
  const int64_t row = t.numel() / s[0];
  s[0] = count;
  return {t.data<float>() + first * row, s, t.device()};
}
ConstView rows(const Tensor& t, int64_t first, int64_t count) {
  Shape s = t.shape();
  const int64_t row = t.numel() / s[0];
  s[0] = count;
  return {t.data<float>() + first * row, s, t.device()};
}
View reshaped(Tensor& t, const Shape& s) { return {t.data<float>(), s, t.device()}; }

// numpy.fft.fftfreq(n)[i] * n: the signed frequency index.
int64_t signed_frequency(int64_t i, int64_t n) { return i <= (n - 1) / 2 ? i : i - n; }
}  // namespace

std::string Term::name() const {
  std::string out = "?";
  for (const auto& [k, n] : kKinds)
    if (k == kind) out = n;
  if (!layer.empty()) out += "_" + layer;
  if (kind != TermKind::energy) out += "_" + std::to_string(index);
  return out;
}

std::string Objective::name() const {
  std::string out;
  for (const auto& [w, t] : terms) out += (out.empty() ? "" : "+") + t.name();
  return out;
}

Parameterization parse_parameterization(const std::string& name) {
  if (name == "pixel") return Parameterization::pixel;
  if (name == "fourier") return Parameterization::fourier;
  fail("unknown parameterization '", name, "' (available: pixel, fourier)");
}

// ---- The Fourier basis. image_linear[y, x] = irfft2(S)[y, x] with S = scale * (P_re + i P_im), as numpy's irfft2
// (the imaginary parts of the columns v = 0 and v = W/2 do not contribute; the others count twice, their Hermitian
// partners being implied):
//   I[y, x] = Re sum_u e^{2 pi i u y / H} Q[u, x],   Q[u, x] = sum_v c_v S[u, v] e^{2 pi i v x / W} / (H W),
// c_v = 1 for v = 0 and (W even) v = W/2, else 2. With P's rows [re(0..Wf) im(0..Wf)], the first product Q = P x A
// (A [2 Wf, 2 W], columns [re(Q) im(Q)]) and, Q [H, 2 W] read as [2 H, W] (rows re(Q_u), im(Q_u) interleaved),
// the second I = B x Q (B [H, 2 H], B[y, 2u] = cos, B[y, 2u + 1] = -sin). Their transposes give the backward.
Dreamer::Fourier Dreamer::Fourier::make(int64_t H, int64_t W) {
  Fourier f;
  f.H = H, f.W = W, f.Wf = W / 2 + 1;
  const int64_t Wf = f.Wf;
  f.A = Tensor::zeros({2 * Wf, 2 * W});
  f.At = Tensor::zeros({2 * W, 2 * Wf});
  float* A = f.A.data<float>();
  float* At = f.At.data<float>();
  const double norm = 1.0 / double(H * W);
  for (int64_t v = 0; v < Wf; ++v) {
    const double c = (v == 0 || (W % 2 == 0 && v == W / 2) ? 1.0 : 2.0) * norm;
    for (int64_t x = 0; x < W; ++x) {
      const double beta = 2 * kPi * double((v * x) % W) / double(W);
      const float cs = float(c * std::cos(beta)), sn = float(c * std::sin(beta));
      const int64_t re = v, im = Wf + v;
      A[re * 2 * W + x] = cs, A[re * 2 * W + W + x] = sn;
      A[im * 2 * W + x] = -sn, A[im * 2 * W + W + x] = cs;
    }
  }
  for (int64_t i = 0; i < 2 * Wf; ++i)
    for (int64_t j = 0; j < 2 * W; ++j) At[j * 2 * Wf + i] = A[i * 2 * W + j];
  f.B = Tensor::zeros({H, 2 * H});
  f.Bt = Tensor::zeros({2 * H, H});
  float* B = f.B.data<float>();
  float* Bt = f.Bt.data<float>();
  for (int64_t y = 0; y < H; ++y)
    for (int64_t u = 0; u < H; ++u) {
      const double alpha = 2 * kPi * double((u * y) % H) / double(H);
      B[y * 2 * H + 2 * u] = float(std::cos(alpha)), B[y * 2 * H + 2 * u + 1] = float(-std::sin(alpha));
    }
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < 2 * H; ++j) Bt[j * H + i] = B[i * 2 * H + j];
  // lucid's fft_image: scale = 1 / max(f, 1 / max(w, h)) (decay_power 1) * sqrt(w h), f = sqrt(fx^2 + fy^2) from
  // numpy's fftfreq (cycles per pixel; rfft2d_freqs); the image is then divided by 4.
  f.scale = Tensor::empty({H, 2 * Wf});
  for (int64_t u = 0; u < H; ++u)
    for (int64_t v = 0; v < Wf; ++v) {
      const double fy = double(signed_frequency(u, H)) / double(H), fx = double(signed_frequency(v, W)) / double(W);
      const double freq = std::max(std::sqrt(fx * fx + fy * fy), 1.0 / double(std::max(H, W)));
      const float s = float(std::sqrt(double(H * W)) / freq / 4.0);
      f.scale.data<float>()[u * 2 * Wf + v] = s, f.scale.data<float>()[u * 2 * Wf + Wf + v] = s;
    }
  // lucid (optvis/param/color.py): color_correlation_svd_sqrt = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05],
  // [0.27, -0.09, 0.03]], divided by its largest column norm, max_norm_svd_sqrt = sqrt(0.26^2 + 0.27^2 + 0.27^2)
  // = 0.46195; rgb = C_normalized x t per pixel (lucid: t_flat @ C_normalized^T).
  const double C[3][3] = {{0.26, 0.09, 0.02}, {0.27, 0.00, -0.05}, {0.27, -0.09, 0.03}};
  double max_norm = 0;
  for (int j = 0; j < 3; ++j)
    max_norm = std::max(max_norm, std::sqrt(C[0][j] * C[0][j] + C[1][j] * C[1][j] + C[2][j] * C[2][j]));
  f.color = Tensor::empty({3, 3});
  f.color_t = Tensor::empty({3, 3});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      f.color.data<float>()[i * 3 + j] = float(C[i][j] / max_norm);
      f.color_t.data<float>()[j * 3 + i] = float(C[i][j] / max_norm);
    }
  return f;
}

// ---- One run's buffers and plans.
struct Dreamer::State {
  int64_t B = 0, H = 0, W = 0, Wf = 0;
  bool fourier = false;
  struct TermPlan {
    int64_t row = 0;
    float weight = 1.f;
    TermKind kind = TermKind::logit;
    int from = 0;         // which seed (Session::backward's `from` value)
    std::string value;    // the layer's value name (capture key), or "" for the logits
    int64_t index = 0;
    Tensor given, cls;    // class terms: [B] (the class at `row`, -1 elsewhere) and [1], on the device
  };
  std::vector<TermPlan> terms;
  std::vector<std::string> from;  // value names
  bool uses_logits = false;
  std::vector<Tensor> seeds;      // per `from` value, allocated at the first run
  Tensor seed_tmp, class_tmp;     // target_seeds' outputs [B, C], [B]
  Tensor ones;                    // for channel means
  Tensor param, m, v, grad;
  Tensor image, moved, x1, x, affine, g_moved, g_image, g_col;
  Tensor scaled, Q, lin, g_lin, g_Q, g_P;  // fourier
  Tensor A, At, Bm, Bt, scale, color, color_t;
  Tensor norm_s, norm_t, blur_w, padded;
  Tensor table;                   // [B, T] objective values of the logged steps
};

Dreamer::Dreamer(std::shared_ptr<const Model> model, SessionOptions session, AscentOptions options)
    : model_(std::move(model)), options_(std::move(options)), session_(model_, std::move(session)) {
  GB_CHECK(model_->input_names().size() == 1, "activation maximization takes single-input models");
  GB_CHECK(options_.height > 0 && options_.width > 0 && options_.steps >= 0, "activation maximization: size ",
           options_.height, "x", options_.width, " and ", options_.steps, " steps");
  input_ = model_->input_names()[0];
  const Shape in = model_->input_shape(0);
  GB_CHECK(in.size() == 4 && (in[1] == 3 || in[1] < 0), "activation maximization takes RGB images [N, 3, H, W]; ",
           input_, " is ", shape_str(in));
  fourier_ = std::make_unique<Fourier>(Fourier::make(options_.height, options_.width));
}

Dreamer::~Dreamer() = default;

Shape Dreamer::parameter_shape(int64_t rows) const {
  if (options_.parameterization == Parameterization::pixel) return {rows, 3, options_.height, options_.width};
  return {rows * 3, options_.height, 2 * (options_.width / 2 + 1)};
}

Tensor Dreamer::initial_parameters(int64_t rows) {
  Tensor p = Tensor::empty(parameter_shape(rows));
  float* d = p.data<float>();
  for (int64_t i = 0; i < p.numel(); ++i) d[i] = options_.init_std * kernels::gaussian_noise(options_.seed, uint64_t(i));
  return session_.place(p);
}

void Dreamer::prepare(const std::vector<Objective>& objectives, State& s) {
  GB_CHECK(!objectives.empty(), "activation maximization: no objective");
  s.B = int64_t(objectives.size());
  s.H = options_.height, s.W = options_.width, s.Wf = options_.width / 2 + 1;
  s.fourier = options_.parameterization == Parameterization::fourier;
  const std::string logits = model_->output_names()[0];
  std::map<std::string, int> from_index;
  auto from_of = [&](const std::string& value) {
    auto it = from_index.find(value);
    if (it != from_index.end()) return it->second;
    s.from.push_back(value);
    return from_index[value] = int(s.from.size() - 1);
  };
  std::vector<std::string> captures;
  // Class and channel indices are checked against the model's shapes before anything is allocated.
  const std::vector<LayerInfo> layers = model_->layers(1);
  auto channels_of = [&](const std::string& value) -> int64_t {
    for (const auto& l : layers)
      if (l.name == value) return l.shape.size() >= 2 ? l.shape[1] : -1;
    return -1;
  };
  for (int64_t b = 0; b < s.B; ++b) {
    GB_CHECK(!objectives[b].terms.empty(), "activation maximization: objective ", b, " has no term");
    for (const auto& [w, t] : objectives[b].terms) {
      State::TermPlan p;
      p.row = b, p.weight = w, p.kind = t.kind, p.index = t.index;
      if (t.kind == TermKind::logit || t.kind == TermKind::probability) {
        const int64_t classes = channels_of(logits);
        GB_CHECK(t.index >= 0 && (classes <= 0 || t.index < classes), "activation maximization: class ", t.index,
                 " is out of range (the model has ", classes, " classes)");
        p.from = from_of(logits);
        s.uses_logits = true;
        std::vector<float> given(size_t(s.B), -1.f);
        given[size_t(b)] = float(t.index);
        p.given = session_.place(Tensor::from_vector<float>({s.B}, given));
        p.cls = session_.place(Tensor::from_vector<float>({1}, {float(t.index)}));
      } else {
        GB_CHECK(!t.layer.empty(), "activation maximization: a ", t.name(), " term needs a layer");
        p.value = model_->resolve(t.layer);
        if (t.kind == TermKind::channel || t.kind == TermKind::neuron) {
          const int64_t channels = channels_of(p.value);
          GB_CHECK(t.index >= 0 && (channels <= 0 || t.index < channels), "activation maximization: channel ", t.index,
                   " of '", t.layer, "' is out of range (it has ", channels, " channels)");
        }
        p.from = from_of(p.value);
        if (std::find(captures.begin(), captures.end(), p.value) == captures.end()) captures.push_back(p.value);
      }
      s.terms.push_back(std::move(p));
    }
  }
  session_.capture(captures);
  session_.track_gradients({input_}, s.from);

  const int64_t B = s.B, H = s.H, W = s.W;
  s.param = session_.allocate(parameter_shape(B));
  s.grad = session_.allocate(parameter_shape(B));
  s.image = session_.allocate({B, 3, H, W});
  s.moved = session_.allocate({B, 3, H, W});
  s.x1 = session_.allocate({B, 3, H, W});
  s.x = session_.allocate({B, 3, H, W});
  s.g_moved = session_.allocate({B, 3, H, W});
  s.g_image = session_.allocate({B, 3, H, W});
  s.g_col = session_.allocate({B, 3, H, W});
  float ns[3], nt[3];
  for (int c = 0; c < 3; ++c) {
    GB_CHECK(options_.std[c] != 0.f, "activation maximization: std 0 for channel ", c);
    ns[c] = 255.f / options_.std[c], nt[c] = -options_.mean[c] / options_.std[c];
  }
  s.norm_s = session_.place(Tensor::from_vector<float>({1, 3, 1, 1}, {ns[0], ns[1], ns[2]}));
  s.norm_t = session_.place(Tensor::from_vector<float>({1, 3, 1, 1}, {nt[0], nt[1], nt[2]}));
  if (s.fourier) {
    const Fourier& f = *fourier_;
    s.A = session_.place(f.A), s.At = session_.place(f.At), s.Bm = session_.place(f.B), s.Bt = session_.place(f.Bt);
    s.scale = session_.place(f.scale), s.color = session_.place(f.color), s.color_t = session_.place(f.color_t);
    s.scaled = session_.allocate({B * 3, H, 2 * s.Wf});
    s.Q = session_.allocate({B * 3, H, 2 * W});
    s.lin = session_.allocate({B * 3, H, W});
    s.g_lin = session_.allocate({B * 3, H, W});
    s.g_Q = session_.allocate({B * 3, H, 2 * W});
    s.g_P = session_.allocate({B * 3, H, 2 * s.Wf});
  } else if (options_.blur_every > 0) {
    std::vector<float> w;
    for (int c = 0; c < 3; ++c)
      for (float k : {1.f, 2.f, 1.f, 2.f, 4.f, 2.f, 1.f, 2.f, 1.f}) w.push_back(k / 16.f);
    s.blur_w = session_.place(Tensor::from_vector<float>({3, 1, 3, 3}, w));
    s.padded = session_.allocate({B, 3, H + 2, W + 2});
  }
}

// param -> image [B, 3, H, W] in (0, 1).
void Dreamer::to_image(State& s) {
  kernels::Backend& k = session_.backend();
  kernels::ActivationAttrs sigmoid;
  sigmoid.kind = kernels::Activation::sigmoid;
  if (!s.fourier) {
    k.activation(sigmoid, view_of(s.param), view_of(s.image));
    return;
  }
  const int64_t B = s.B, H = s.H, W = s.W;
  k.binary(kernels::BinaryOp::mul, {}, view_of(s.param), view_of(s.scale), view_of(s.scaled));
  k.matmul(view_of(s.scaled), view_of(s.A), view_of(s.Q));                                       // [3B, H, 2W]
  k.matmul(view_of(s.Bm), reshaped(s.Q, {B * 3, 2 * H, W}), view_of(s.lin));                     // [3B, H, W]
  k.matmul(view_of(s.color), reshaped(s.lin, {B, 3, H * W}), reshaped(s.g_col, {B, 3, H * W}));  // colour mix
  k.activation(sigmoid, view_of(s.g_col), view_of(s.image));
}

// g_image (d objective / d image) -> grad (d objective / d param).
void Dreamer::image_backward(State& s) {
  kernels::Backend& k = session_.backend();
  kernels::ActivationAttrs sigmoid;
  sigmoid.kind = kernels::Activation::sigmoid;
  const kernels::BackwardRule rule = kernels::BackwardRule::gradient;
  if (!s.fourier) {
    k.activation_backward(sigmoid, {}, view_of(s.image), view_of(s.g_image), view_of(s.grad), rule);
    return;
  }
  const int64_t B = s.B, H = s.H, W = s.W;
  k.activation_backward(sigmoid, {}, view_of(s.image), view_of(s.g_image), view_of(s.g_col), rule);
  k.matmul(view_of(s.color_t), reshaped(s.g_col, {B, 3, H * W}), reshaped(s.g_lin, {B, 3, H * W}));
  k.matmul(view_of(s.Bt), view_of(s.g_lin), reshaped(s.g_Q, {B * 3, 2 * H, W}));
  k.matmul(view_of(s.g_Q), view_of(s.At), view_of(s.g_P));
  k.binary(kernels::BinaryOp::mul, {}, view_of(s.g_P), view_of(s.scale), view_of(s.grad));
}

namespace {

// The random affine map of one row at one step (Backend::affine_resample's params): output pixel o reads
// centre + R(angle) (o - centre) / scale + jitter. Drawn from uniform_noise(seed, (step * B + row) * 4 + k).
void random_affine(const AscentOptions& o, int64_t step, int64_t B, int64_t row, int64_t H, int64_t W, float* p) {
  const uint64_t base = (uint64_t(step) * uint64_t(B) + uint64_t(row)) * 4;
  const uint32_t seed = o.seed ^ 0x5bd1e995u;  // not the stream of the initial parameters
  float u[4];
  for (int k = 0; k < 4; ++k) u[k] = kernels::uniform_noise(seed, base + uint64_t(k));
  const int J = std::max(0, o.jitter);
  const float jx = std::floor(u[0] * float(2 * J + 1)) - float(J), jy = std::floor(u[1] * float(2 * J + 1)) - float(J);
  const float scale = o.scale_min + u[2] * (o.scale_max - o.scale_min);
  const float angle = float((2.0 * u[3] - 1.0) * o.rotate_degrees * kPi / 180.0);
  const float a = std::cos(angle) / scale, b = -std::sin(angle) / scale, d = std::sin(angle) / scale,
              e = std::cos(angle) / scale;
  const float cx = 0.5f * float(W - 1), cy = 0.5f * float(H - 1);
  p[0] = a, p[1] = b, p[2] = cx - a * cx - b * cy + jx;
  p[3] = d, p[4] = e, p[5] = cy - d * cx - e * cy + jy;
}

}  // namespace


AscentEvaluation Dreamer::evaluate(const std::vector<Objective>& objectives, const Tensor& parameters) {
  State s;
  prepare(objectives, s);
  const Tensor p = session_.place(parameters);
  GB_CHECK(p.shape() == s.param.shape(), "evaluate: parameters ", shape_str(p.shape()), ", expected ",
           shape_str(s.param.shape()));
  session_.backend().copy(view_of(p), view_of(s.param));
  s.table = session_.allocate({s.B, 1});
  session_.backend().scale_add(0.f, {}, 0.f, 0.f, view_of(s.table));
  to_image(s);
  step(s, 0, false, false, 0);
  AscentEvaluation e;
  const Tensor t = s.table.to(Device::cpu());
  e.values.assign(t.data<float>(), t.data<float>() + t.numel());
  e.gradient = s.grad;
  return e;
}

Tensor Dreamer::image(const Tensor& parameters) {
  State s;
  s.B = parameters.dim(0) / (options_.parameterization == Parameterization::fourier ? 3 : 1);
  s.H = options_.height, s.W = options_.width, s.Wf = options_.width / 2 + 1;
  s.fourier = options_.parameterization == Parameterization::fourier;
  s.param = session_.place(parameters);
  GB_CHECK(s.param.shape() == parameter_shape(s.B), "image: parameters ", shape_str(s.param.shape()), ", expected ",
           shape_str(parameter_shape(s.B)));
  s.image = session_.allocate({s.B, 3, s.H, s.W});
  if (s.fourier) {
    const Fourier& f = *fourier_;
    s.A = session_.place(f.A), s.Bm = session_.place(f.B);
    s.scale = session_.place(f.scale), s.color = session_.place(f.color);
    s.scaled = session_.allocate({s.B * 3, s.H, 2 * s.Wf});
    s.Q = session_.allocate({s.B * 3, s.H, 2 * s.W});
    s.lin = session_.allocate({s.B * 3, s.H, s.W});
    s.g_col = session_.allocate({s.B, 3, s.H, s.W});
  }
  to_image(s);
  return s.image;
}

AscentResult Dreamer::run(const std::vector<Objective>& objectives) {
  State s;
  prepare(objectives, s);
  kernels::Backend& k = session_.backend();
  const Tensor init = initial_parameters(s.B);
  k.copy(view_of(init), view_of(s.param));
  s.m = session_.allocate(s.param.shape());
  s.v = session_.allocate(s.param.shape());
  k.scale_add(0.f, {}, 0.f, 0.f, view_of(s.m));
  k.scale_add(0.f, {}, 0.f, 0.f, view_of(s.v));
  AscentResult result;
  const int steps = options_.steps, every = std::max(1, options_.log_every);
  for (int t = 0; t < steps; ++t)
    if (t % every == 0 || t == steps - 1) result.steps.push_back(t);
  s.table = session_.allocate({s.B, std::max<int64_t>(1, int64_t(result.steps.size()))});
  k.scale_add(0.f, {}, 0.f, 0.f, view_of(s.table));
  size_t next_log = 0;
  for (int t = 0; t < steps; ++t) {
    to_image(s);
    const bool log = next_log < result.steps.size() && result.steps[next_log] == t;
    step(s, t, options_.transforms, true, log ? int64_t(next_log) : -1);
    if (log) ++next_log;
    k.adam_step(options_.lr, options_.beta1, options_.beta2, options_.epsilon, t + 1, view_of(s.grad), view_of(s.m),
                view_of(s.v), view_of(s.param));
    if (!s.fourier && options_.blur_every > 0 && (t + 1) % options_.blur_every == 0) {
      kernels::PadAttrs pad;
      pad.mode = kernels::PadMode::reflect;
      pad.pads = {0, 0, 1, 1, 0, 0, 1, 1};
      k.pad(pad, view_of(s.param), view_of(s.padded));
      kernels::Conv2dAttrs conv;
      conv.groups = 3;
      k.conv2d(conv, view_of(s.padded), view_of(s.blur_w), {}, view_of(s.param));
    }
  }
  to_image(s);
  result.images = s.image;
  const Tensor table = s.table.to(Device::cpu());
  const int64_t T = table.dim(1);
  for (size_t i = 0; i < result.steps.size(); ++i) {
    std::vector<float> row(size_t(s.B));
    for (int64_t b = 0; b < s.B; ++b) row[size_t(b)] = table.data<float>()[b * T + int64_t(i)];
    result.objective.push_back(std::move(row));
  }
  return result;
}

// One forward and backward at the current parameters: the objective values into column `column` of s.table (when
// column >= 0), the gradient d objective / d param into s.grad (with the regularizers' when `regularize`).
void Dreamer::step(State& s, int64_t step, bool transform, bool regularize, int64_t column) {
  Session& session = session_;
  const AscentOptions& o = options_;
  kernels::Backend& k = session.backend();
  const int64_t B = s.B, H = s.H, W = s.W;
  // Transform, normalize, run.
  const Tensor* moved = &s.image;
  if (transform) {
    std::vector<float> params(size_t(6 * B));
    for (int64_t b = 0; b < B; ++b) random_affine(o, step, B, b, H, W, params.data() + 6 * b);
    s.affine = session.place(Tensor::from_vector<float>({B, 6}, params));
    k.affine_resample(view_of(s.affine), view_of(s.image), view_of(s.moved));
    moved = &s.moved;
  }
  k.binary(kernels::BinaryOp::mul, {}, view_of(*moved), view_of(s.norm_s), view_of(s.x1));
  k.binary(kernels::BinaryOp::add, {}, view_of(s.x1), view_of(s.norm_t), view_of(s.x));
  const Result r = session.run(s.x);
  const Tensor& logits = r.output();

  // Seeds on the device.
  if (s.seeds.empty()) {
    for (const std::string& value : s.from) s.seeds.push_back(session.allocate(
        value == session.model().output_names()[0] ? logits.shape() : r.capture(value).shape()));
    if (s.uses_logits) {
      s.seed_tmp = session.allocate(logits.shape());
      s.class_tmp = session.allocate({B});
    }
    int64_t most = 1;
    for (const auto& p : s.terms)
      if (!p.value.empty()) {
        const Tensor& A = r.capture(p.value);
        most = std::max(most, A.numel() / (A.dim(0) * A.dim(1)));
      }
    s.ones = session.allocate({most});
    k.scale_add(0.f, {}, 0.f, 1.f, view_of(s.ones));
  }
  for (Tensor& seed : s.seeds) k.scale_add(0.f, {}, 0.f, 0.f, view_of(seed));
  for (const auto& p : s.terms) {
    Tensor& seed = s.seeds[size_t(p.from)];
    View cell{s.table.data<float>() + p.row * s.table.dim(1) + std::max<int64_t>(0, column), {1}, s.table.device()};
    if (p.kind == TermKind::logit || p.kind == TermKind::probability) {
      const bool probability = p.kind == TermKind::probability;
      k.target_seeds(probability, view_of(logits), view_of(p.given), view_of(s.seed_tmp), view_of(s.class_tmp));
      k.scale_add(p.weight, view_of(s.seed_tmp), 1.f, 0.f, view_of(seed));
      if (column >= 0)
        k.target_scores(probability, p.weight, true, rows(logits, p.row, 1), view_of(p.cls), column,
                        rows(s.table, p.row, 1));
      continue;
    }
    const Tensor& A = r.capture(p.value);
    GB_CHECK(A.rank() >= 2 && p.index >= 0 && p.index < A.dim(1), "activation maximization: channel ", p.index,
             " of '", p.value, "' ", shape_str(A.shape()));
    const int64_t P = A.numel() / (A.dim(0) * A.dim(1)), per_row = A.numel() / A.dim(0);
    const float* plane = A.data<float>() + (p.row * A.dim(1) + p.index) * P;
    if (p.kind == TermKind::channel) {
      k.unit_seed(p.row, p.index, -1, p.weight, view_of(seed));
      if (column >= 0)
        k.dot(p.weight / float(P), true, ConstView{plane, {P}, A.device()}, rows(s.ones, 0, P), cell);
    } else if (p.kind == TermKind::neuron) {
      const int64_t centre = A.rank() == 4 ? (A.dim(2) / 2) * A.dim(3) + A.dim(3) / 2 : 0;
      k.unit_seed(p.row, p.index, centre, p.weight, view_of(seed));
      if (column >= 0) k.dot(p.weight, true, ConstView{plane + centre, {1}, A.device()}, rows(s.ones, 0, 1), cell);
    } else {  // energy: mean of A^2 over the row; seed 2 A / n
      const ConstView a_row = rows(A, p.row, 1);
      k.scale_add(2.f * p.weight / float(per_row), a_row, 1.f, 0.f, rows(seed, p.row, 1));
      if (column >= 0) k.dot(p.weight / float(per_row), true, a_row, a_row, cell);
    }
  }
  const Tensor g_x = session.backward(s.seeds).at(input_);

  // Back through the normalization and the transform to the image; the regularizers; then to the parameters.
  k.binary(kernels::BinaryOp::mul, {}, view_of(g_x), view_of(s.norm_s), view_of(s.g_moved));
  if (transform) k.affine_resample_backward(view_of(s.affine), view_of(s.g_moved), view_of(s.g_image));
  else k.copy(view_of(s.g_moved), view_of(s.g_image));
  if (regularize) {
    if (o.l2 != 0.f) k.scale_add(-2.f * o.l2, view_of(s.image), 1.f, o.l2, view_of(s.g_image));  // -2 l2 (x - 0.5)
    if (o.tv != 0.f) k.tv_gradient(-o.tv, view_of(s.image), view_of(s.g_image));
  }
  image_backward(s);
}

}  // namespace glassbox::explain
