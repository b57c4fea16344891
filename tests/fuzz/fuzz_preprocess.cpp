// libFuzzer target for the preprocessing spec ("resize=256;crop=224;mean=...;std=...;interp=bilinear", the ONNX
// metadata "glassbox.preprocess" and --preprocess): bytes as the spec's text -> Preprocess::parse (over the
// defaults and over Preprocess::for_model's base for a few input shapes). If it parses: the result validates, its
// text form parses back to the same sizes and interpolation, crop_geometry on a few image sizes (under the default
// pixel limit and under 2^16) returns a crop inside the resized image or throws, box_in_crop stays inside the crop,
// and when the resized picture is small (at most 2^16 pixels) resize_and_crop of a synthetic image has the
// geometry's size, make_batch gives what normalize_batch of that crop gives, and so does preprocess_into.
// glassbox::Error is the expected way to refuse; any other exception, a crash, a sanitizer report, a leak or a huge
// allocation is a finding. See docs/fuzzing.md.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/glassbox/image.h"

namespace {

using glassbox::tools::CropGeometry;
using glassbox::tools::Image;
using glassbox::tools::Preprocess;

// A broken invariant: abort, which libFuzzer reports as a crash with this input.
#define FUZZ_ASSERT(cond) \
  do {                    \
    if (!(cond)) __builtin_trap(); \
  } while (0)

Image synthetic(int w, int h) {
  Image img;
  img.width = w, img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i * 37 + (i >> 5));
  return img;
}

// `pictures`: also resize, crop and normalize a synthetic w x h image when that is small (at most 2^16 pixels
// before and after the resize).
void check_geometry(const Preprocess& p, int w, int h, bool pictures) {
  CropGeometry g;
  try {
    g = glassbox::tools::crop_geometry(w, h, p);
  } catch (const glassbox::Error&) {
    return;
  }
  FUZZ_ASSERT(g.resized_w > 0 && g.resized_h > 0 && int64_t(g.resized_w) * g.resized_h <= p.max_pixels);
  FUZZ_ASSERT(g.crop_w > 0 && g.crop_h > 0 && g.x0 >= 0 && g.y0 >= 0);
  FUZZ_ASSERT(g.x0 + g.crop_w <= g.resized_w && g.y0 + g.crop_h <= g.resized_h);
  if (p.resize > 0) FUZZ_ASSERT(std::min(g.resized_w, g.resized_h) == p.resize);
  if (p.crop > 0) FUZZ_ASSERT(g.crop_w == p.crop && g.crop_h == p.crop);

  for (const std::array<double, 4>& box : {std::array<double, 4>{0, 0, double(w - 1), double(h - 1)},
                                           std::array<double, 4>{w / 3.0, h / 4.0, w / 2.0, h / 2.0}}) {
    std::array<int64_t, 4> out{};
    bool inside = false;
    try {
      inside = glassbox::tools::box_in_crop(box, w, h, p, out);
    } catch (const glassbox::Error&) {
      continue;
    }
    if (inside)
      FUZZ_ASSERT(out[0] >= 0 && out[0] <= out[2] && out[2] < g.crop_w && out[1] >= 0 && out[1] <= out[3] &&
                  out[3] < g.crop_h);
  }

  if (!pictures || int64_t(g.resized_w) * g.resized_h > (1 << 16) || int64_t(w) * h > (1 << 16)) return;
  const Image img = synthetic(w, h);
  Image seen;
  try {
    seen = glassbox::tools::resize_and_crop(img, p);
  } catch (const glassbox::Error&) {
    return;
  }
  FUZZ_ASSERT(seen.width == g.crop_w && seen.height == g.crop_h);
  FUZZ_ASSERT(seen.rgb.size() == size_t(seen.width) * seen.height * 3);
  // make_batch (resize_and_crop, then normalization) agrees with normalizing what resize_and_crop gave.
  const glassbox::Tensor t = glassbox::tools::make_batch({img}, p);
  const glassbox::Tensor u = glassbox::tools::normalize_batch({seen, seen}, p);
  FUZZ_ASSERT(t.numel() == 3 * int64_t(g.crop_w) * g.crop_h && u.numel() == 2 * t.numel());
  const float *a = t.data<float>(), *b = u.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) FUZZ_ASSERT(!std::isnan(a[i]) && a[i] == b[i] && a[i] == b[t.numel() + i]);
  if (p.crop > 0 && int64_t(g.resized_w) * g.resized_h <= (1 << 12)) {
    std::vector<float> out(size_t(p.crop) * p.crop * 3);
    glassbox::tools::preprocess_into(img, p, out.data());
    FUZZ_ASSERT(std::equal(out.begin(), out.end(), a));
  }
}

// `pictures`: also run the resize on small synthetic images (for the spec over the defaults only: the other bases
// differ in geometry alone).
void check_parsed(Preprocess p, bool pictures) {
  // Whatever parse returned is valid, and its text form parses back: a refusal here is a finding too.
  try {
    p.validate();
    const Preprocess again = Preprocess::parse(p.str());
    FUZZ_ASSERT(again.resize == p.resize && again.crop == p.crop && again.interp == p.interp);
  } catch (const glassbox::Error&) {
    __builtin_trap();
  }

  static const int kSizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {31, 17}, {224, 224}, {100, 1}, {1, 300},
                                  {640, 480}, {16384, 1}, {4096, 4096}, {1 << 30, 1}};
  for (int64_t limit : {p.max_pixels, int64_t(1) << 16}) {
    Preprocess q = p;
    q.max_pixels = limit;
    for (const auto& s : kSizes) check_geometry(q, s[0], s[1], pictures && limit == p.max_pixels);
  }
  if (!pictures) return;
  // the other interpolation on the small sizes
  Preprocess n = p;
  n.interp = n.interp == "nearest" ? "bilinear" : "nearest";
  for (int i = 0; i < 4; ++i) check_geometry(n, kSizes[i][0], kSizes[i][1], true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string spec(reinterpret_cast<const char*>(data), size);
  try {
    check_parsed(Preprocess::parse(spec), true);
  } catch (const glassbox::Error&) {
  }
  // What a model's metadata is parsed over: its declared input shape as the base.
  for (const glassbox::Shape& shape : {glassbox::Shape{1, 3, 224, 224}, glassbox::Shape{1, 3, 7, 7},
                                       glassbox::Shape{1, 3, 20000, 20000}, glassbox::Shape{2, 5}}) {
    try {
      check_parsed(Preprocess::for_model(shape, spec), false);
    } catch (const glassbox::Error&) {
    }
  }
  return 0;
}
