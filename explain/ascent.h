// Activation maximization ("feature visualization", "deep dream"): images that maximize an objective of the
// network, by gradient ascent with Adam on a parameterization of the image, on the session's device (CPU or CUDA).
//
//   Dreamer d(model, {}, options);
//   auto r = d.run({Objective::of(Term::probability(1)), Objective::of(Term::channel("blocks.5", 12))});
//   r.images   // [2, 3, H, W] in [0, 1]: one batch row per objective, all rendered as one batch
//
// Objectives (each a weighted sum of terms, one batch row each):
//   channel      the mean of channel c of layer L            neuron       channel c of L at its centre position
//   logit        the logit of class k                        probability  softmax(logits)_k
//   energy       the mean of L^2 over the row's elements (DeepDream's objective)
// Seeds for Session::backward are built on the device (Backend::unit_seed, target_seeds, scale_add); the objective
// values of the logged steps are gathered on the device too (Backend::dot, target_scores) and copied once at the
// end: nothing waits for the device inside the loop.
//
// Parameterizations (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017; lucid's image.py):
//   pixel    image = sigmoid(param), param [B, 3, H, W]
//   fourier  param = the real and imaginary parts of a 2-D real spectrum [B * 3, H, 2 * (W/2 + 1)] (per row u: the
//            real parts of the W/2 + 1 columns, then the imaginary parts); the spectrum is scaled by 1/f (lucid's
//            fft_image: scale = sqrt(H W) / max(f, 1 / max(H, W)), f the frequency magnitude from numpy's fftfreq,
//            in cycles per pixel, as rfft2d_freqs), inverted by irfft2 as two matrix products with precomputed
//            cos/sin matrices (Backend::matmul; no FFT library), divided by 4 (lucid), mixed by the normalized
//            colour decorrelation matrix (lucid's color_correlation_svd_sqrt), then a sigmoid.
// Each step: robustness transforms (one affine bilinear resampling with reflected borders: a random integer jitter,
// scale and rotation, Backend::affine_resample, drawn from uniform_noise(seed, ...): the same seed gives the same
// images), the model's input normalization ((255 * image - mean) / std per channel), forward, backward to the
// input, the transforms' transpose, the regularizers' gradients (L2 decay toward gray, squared total variation),
// the parameterization's backward, an Adam step (ascent), and every `blur_every` steps a 3x3 Gaussian blur of the
// parameters (pixel mode).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/model.h"

