// Images in (JPEG, PNG, BMP through stb_image) and the preprocessing that turns them into NCHW float32 batches.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace glassbox::tools {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3, row-major
};

// The pixel limit of every image glassbox holds (decoded, resized, cropped) unless told otherwise (--max-pixels).
constexpr int64_t kDefaultMaxPixels = 64LL << 20;

// Decodes an image as 8-bit RGB (grayscale is replicated, alpha is dropped). Throws glassbox::Error with the
// path and the reason for a missing file, a non-image, or an image over max_pixels (the size read from the
// file's header before anything is decoded).
Image load_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

// The width and height a JPEG, PNG or BMP header declares; false when the bytes are none of those.
bool image_header_size(const std::string& path, int64_t& width, int64_t& height);

// Writes 8-bit RGB as PNG.
void save_png(const std::string& path, const Image& image);

// How an image becomes the network's input: shorter side resized to `resize` (0: no resize), center crop of
// `crop` x `crop` (0: no crop), then (pixel - mean[c]) / std[c] with pixels in 0..255, RGB order.
// Text form (ONNX metadata "glassbox.preprocess", CLI --preprocess):
//   "resize=256;crop=224;mean=123.675,116.28,103.53;std=58.395,57.12,57.375;interp=bilinear"
struct Preprocess {
  static constexpr int kMaxSide = 16384;  // the largest resize or crop a spec may ask for
  int resize = 256, crop = 224;
  float mean[3] = {123.675f, 116.28f, 103.53f};  // torchvision's ImageNet statistics x 255
  float std[3] = {58.395f, 57.12f, 57.375f};
  std::string interp = "bilinear";  // "bilinear" (antialiased when shrinking) or "nearest"
  // The pixel limit of the resized image (not part of the spec's text: it bounds memory, not the result).
  int64_t max_pixels = kDefaultMaxPixels;
  // Parsing checks every item; the result is validated (validate()) whatever its source.
  static Preprocess parse(const std::string& spec, Preprocess base);
  static Preprocess parse(const std::string& spec);
  // What a model expects: its declared square input [N, C, S, S] as the crop, resized first to S * 256 / 224 (as
  // for ImageNet), then its "glassbox.preprocess" metadata (`spec`, "" when it has none) over that.
  static Preprocess for_model(const Shape& input_shape, const std::string& spec);
  std::string str() const;
  // Throws glassbox::Error unless resize and crop are 0 (none) or 1..kMaxSide, the crop fits in the resized
  // image's shorter side, mean and std are finite and std positive, and interp is known.
  void validate() const;
};

// Resizes with a separable triangle (bilinear) filter whose support widens when shrinking (antialiasing), pixel
// for pixel as Pillow's Image.resize(BILINEAR) (torchvision's Resize on PIL images): fixed-point weights, the
// horizontal pass first, 8-bit between the passes. Or nearest neighbour.
Image resize(const Image& in, int width, int height, const std::string& interp = "bilinear");

// The resize and center crop of Preprocess, as 8-bit RGB (what the network sees, before normalization).
Image resize_and_crop(const Image& image, const Preprocess& p);

// The geometry of resize_and_crop for a width x height image, as torchvision's Resize(resize) and
// CenterCrop(crop) compute it: the resized size (shorter side to p.resize, the longer one
// floor(resize * long / short); unchanged without resize) and the crop's size and top-left corner in it,
// int(round((resized - crop) / 2)) with Python's round (half to even). Throws glassbox::Error when the resized
// image would exceed p.max_pixels or the crop does not fit.
struct CropGeometry {
  int resized_w = 0, resized_h = 0;
  int crop_w = 0, crop_h = 0, x0 = 0, y0 = 0;
};
CropGeometry crop_geometry(int width, int height, const Preprocess& p);

// A box of the original image — inclusive pixel ranges x0..x1, y0..y1, so it covers [x0, x1 + 1) x [y0, y1 + 1)
// — in the cropped picture's pixels: scaled by the resize, shifted by the crop, and made the inclusive range of
// the output pixels it overlaps, clipped to the crop. False (out untouched) when none of it is inside.
bool box_in_crop(const std::array<double, 4>& box, int width, int height, const Preprocess& p,
                 std::array<int64_t, 4>& out);
// One image -> [3, crop, crop] written at `out` (float32, CHW; `out` holds crop * crop * 3 floats; without a
// crop, the resized image's size).
void preprocess_into(const Image& image, const Preprocess& p, float* out);
// Images already resized and cropped (resize_and_crop), all of one size W x H -> [N, 3, H, W], normalized.
Tensor normalize_batch(const std::vector<Image>& seen, const Preprocess& p);
// Images -> [N, 3, crop, crop]: resize_and_crop, then normalize_batch.
Tensor make_batch(const std::vector<Image>& images, const Preprocess& p);

}  // namespace glassbox::tools
