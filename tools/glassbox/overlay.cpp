#include "tools/glassbox/overlay.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/error.h"

namespace glassbox::tools {

namespace {
#include "tools/glassbox/colormaps.inc"
}  // namespace

void check_colormap(const std::string& name) {
  GB_CHECK(name == "jet" || name == "turbo" || name == "viridis", "unknown colormap '", name,
           "' (available: jet, turbo, viridis)");
}

void colormap(const std::string& name, float v, unsigned char rgb[3]) {
  v = std::isfinite(v) ? std::clamp(v, 0.f, 1.f) : 0.f;
  if (name == "jet") {  // r, g, b = clamp(1.5 - |4v - 3|), clamp(1.5 - |4v - 2|), clamp(1.5 - |4v - 1|)
    for (int c = 0; c < 3; ++c)
      rgb[c] = static_cast<unsigned char>(std::lround(255.f * std::clamp(1.5f - std::fabs(4.f * v - 3.f + c), 0.f, 1.f)));
    return;
  }
  const auto& table = name == "turbo" ? kTurbo : kViridis;
  const int i = std::clamp(int(std::lround(v * 255.f)), 0, 255);
  std::copy_n(table[i], 3, rgb);
}

Image overlay(const Image& image, const float* map, const std::string& cmap, float alpha) {
  check_colormap(cmap);
  Image out = image;
  for (size_t p = 0; p < size_t(image.width) * image.height; ++p) {
    unsigned char c[3];
    colormap(cmap, map[p], c);
    for (int k = 0; k < 3; ++k)
      out.rgb[p * 3 + k] = static_cast<unsigned char>(std::lround(alpha * c[k] + (1.f - alpha) * image.rgb[p * 3 + k]));
  }
  return out;
}

void save_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  std::string dims;
  int64_t n = 1;
  for (int64_t d : shape) dims += std::to_string(d) + ", ", n *= d;
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // "(3,)" for one dimension, "(2, 3)" for more
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic, version 1.0, header length; the header padded with spaces and ended by \n to a multiple of 64 bytes.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  GB_CHECK(f, "cannot write ", path);
  const unsigned short len = static_cast<unsigned short>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.put(char(len & 0xff)).put(char(len >> 8));
  f << header;
  f.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(float)));
  GB_CHECK(f, "cannot write ", path);
}

}  // namespace glassbox::tools
