// Explanation quality metrics, batched on the session's device, for R = N * K maps: maps [N * K, H, W] (map n*K + k
// explains image n, as every explainer returns them), classes [N * K] (floats) and images [N, C, H, W] at the
// maps' resolution. Each metric's exact definition:
//
//   Deletion and insertion (Petsiuk, Das & Saenko 2018, "RISE", Sec. 4.1; their reference code's conventions):
//     order     the map's pixels by descending saliency, ties to the lower flat index (NaN last): rank_pixels.
//     steps     S = ceil(H W / pixels_per_step) (224 per step at 224 x 224, as Petsiuk et al.); point s = 0 .. S has
//               min(s * pixels_per_step, H W) pixels moved (all channels of a pixel together).
//     deletion  point s: the image with its s * pixels_per_step top pixels replaced by the substrate (default zero:
//               0 in the preprocessed input, i.e. the per-channel mean of a mean/std normalization; or its blur);
//               point 0 is the image itself, point S the substrate.
//     insertion point s: the substrate (default the blurred image) with the s * pixels_per_step top pixels of the
//               image put back; point 0 is the substrate, point S the image.
//     curve     the target class's softmax probability at each point: curves [R, S + 1].
//     AUC       the trapezoidal rule over x_s = s / S in [0, 1]: (sum_s c_s - (c_0 + c_S) / 2) / S.
//     blur      a Gaussian of `blur_size` taps (odd) per axis, weights exp(-i^2 / (2 sigma^2)) normalized to sum 1,
//               separable, zero padding, per channel of the preprocessed image (Petsiuk et al.'s code: 11 taps,
//               sigma 5, zero padding), as a depthwise Conv on the device.
//   Average Drop and Increase in Confidence (Chattopadhay et al. 2018, "Grad-CAM++", Sec. 6.1.1): Y_c = the
//     target's softmax probability for the image, O_c = for the image multiplied by the map (x * L per pixel,
//     every channel, in the preprocessed input; the map as given: pass maps in [0, 1], as the explainers'
//     min-max normalized maps):
//       Average Drop (%)            = 100 / R * sum_r max(0, Y_c - O_c) / Y_c   (a term with Y_c = 0 is 0)
//       Increase in Confidence (%)  = 100 / R * sum_r [O_c > Y_c]
//   Pointing game (Zhang et al. 2018, "Top-down neural attention by excitation backprop", Sec. 5.1): the map's
//     maximum (the first in row-major order; NaN ranks last) is a hit when it lies within `tolerance` (15) pixels
//     of a box of the target: the Euclidean distance from the pixel (x, y) to the box, dx = max(x0 - x, 0, x - x1),
//     likewise dy, sqrt(dx^2 + dy^2) <= tolerance (0 inside). Boxes are inclusive pixel ranges of the map.
//     Accuracy = hits / maps with at least one box (maps without boxes do not count).
//   Energy-based pointing game (Wang et al. 2020, "Score-CAM", Sec. 5.1.2): the map min-max normalized (a constant
//     map becomes 0), then sum of the map over the pixels inside any box / sum over all pixels (0 for a map that
//     sums to 0).
//
// Everything runs on the session's device: copies made chunk by chunk (`batch` per forward pass, by default from
// memory_budget as the perturbation family does; a chunk runs across maps and images, so short curves still fill
// it), target probabilities gathered there, AUCs as one matrix product.
// Host copies: none in deletion_insertion (results stay device tensors); Average Drop / Increase in Confidence
// copy Y and O (2 R floats) once at the end to count [O > Y] and average; the pointing game copies the R argmax
// indices (the boxes are host data) and the energy game the 2 R sums inside the boxes and over the maps.
// Inputs may be host tensors or device tensors; device tensors another session made (an explainer's maps) are read
// on this session's stream: call that session's synchronize() first (README.md, the C++ quickstart).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/model.h"

namespace glassbox::explain {

enum class Substrate { zero, blur };

struct MetricOptions {
  int64_t pixels_per_step = 224;     // Petsiuk et al.: 224 pixels per step at 224 x 224
  Substrate deletion = Substrate::zero;
  Substrate insertion = Substrate::blur;
  int64_t blur_size = 11;            // taps per axis (odd)
  float blur_sigma = 5.f;
  bool run_deletion = true, run_insertion = true;
  int64_t batch = 0;                        // copies per forward pass; 0: as many as memory_budget allows
  size_t memory_budget = size_t(1) << 30;   // bytes of device memory for the copies' forward passes
  std::function<void(int64_t done, int64_t total)> progress;  // after each chunk: forward passes so far, total
};

struct Curves {
  int64_t steps = 0;                   // S
  Tensor deletion, insertion;          // [R, S + 1] target probabilities (undefined when not asked for)
  Tensor deletion_auc, insertion_auc;  // [R]
};

struct ConfidenceChange {
  Tensor full, masked;                 // [R] Y_c and O_c on the device
  std::vector<float> drop;             // [R] 100 * max(0, Y - O) / Y
  std::vector<int> increase;           // [R] [O > Y]
  double average_drop = 0, increase_in_confidence = 0;  // in %
};

struct Box {
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive pixel ranges: columns x0..x1, rows y0..y1
};

struct Pointing {
  std::vector<int> hit;           // [R] 1 hit, 0 miss, -1 no box (not counted)
  std::vector<int64_t> peak;      // [R] flat index of the map's maximum
  double accuracy = 0;            // hits / maps with boxes
  std::vector<float> energy;      // [R] energy-based pointing game (NaN where the map has no box)
  double mean_energy = 0;         // over maps with boxes
};

// The Gaussian blur used as the insertion substrate: images [N, C, H, W] -> [N, C, H, W] on the session's device.
Tensor gaussian_blur(Session& session, const Tensor& images, int64_t size, float sigma);

// Deletion and insertion curves and their AUCs for every map (images [N, C, H, W], maps [N * K, H, W], classes
// [N * K]; any device: placed on the session's).
Curves deletion_insertion(Session& session, const Tensor& images, const Tensor& maps, const Tensor& classes,
                          const MetricOptions& options = {});

// Average Drop and Increase in Confidence (Chattopadhay et al. 2018), `batch` masked copies per forward pass.
ConfidenceChange confidence_change(Session& session, const Tensor& images, const Tensor& maps,
                                   const Tensor& classes, const MetricOptions& options = {});

// The pointing game and the energy-based pointing game of maps [R, H, W] against boxes[r] (the target's boxes in
// the map's pixels; an empty list: the map does not count).
Pointing pointing_game(Session& session, const Tensor& maps, const std::vector<std::vector<Box>>& boxes,
                       double tolerance = 15.0);

}  // namespace glassbox::explain
