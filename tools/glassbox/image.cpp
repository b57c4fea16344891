#include "tools/glassbox/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "engine/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace glassbox::tools {

namespace {

uint32_t big_endian32(const unsigned char* b) { return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]; }
int32_t little_endian32(const unsigned char* b) {
  return int32_t(uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24);
}

// The bytes of an image file, read whole (at most max_bytes: more is refused before reading).
// The kind of file is checked before it is opened: opening a FIFO would wait for a writer.
std::vector<uint8_t> read_file(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  GB_CHECK(!std::filesystem::is_directory(status), path, ": is a folder, expected an image file");
  GB_CHECK(std::filesystem::exists(status), path, ": cannot open the file");
  GB_CHECK(std::filesystem::is_regular_file(status), path, ": not a regular file, expected an image file");
  const int64_t size = int64_t(std::filesystem::file_size(path, ec));
  GB_CHECK(!ec, path, ": cannot open the file");
  GB_CHECK(size <= max_bytes, path, ": the file is larger than ", max_bytes,
           " bytes, too large for an image within the pixel limit");
  FILE* f = std::fopen(path.c_str(), "rb");
  GB_CHECK(f, path, ": cannot open the file");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  const size_t got = size ? std::fread(bytes.data(), 1, bytes.size(), f) : 0;
  std::fclose(f);
  GB_CHECK(got == bytes.size(), path, ": cannot read the file");
  return bytes;
}

// A JPEG's size from its first start-of-frame marker (SOF0..SOF15 but DHT C4, JPG C8 and DAC CC), and a check of
// every Huffman table on the way (ITU-T T.81, B.2.4.2: a table's 16 code counts sum to at most 256, and its
// values fit in the segment). Segments are skipped by their lengths, entropy-coded data after a start of scan up
// to the next marker. True when a frame's size was read; `why` says how the bytes break the format, if they do.
bool scan_jpeg(const std::vector<uint8_t>& b, int64_t& width, int64_t& height, std::string& why, size_t i) {
  bool sized = false;
  while (i < b.size()) {
    if (b[i] != 0xFF) {  // entropy-coded data (after SOS): skip to the next marker
      ++i;
      continue;
    }
    while (i < b.size() && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) break;
    const uint8_t m = b[i++];
    if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0xD8) continue;  // stuffed byte, RSTn, TEM, SOI
    if (m == 0xD9) break;                                                             // EOI
    if (i + 2 > b.size()) break;
    const size_t length = size_t(b[i]) << 8 | b[i + 1];
    const uint8_t* seg = &b[i + 2];
    const size_t n = std::min(length, b.size() - i) - std::min<size_t>(2, length);  // the bytes present
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && !sized && n >= 5)
      height = seg[1] << 8 | seg[2], width = seg[3] << 8 | seg[4], sized = true;
    if (length < 2 || i + length > b.size()) {  // stb_image would read the missing bytes as zeros
      why = "a segment (marker " + std::to_string(m) + ") is cut short";
      return sized;
    }
    if (m == 0xC4) {  // DHT: tables of [class/id][16 counts][values]
      for (size_t k = 0; k < n;) {
        size_t codes = 0;
        for (int c = 1; c <= 16 && k + size_t(c) < n; ++c) codes += seg[k + size_t(c)];
        if (codes > 256) {
          why = "a Huffman table (DHT) declares " + std::to_string(codes) + " codes, over 256";
          return sized;
        }
        if (k + 17 + codes > n) {
          why = "a Huffman table (DHT) is cut short";
          return sized;
        }
        k += 17 + codes;
      }
    }
    i += length;
  }
  return sized;
}

// A PNG's chunks (length, type, data, CRC; PNG spec 5.3): every length at most 2^31 - 1 and within the file, and
// zero-length IDAT chunks dropped (legal, but stb_image 2.27 then copies from a null pointer). False with `why`
// set when a chunk breaks the format.
bool screen_png(std::vector<uint8_t>& b, std::string& why) {
  std::vector<uint8_t> out(b.begin(), b.begin() + 8);
  size_t i = 8;
  while (i + 12 <= b.size()) {
    const uint32_t length = big_endian32(&b[i]);
    if (length > 0x7FFFFFFFu || length > b.size() - i - 12)
      return why = "a chunk declares " + std::to_string(length) + " bytes, beyond the end of the file", false;
    const bool empty_idat = length == 0 && std::equal(&b[i + 4], &b[i + 8], "IDAT");
    if (!empty_idat) out.insert(out.end(), b.begin() + long(i), b.begin() + long(i + 12 + length));
    i += 12 + length;
  }
  b.swap(out);
  return true;
}

