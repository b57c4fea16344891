// Helpers the glassbox commands share: JSON string escaping, the preprocessing for a model and the command's
// options, and loading a slice of the image paths (a bad image is one stderr line, not the end of the run).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "explain/explain.h"
#include "explain/perturbation.h"
#include "tools/glassbox/args.h"
#include "tools/glassbox/image.h"
#include "tools/tensorboard/event_writer.h"

namespace glassbox::tools {

std::string json_escape(const std::string& s);

// The model's input size (crop; resize = crop * 256 / 224), then its "glassbox.preprocess" metadata, then
// --preprocess, --resize, --crop, --mean, --std and --max-pixels; validated, and where the model declares a square
// input of S x S, the crop must be S.
Preprocess preprocess_for(const Model& model, const Args& a);

// The options every command over images takes: --preprocess --resize --crop --mean --std --max-pixels.
CommandOptions preprocess_options();

// --max-pixels: the pixel limit of every decoded and resized image (default tools::kDefaultMaxPixels).
int64_t max_pixels_option(const Args& a);

// Output file stems, one per input path, unique within the call: the file's stem ("a/cat.png" -> "cat"); where
// two inputs share one, each of them the path without its extension, separators and other non-alphanumeric
// characters as '_' ("a/cat.png" -> "a_cat"), and where that still collides, "_<argument number>" appended. Each
// renamed input gets one stderr line.
std::vector<std::string> output_stems(const std::vector<std::string>& paths);

// Loads paths[start, start + count): each image decoded, resized and cropped (pre, with its pixel limit) — an image
// that fails is one stderr line (and with json one record) and the others go on —, then normalized into one batch.
struct LoadedImages {
  std::vector<tools::Image> images;  // what the network sees: resized and cropped, 8-bit RGB
  std::vector<std::string> names;    // their paths
  std::vector<std::string> stems;    // their output stems (output_stems)
  Tensor batch;                      // [N, 3, H, W], normalized; empty when no image loaded
};
LoadedImages load_images(const std::vector<std::string>& paths, const std::vector<std::string>& stems, size_t start,
                         size_t count, const Preprocess& pre, int& failures, bool json);
// The image arguments (positional[1:]) in batches of `batch`, loaded as load_images does: fn(images, step) for
// every batch with at least one image that loads; step counts the batches from 0.
void for_each_image_batch(const Args& a, const Preprocess& pre, int64_t batch, int& failures,
                          const std::function<void(const LoadedImages&, int64_t step)>& fn, bool json = false);

// The perturbation family's options from --chunk, --samples, --noise-std, --seed, --rise-masks, --rise-cells,
// --rise-probability, --channel-softmax and --one-hot, with a progress line on stderr (at most every half second).
explain::PerturbationOptions perturbation_options(const Args& a);

// The target of an explanation from --class K | --top K and --probability.
explain::Target target_from(const Args& a);
// The same for commands over a dataset, where --class label means each image's dataset label: `label` is set and
// the target is target_from's without --class.
explain::Target target_or_label(const Args& a, bool& label);

// Where a command's pictures go: PNG files, and with --tensorboard DIR also TensorBoard images (tag: the PNG's file
// name without its extension; step: the batch) and scalars.
class PictureSink {
 public:
  explicit PictureSink(const Args& a);
  void save(const std::string& png_path, const Image& image, int64_t step = 0);
  EventWriter* tensorboard() { return tb_.get(); }

 private:
  std::unique_ptr<EventWriter> tb_;
};

}  // namespace glassbox::tools
