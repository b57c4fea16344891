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
// --preprocess, --resize, --crop, --mean and --std.
Preprocess preprocess_for(const Model& model, const Args& a);

// Loads paths[start, start + count): the images that decode, their paths, and one stderr line (and with json one
// record) per image that does not.
struct LoadedImages {
  std::vector<tools::Image> images;
  std::vector<std::string> names;
};
LoadedImages load_images(const std::vector<std::string>& paths, size_t start, size_t count, int64_t max_pixels,
                         int& failures, bool json);
// The image arguments (positional[1:]) in batches of `batch`, loaded as load_images does (--max-pixels):
// fn(images, step) for every batch with at least one image that decodes; step counts the batches from 0.
void for_each_image_batch(const Args& a, int64_t batch, int& failures,
                          const std::function<void(const LoadedImages&, int64_t step)>& fn);

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