// Where a JPEG's segments start: after its start-of-image marker, which stb_image also finds behind fill bytes
// (FF FF D8); 0 when the bytes are not a JPEG.
size_t jpeg_segments_start(const std::vector<uint8_t>& b) {
  size_t i = 0;
  while (i < b.size() && b[i] == 0xFF) ++i;
  return i >= 1 && i < b.size() && b[i] == 0xD8 ? i + 1 : 0;
}

bool is_png(const std::vector<uint8_t>& b) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::equal(kPng, kPng + 8, b.begin());
}

// The width and height a header declares (PNG IHDR, BMP info header, JPEG start of frame); false when none. A
// JPEG is walked to its end (scan_jpeg): `why` says how it breaks the format, if it does.
bool header_size(const std::vector<uint8_t>& b, int64_t& width, int64_t& height, std::string& why) {
  if (is_png(b) && b.size() >= 24 && std::equal(&b[12], &b[16], "IHDR")) {
    width = big_endian32(&b[16]), height = big_endian32(&b[20]);
    return true;
  }
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {  // BITMAPINFOHEADER width, height (negative: top-down)
    width = little_endian32(&b[18]), height = std::llabs(int64_t(little_endian32(&b[22])));
    return true;
  }
  const size_t jpeg = jpeg_segments_start(b);
  return jpeg && scan_jpeg(b, width, height, why, jpeg);
}

}  // namespace

bool image_header_size(const std::string& path, int64_t& width, int64_t& height) {
  try {
    std::string why;
    return header_size(read_file(path, int64_t(1) << 32), width, height, why);
  } catch (const Error&) {
    return false;
  }
}

Image load_image(const std::string& path, int64_t max_pixels) {
  // No image within the limit needs more than 4 bytes a pixel (an uncompressed 32-bit BMP) and its headers.
  std::vector<uint8_t> bytes = read_file(path, max_pixels * 4 + (1 << 20));
  // The declared size is checked before stb_image allocates anything (each side first: their product must not
  // overflow), and the structures stb_image 2.27 mishandles are screened (tests/fuzz/fuzz_image's findings).
  int64_t hw = 0, hh = 0;
  std::string why;
  if (header_size(bytes, hw, hh, why))
    GB_CHECK(hw > 0 && hh > 0 && hw <= max_pixels && hh <= max_pixels && hw * hh <= max_pixels, path, ": the image is ",
             hw, "x", hh, " pixels, over the limit of ", max_pixels, " pixels (--max-pixels)");
  GB_CHECK(why.empty(), path, ": corrupt JPEG: ", why);
  if (is_png(bytes)) GB_CHECK(screen_png(bytes, why), path, ": corrupt PNG: ", why);
  GB_CHECK(bytes.size() <= size_t(INT32_MAX), path, ": the file is too large");
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp))
    fail(path, ": not a readable image (expected JPEG, PNG or BMP): ", stbi_failure_reason());
  h = std::abs(h);  // stb_image gives a top-down BMP's height negative
  if (w <= 0 || h <= 0 || int64_t(w) * h > max_pixels)
    fail(path, ": the image is ", w, "x", h, " pixels, over the limit of ", max_pixels, " pixels (--max-pixels)");
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp, 3);
  GB_CHECK(data, path, ": cannot decode the image: ", stbi_failure_reason());
  Image img;
  img.width = w, img.height = h;
  img.rgb.assign(data, data + size_t(w) * h * 3);
  stbi_image_free(data);
  return img;
}

void save_png(const std::string& path, const Image& image) {
  GB_CHECK(stbi_write_png(path.c_str(), image.width, image.height, 3, image.rgb.data(), image.width * 3),
           path, ": cannot write the PNG file");
}

