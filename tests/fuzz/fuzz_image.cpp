// libFuzzer target for the image path: bytes -> a file (one per process, under /dev/shm or $TMPDIR, unlinked and
// read through /proc/self/fd, rewritten for each input) -> load_image(path, 2^20 pixels) (the header check, then
// stb_image: JPEG, PNG, BMP) -> if it decodes: resize_and_crop to resize=32 crop=24 (bilinear and nearest) and
// make_batch's normalization, under a pixel limit of 2^20. glassbox::Error is the expected way to refuse; any other
// exception, a crash, a sanitizer report (stb_image's code included: it is compiled into glassbox_tools), a leak or
// a huge allocation (make fuzz: over 1 GiB) is a finding. See docs/fuzzing.md.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/glassbox/image.h"

namespace {

#define FUZZ_ASSERT(cond) \
  do {                    \
    if (!(cond)) __builtin_trap(); \
  } while (0)

constexpr int64_t kMaxPixels = int64_t(1) << 20;

// The input's file: created once per process under /dev/shm (or $TMPDIR), unlinked at once and read through
// /proc/self/fd/N, so that nothing is left behind, not even by a crash.
int g_fd = -1;
std::string g_path;

const std::string& input_path() {
  if (g_fd < 0) {
    std::string dir = "/dev/shm";
    if (access(dir.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      dir = tmp && *tmp ? tmp : "/tmp";
    }
    const std::string file = dir + "/glassbox_fuzz_image." + std::to_string(getpid()) + ".img";
    g_fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (g_fd < 0) std::abort();  // the harness cannot run: not a finding of the input, but never silent
    unlink(file.c_str());
    g_path = "/proc/self/fd/" + std::to_string(g_fd);
  }
  return g_path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = input_path();
  if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, data, size, 0) != ssize_t(size)) std::abort();
  glassbox::tools::Image img;
  try {
    img = glassbox::tools::load_image(path, kMaxPixels);
  } catch (const glassbox::Error&) {
    return 0;
  }
  FUZZ_ASSERT(img.width > 0 && img.height > 0 && int64_t(img.width) * img.height <= kMaxPixels);
  FUZZ_ASSERT(img.rgb.size() == size_t(img.width) * img.height * 3);

  glassbox::tools::Preprocess p;
  p.resize = 32, p.crop = 24, p.max_pixels = kMaxPixels;
  for (const char* interp : {"bilinear", "nearest"}) {
    p.interp = interp;
    glassbox::tools::Image seen;
    try {
      seen = glassbox::tools::resize_and_crop(img, p);
    } catch (const glassbox::Error&) {
      continue;  // e.g. a 1 x 2^20 image resized to 32 x 2^25: over the limit
    }
    FUZZ_ASSERT(seen.width == 24 && seen.height == 24 && seen.rgb.size() == 24 * 24 * 3);
    glassbox::Tensor t = glassbox::tools::make_batch({img}, p);  // resized once already: cannot refuse now
    FUZZ_ASSERT(t.numel() == 3 * 24 * 24);
    const float* v = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) FUZZ_ASSERT(std::isfinite(v[i]));
  }
  return 0;
}