namespace glassbox::explain {

enum class TermKind { channel, neuron, logit, probability, energy };

struct Term {
  TermKind kind = TermKind::logit;
  std::string layer;     // channel, neuron, energy: any name Model::resolve takes
  int64_t index = 0;     // the channel, or the class
  static Term channel(const std::string& layer, int64_t c) { return {TermKind::channel, layer, c}; }
  static Term neuron(const std::string& layer, int64_t c) { return {TermKind::neuron, layer, c}; }
  static Term logit(int64_t k) { return {TermKind::logit, "", k}; }
  static Term probability(int64_t k) { return {TermKind::probability, "", k}; }
  static Term energy(const std::string& layer) { return {TermKind::energy, layer, 0}; }
  std::string name() const;  // "channel_blocks.5_12", "probability_1", ...
};

// sum of weight * term, maximized.
struct Objective {
  std::vector<std::pair<float, Term>> terms;
  static Objective of(const Term& t, float weight = 1.f) { return {{{weight, t}}}; }
  Objective& add(float weight, const Term& t) { return terms.push_back({weight, t}), *this; }
  std::string name() const;  // the terms' names joined by "+"
};

enum class Parameterization { pixel, fourier };
Parameterization parse_parameterization(const std::string& name);  // "pixel" or "fourier"

struct AscentOptions {
  int64_t height = 224, width = 224;
  int steps = 256;
  Parameterization parameterization = Parameterization::pixel;
  // Adam (Kingma & Ba 2015)
  float lr = 0.05f, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  uint32_t seed = 0;
  float init_std = 0.01f;  // the parameters' initial N(0, init_std^2) (lucid's sd)
  // Robustness transforms, drawn per step and per row.
  bool transforms = true;
  int jitter = 8;                           // integer shifts in [-jitter, jitter] pixels
  float scale_min = 0.9f, scale_max = 1.1f;
  float rotate_degrees = 10.f;              // angles in [-rotate_degrees, rotate_degrees]
  // Regularizers (their gradients are added to the image's).
  float l2 = 0.f;          // penalty l2 * sum (image - 0.5)^2
  float tv = 0.f;          // penalty tv * sum of squared neighbour differences (Backend::tv_gradient)
  int blur_every = 0;      // pixel mode: a 3x3 Gaussian blur [1 2 1]^T [1 2 1] / 16 of the parameters every N steps
  // The model's input normalization on 0..255 pixels: x = (255 * image - mean[c]) / std[c] (tools::Preprocess).
  float mean[3] = {0.f, 0.f, 0.f};
  float std[3] = {255.f, 255.f, 255.f};
  int log_every = 32;      // objective values of steps 0, log_every, 2 log_every, ... and the last
};

struct AscentResult {
  Tensor images;                               // [B, 3, H, W] in [0, 1], on the session's device
  std::vector<int> steps;                      // the logged steps
  std::vector<std::vector<float>> objective;   // [logged step][row]: the objective of each row at that step
};

// The objective values and gradient of one evaluation, transforms and regularizers off.
struct AscentEvaluation {
  std::vector<float> values;  // per row
  Tensor gradient;            // d (sum of the rows' objectives) / d parameters, on the session's device
};

class Dreamer {
 public:
  Dreamer(std::shared_ptr<const Model> model, SessionOptions session = {}, AscentOptions options = {});
  ~Dreamer();
  AscentResult run(const std::vector<Objective>& objectives);

  // For tests and tools: the parameters' shape for B rows, their initial values (from the seed), the image they
  // give, and one evaluation (parameterization -> normalization -> network -> objectives -> gradient).
  Shape parameter_shape(int64_t rows) const;
  Tensor initial_parameters(int64_t rows);
  Tensor image(const Tensor& parameters);
  AscentEvaluation evaluate(const std::vector<Objective>& objectives, const Tensor& parameters);

  // The inverse DFT's matrices (fourier mode; host tensors): image_linear = B x (P x A) with P [.., H, 2 Wf]
  // reshaped between the products (see ascent.cpp), and the spectrum's 1/f scale [H, 2 Wf].
  struct Fourier;
  const Fourier& fourier() const { return *fourier_; }
  Session& session() { return session_; }
  const AscentOptions& options() const { return options_; }

 private:
  struct State;
  void prepare(const std::vector<Objective>& objectives, State& s);
  void to_image(State& s);
  void image_backward(State& s);
  void step(State& s, int64_t step, bool transform, bool regularize, int64_t column);

  std::shared_ptr<const Model> model_;
  AscentOptions options_;
  std::string input_;
  Session session_;
  std::unique_ptr<Fourier> fourier_;
};

// The host matrices of fourier mode for an H x W image (Wf = W / 2 + 1), public for the tests' adjoint checks:
//   A [2 Wf, 2 W], B [H, 2 H] (the inverse DFT, 1/(H W) included); At, Bt their transposes;
//   scale [H, 2 Wf] (the 1/f scale of the real and the imaginary parts, lucid's fft_image, times 1/4);
//   color [3, 3] (the decorrelation, row-major: rgb_i = sum_j color[i][j] t_j), color_t its transpose.
struct Dreamer::Fourier {
  int64_t H = 0, W = 0, Wf = 0;
  Tensor A, At, B, Bt, scale, color, color_t;
  static Fourier make(int64_t H, int64_t W);
};

}  // namespace glassbox::explain