Preprocess Preprocess::parse(const std::string& spec, Preprocess p) {
  std::stringstream ss(spec);
  std::string item;
  auto number = [](const std::string& key, const std::string& x) {
    char* end = nullptr;
    const float v = std::strtof(x.c_str(), &end);
    GB_CHECK(!x.empty() && *end == '\0' && std::isfinite(v), "preprocess '", key, "': '", x.substr(0, 40),
             "' is not a finite number");
    return v;
  };
  auto floats3 = [&](const std::string& key, const std::string& v, float* out) {
    std::stringstream vs(v);
    std::string x;
    int n = 0;
    while (std::getline(vs, x, ',')) {
      GB_CHECK(n < 3, "preprocess '", key, "': expected 1 or 3 comma-separated numbers, got '", v.substr(0, 60), "'");
      out[n++] = number(key, x);
    }
    if (n == 1) out[1] = out[2] = out[0];
    else GB_CHECK(n == 3, "preprocess '", key, "': expected 1 or 3 numbers, got '", v.substr(0, 60), "'");
  };
  while (std::getline(ss, item, ';')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    GB_CHECK(eq != std::string::npos, "preprocess item '", item.substr(0, 60), "': expected key=value");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    auto integer = [&]() {
      GB_CHECK(!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 5 &&
                   std::stoi(v) <= kMaxSide,
               "preprocess '", k, "': expected an integer from 0 to ", kMaxSide, ", got '", v.substr(0, 40), "'");
      return std::stoi(v);
    };
    if (k == "resize") p.resize = integer();
    else if (k == "crop") p.crop = integer();
    else if (k == "mean") floats3(k, v, p.mean);
    else if (k == "std") floats3(k, v, p.std);
    else if (k == "interp") {
      GB_CHECK(v == "bilinear" || v == "nearest", "preprocess interp '", v.substr(0, 40), "': expected bilinear or nearest");
      p.interp = v;
    } else {
      fail("unknown preprocess key '", k.substr(0, 40), "' (resize, crop, mean, std, interp)");
    }
  }
  p.validate();
  return p;
}

void Preprocess::validate() const {
  GB_CHECK(resize >= 0 && resize <= kMaxSide, "preprocess resize=", resize, ": expected 0 (none) to ", kMaxSide);
  GB_CHECK(crop >= 0 && crop <= kMaxSide, "preprocess crop=", crop, ": expected 0 (none) to ", kMaxSide);
  GB_CHECK(resize == 0 || crop <= resize, "preprocess crop=", crop, " does not fit in the image resized to ", resize,
           " on its shorter side");
  for (int c = 0; c < 3; ++c) {
    GB_CHECK(std::isfinite(mean[c]), "preprocess mean: expected finite numbers, got ", mean[c]);
    GB_CHECK(std::isfinite(std[c]) && std[c] > 0, "preprocess std: expected positive finite numbers, got ", std[c]);
  }
  GB_CHECK(interp == "bilinear" || interp == "nearest", "preprocess interp '", interp, "': expected bilinear or nearest");
  GB_CHECK(max_pixels > 0, "the pixel limit must be positive, not ", max_pixels);
}

Preprocess Preprocess::parse(const std::string& spec) { return parse(spec, Preprocess()); }

Preprocess Preprocess::for_model(const Shape& in, const std::string& spec) {
  Preprocess p;
  if (in.size() == 4 && in[2] > 0 && in[3] == in[2] && in[2] <= kMaxSide) {
    p.crop = static_cast<int>(in[2]);
    p.resize = static_cast<int>(std::min<long>(kMaxSide, std::lround(double(in[2]) * 256.0 / 224.0)));
  }
  return parse(spec, p);
}

std::string Preprocess::str() const {
  std::ostringstream os;
  os << "resize=" << resize << ";crop=" << crop << ";mean=" << mean[0] << "," << mean[1] << "," << mean[2]
     << ";std=" << std[0] << "," << std[1] << "," << std[2] << ";interp=" << interp;
  return os.str();
}

namespace {
// The filter taps of one output coordinate of a 1-D resize: the first input index and fixed-point weights.
struct Taps {
  int first;
  std::vector<int32_t> w;
};
constexpr int kWeightBits = 22;  // weights in units of 2^-22; 8-bit pixels times them fit an int32 sum

// The triangle filter's taps as Pillow's bilinear resampling computes them (and so torchvision's Resize on PIL
// images): output o of `out` looks around the input centre c = (o + 0.5) * in / out over a support of
// s = max(1, in / out) input pixels each side (wider when shrinking: antialiasing), at the inputs
// [int(c - s + 0.5), int(c + s + 0.5)) clipped to the image, with weights max(0, 1 - |i + 0.5 - c| / s)
// normalized to sum 1, then rounded to kWeightBits fixed point.
std::vector<Taps> triangle_taps(int in, int out) {
  const double scale = double(in) / out, support = std::max(1.0, scale);
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, int(center - support + 0.5)), hi = std::min(in, int(center + support + 0.5));
    std::vector<double> w;
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      w.push_back(std::max(0.0, 1.0 - std::fabs((i + 0.5 - center) / support)));
      sum += w.back();
    }
    Taps t{lo, {}};
    for (double v : w) {
      const double x = sum > 0 ? v / sum : 0.0;
      t.w.push_back(int32_t(x < 0 ? x * (1 << kWeightBits) - 0.5 : x * (1 << kWeightBits) + 0.5));
    }
    if (t.w.empty()) t = Taps{std::min(in - 1, std::max(0, int(center))), {1 << kWeightBits}};
    taps[size_t(o)] = std::move(t);
  }
  return taps;
}

