#include "tools/glassbox/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

Image load_image(const std::string& path, int64_t max_pixels) {
  FILE* f = std::fopen(path.c_str(), "rb");
  GB_CHECK(f, path, ": cannot open the file");
  int w = 0, h = 0, comp = 0;
  const int ok = stbi_info_from_file(f, &w, &h, &comp);
  if (!ok) {
    std::fclose(f);
    fail(path, ": not a readable image (expected JPEG, PNG or BMP): ", stbi_failure_reason());
  }
  if (int64_t(w) * h > max_pixels || w <= 0 || h <= 0) {
    std::fclose(f);
    fail(path, ": image of ", w, "x", h, " pixels exceeds the limit of ", max_pixels, " pixels");
  }
  unsigned char* data = stbi_load_from_file(f, &w, &h, &comp, 3);
  std::fclose(f);
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
  auto floats3 = [&](const std::string& key, const std::string& v, float* out) {
    std::stringstream vs(v);
    std::string x;
    int n = 0;
    while (std::getline(vs, x, ',')) {
      GB_CHECK(n < 3, "preprocess '", key, "': expected 3 comma-separated numbers, got '", v, "'");
      try {
        out[n++] = std::stof(x);
      } catch (const std::exception&) {
        fail("preprocess '", key, "': '", x, "' is not a number");
      }
    }
    if (n == 1) out[1] = out[2] = out[0];
    else GB_CHECK(n == 3, "preprocess '", key, "': expected 1 or 3 numbers, got '", v, "'");
  };
  while (std::getline(ss, item, ';')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    GB_CHECK(eq != std::string::npos, "preprocess item '", item, "': expected key=value");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    auto integer = [&]() {
      GB_CHECK(!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() < 6,
               "preprocess '", k, "': expected a non-negative integer, got '", v, "'");
      return std::stoi(v);
    };
    if (k == "resize") p.resize = integer();
    else if (k == "crop") p.crop = integer();
    else if (k == "mean") floats3(k, v, p.mean);
    else if (k == "std") floats3(k, v, p.std);
    else if (k == "interp") {
      GB_CHECK(v == "bilinear" || v == "nearest", "preprocess interp '", v, "': expected bilinear or nearest");
      p.interp = v;
    } else {
      fail("unknown preprocess key '", k, "' (resize, crop, mean, std, interp)");
    }
  }
  for (float s : p.std) GB_CHECK(s != 0.f, "preprocess std must not be 0");
  return p;
}

Preprocess Preprocess::parse(const std::string& spec) { return parse(spec, Preprocess()); }

Preprocess Preprocess::for_model(const Shape& in, const std::string& spec) {
  Preprocess p;
  if (in.size() == 4 && in[2] > 0 && in[3] == in[2]) {
    p.crop = static_cast<int>(in[2]);
    p.resize = static_cast<int>(std::lround(double(in[2]) * 256.0 / 224.0));
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
// Filter taps for one output coordinate of a 1-D resize: first input index and normalized weights.
struct Taps {
  int first;
  std::vector<float> w;
};
std::vector<Taps> triangle_taps(int in, int out) {
  const double scale = double(in) / out;
  const double support = std::max(1.0, scale);  // widen the triangle when shrinking (antialias)
  std::vector<Taps> taps(out);
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(center - support))), hi = std::min(in, int(std::ceil(center + support)));
    Taps t{lo, {}};
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      const double x = (i + 0.5 - center) / support;
      const double wgt = std::max(0.0, 1.0 - std::fabs(x));
      t.w.push_back(float(wgt));
      sum += wgt;
    }
    for (float& v : t.w) v = sum > 0 ? float(v / sum) : 0.f;
    if (t.w.empty()) t = Taps{std::min(in - 1, std::max(0, int(center))), {1.f}};
    taps[o] = std::move(t);
  }
  return taps;
}
}  // namespace

Image resize(const Image& in, int width, int height, const std::string& interp) {
  GB_CHECK(width > 0 && height > 0 && in.width > 0 && in.height > 0, "resize to ", width, "x", height, " from ",
           in.width, "x", in.height);
  Image out;
  out.width = width, out.height = height;
  out.rgb.resize(size_t(width) * height * 3);
  if (interp == "nearest") {
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const int sy = std::min(in.height - 1, int((y + 0.5) * in.height / height));
        const int sx = std::min(in.width - 1, int((x + 0.5) * in.width / width));
        for (int c = 0; c < 3; ++c) out.rgb[(size_t(y) * width + x) * 3 + c] = in.rgb[(size_t(sy) * in.width + sx) * 3 + c];
      }
    return out;
  }
  // Horizontal pass into floats, then vertical pass into bytes.
  const auto tx = triangle_taps(in.width, width), ty = triangle_taps(in.height, height);
  std::vector<float> mid(size_t(in.height) * width * 3);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float s = 0;
        for (size_t k = 0; k < tx[x].w.size(); ++k) s += tx[x].w[k] * in.rgb[(size_t(y) * in.width + tx[x].first + k) * 3 + c];
        mid[(size_t(y) * width + x) * 3 + c] = s;
      }
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float s = 0;
        for (size_t k = 0; k < ty[y].w.size(); ++k) s += ty[y].w[k] * mid[((ty[y].first + k) * width + x) * 3 + c];
        out.rgb[(size_t(y) * width + x) * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(s), 0L, 255L));
      }
  return out;
}

CropGeometry crop_geometry(int width, int height, const Preprocess& p) {
  CropGeometry g;
  g.resized_w = width, g.resized_h = height;
  if (p.resize > 0) {
    // Shorter side to p.resize, aspect ratio kept.
    const bool wide = width >= height;
    const int s = wide ? height : width, l = wide ? width : height;
    const int nl = std::max(1, int(int64_t(p.resize) * l / s));
    g.resized_w = wide ? nl : p.resize, g.resized_h = wide ? p.resize : nl;
  }
  g.crop_w = p.crop > 0 ? p.crop : g.resized_w, g.crop_h = p.crop > 0 ? p.crop : g.resized_h;
  GB_CHECK(g.crop_w <= g.resized_w && g.crop_h <= g.resized_h, "crop ", g.crop_w, "x", g.crop_h,
           " is larger than the resized image ", g.resized_w, "x", g.resized_h);
  g.x0 = int(std::lround((g.resized_w - g.crop_w) / 2.0)), g.y0 = int(std::lround((g.resized_h - g.crop_h) / 2.0));
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

void preprocess_into(const Image& image, const Preprocess& p, float* out) {
  const Image img = resize_and_crop(image, p);
  const int cw = img.width, ch = img.height;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x)
        out[(size_t(c) * ch + y) * cw + x] = (img.rgb[(size_t(y) * cw + x) * 3 + c] - p.mean[c]) / p.std[c];
}

Tensor make_batch(const std::vector<Image>& images, const Preprocess& p) {
  GB_CHECK(!images.empty(), "no images to batch");
  GB_CHECK(p.crop > 0 || images.size() == 1, "batching images needs a crop size (preprocess crop=...)");
  const int side = p.crop;
  Tensor t = Tensor::empty({int64_t(images.size()), 3, side, side});
  for (size_t i = 0; i < images.size(); ++i) preprocess_into(images[i], p, t.data<float>() + i * 3 * side * side);
  return t;
}

}  // namespace glassbox::tools