// One fixed-point sum back to a pixel: rounded to nearest, clamped to 0..255.
uint8_t to_pixel(int64_t sum) {
  return static_cast<uint8_t>(std::clamp<int64_t>((sum + (1 << (kWeightBits - 1))) >> kWeightBits, 0, 255));
}

// Resamples the rows (horizontal) or the columns (vertical) of `in` to `n` pixels; 8-bit in and out, as Pillow's
// two passes (horizontal first) are.
Image resample_pass(const Image& in, int n, bool horizontal) {
  const auto taps = triangle_taps(horizontal ? in.width : in.height, n);
  Image out;
  out.width = horizontal ? n : in.width, out.height = horizontal ? in.height : n;
  out.rgb.resize(size_t(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const Taps& t = taps[size_t(horizontal ? x : y)];
      int64_t sum[3] = {0, 0, 0};
      for (size_t k = 0; k < t.w.size(); ++k) {
        const int sx = horizontal ? t.first + int(k) : x, sy = horizontal ? y : t.first + int(k);
        const uint8_t* px = &in.rgb[(size_t(sy) * in.width + sx) * 3];
        for (int c = 0; c < 3; ++c) sum[c] += int64_t(t.w[k]) * px[c];
      }
      for (int c = 0; c < 3; ++c) out.rgb[(size_t(y) * out.width + x) * 3 + c] = to_pixel(sum[c]);
    }
  return out;
}
}  // namespace

Image resize(const Image& in, int width, int height, const std::string& interp) {
  GB_CHECK(width > 0 && height > 0 && in.width > 0 && in.height > 0, "resize to ", width, "x", height, " from ",
           in.width, "x", in.height);
  if (interp == "nearest") {
    Image out;
    out.width = width, out.height = height;
    out.rgb.resize(size_t(width) * height * 3);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const int sy = std::min(in.height - 1, int((y + 0.5) * in.height / height));
        const int sx = std::min(in.width - 1, int((x + 0.5) * in.width / width));
        for (int c = 0; c < 3; ++c) out.rgb[(size_t(y) * width + x) * 3 + c] = in.rgb[(size_t(sy) * in.width + sx) * 3 + c];
      }
    return out;
  }
  // A pass runs only where that side changes (Pillow's rule, and the identity either way).
  if (width == in.width && height == in.height) return in;
  if (width == in.width) return resample_pass(in, height, false);
  const Image rows = resample_pass(in, width, true);
  return height == in.height ? rows : resample_pass(rows, height, false);
}

namespace {
// torchvision's CenterCrop offset int(round(d / 2)) for d = outer - inner >= 0: Python rounds half to even, so an
// odd d = 2k + 1 gives k when k is even and k + 1 when it is odd.
int center_offset(int64_t outer, int64_t inner) {
  const int64_t d = outer - inner, k = d / 2;
  return int(d % 2 == 0 || k % 2 == 0 ? k : k + 1);
}
}  // namespace

CropGeometry crop_geometry(int width, int height, const Preprocess& p) {
  GB_CHECK(width > 0 && height > 0, "an image of ", width, "x", height, " pixels has nothing to crop");
  int64_t rw = width, rh = height;
  if (p.resize > 0) {
    // Shorter side to p.resize, aspect ratio kept: the longer one floor(resize * long / short), as torchvision.
    const bool wide = width >= height;
    const int64_t s = wide ? height : width, l = wide ? width : height;
    const int64_t nl = std::max<int64_t>(1, int64_t(p.resize) * l / s);
    rw = wide ? nl : p.resize, rh = wide ? p.resize : nl;
  }
  GB_CHECK(rw * rh <= p.max_pixels, "resizing ", width, "x", height, " to ", rw, "x", rh, " gives ", rw * rh,
           " pixels, over the limit of ", p.max_pixels, " pixels (--max-pixels)");
  CropGeometry g;
  g.resized_w = int(rw), g.resized_h = int(rh);
  g.crop_w = p.crop > 0 ? p.crop : g.resized_w, g.crop_h = p.crop > 0 ? p.crop : g.resized_h;
  GB_CHECK(g.crop_w <= g.resized_w && g.crop_h <= g.resized_h, "crop ", g.crop_w, "x", g.crop_h,
           " is larger than the resized image ", g.resized_w, "x", g.resized_h);
  g.x0 = center_offset(g.resized_w, g.crop_w), g.y0 = center_offset(g.resized_h, g.crop_h);
  return g;
}

Image resize_and_crop(const Image& image, const Preprocess& p) {
  const CropGeometry g = crop_geometry(image.width, image.height, p);
  const Image img = p.resize > 0 ? resize(image, g.resized_w, g.resized_h, p.interp) : image;
  Image out;
  out.width = g.crop_w, out.height = g.crop_h;
  out.rgb.resize(size_t(g.crop_w) * g.crop_h * 3);
  for (int y = 0; y < g.crop_h; ++y)
    std::copy_n(&img.rgb[(size_t(y + g.y0) * img.width + g.x0) * 3], size_t(g.crop_w) * 3,
                &out.rgb[size_t(y) * g.crop_w * 3]);
  return out;
}

bool box_in_crop(const std::array<double, 4>& box, int width, int height, const Preprocess& p,
                 std::array<int64_t, 4>& out) {
  const CropGeometry g = crop_geometry(width, height, p);
  const double sx = double(g.resized_w) / width, sy = double(g.resized_h) / height;
  // The covered interval [x0, x1 + 1) scaled and shifted; output pixel i covers [i, i + 1).
  const double a = box[0] * sx - g.x0, b = (box[2] + 1) * sx - g.x0;
  const double c = box[1] * sy - g.y0, d = (box[3] + 1) * sy - g.y0;
  const int64_t x0 = std::max<int64_t>(0, int64_t(std::floor(a))), x1 = std::min<int64_t>(g.crop_w - 1, int64_t(std::ceil(b)) - 1);
  const int64_t y0 = std::max<int64_t>(0, int64_t(std::floor(c))), y1 = std::min<int64_t>(g.crop_h - 1, int64_t(std::ceil(d)) - 1);
  if (x0 > x1 || y0 > y1) return false;
  out = {x0, y0, x1, y1};
  return true;
}

namespace {
// (pixel - mean[c]) / std[c] of an 8-bit HWC picture into CHW floats.
void normalize_into(const Image& img, const Preprocess& p, float* out) {
  const int cw = img.width, ch = img.height;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x)
        out[(size_t(c) * ch + y) * cw + x] = (img.rgb[(size_t(y) * cw + x) * 3 + c] - p.mean[c]) / p.std[c];
}
}  // namespace

void preprocess_into(const Image& image, const Preprocess& p, float* out) {
  GB_CHECK(p.crop > 0, "preprocessing into a fixed-size buffer needs a crop size (preprocess crop=...)");
  normalize_into(resize_and_crop(image, p), p, out);
}

Tensor normalize_batch(const std::vector<Image>& seen, const Preprocess& p) {
  GB_CHECK(!seen.empty(), "no images to batch");
  const int w = seen[0].width, h = seen[0].height;
  for (size_t i = 1; i < seen.size(); ++i)
    GB_CHECK(seen[i].width == w && seen[i].height == h, "image ", i, " of the batch is ", seen[i].width, "x",
             seen[i].height, " after preprocessing, image 0 is ", w, "x", h, ": batching needs a crop size (preprocess crop=...)");
  Tensor t = Tensor::empty({int64_t(seen.size()), 3, h, w});
  for (size_t i = 0; i < seen.size(); ++i) normalize_into(seen[i], p, t.data<float>() + i * 3 * size_t(h) * w);
  return t;
}

Tensor make_batch(const std::vector<Image>& images, const Preprocess& p) {
  std::vector<Image> seen;
  seen.reserve(images.size());
  for (const Image& image : images) seen.push_back(resize_and_crop(image, p));
  return normalize_batch(seen, p);
}

}  // namespace glassbox::tools
