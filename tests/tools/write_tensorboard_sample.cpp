// Writes a known TensorBoard event file for tests/tools/test_tensorboard_reader.sh, which reads it back with
// TensorBoard's own reader (tools/python/read_tensorboard.py). Usage: write_tensorboard_sample LOG_DIR
// Prints the event file's path. What it writes (the script's expectations must match):
//   scalars  loss          steps 0, 1, 2    values 1.5, 0.75, 0.375
//            accuracy/top1 step 2           value 0.25
//   images   gradcam/cat   step 0 7x5, step 3 4x9 (width x height)
#include <cstdio>
#include <exception>

#include "tools/tensorboard/event_writer.h"

namespace {
glassbox::tools::Image gradient(int width, int height) {
  glassbox::tools::Image img;
  img.width = width, img.height = height;
  img.rgb.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      unsigned char* p = &img.rgb[(size_t(y) * width + x) * 3];
      p[0] = (unsigned char)(255 * x / (width - 1)), p[1] = (unsigned char)(255 * y / (height - 1)), p[2] = 128;
    }
  return img;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LOG_DIR\n", argv[0]);
    return 2;
  }
  try {
    glassbox::tools::EventWriter tb(argv[1]);
    const float loss[] = {1.5f, 0.75f, 0.375f};
    for (int step = 0; step < 3; ++step) tb.add_scalar("loss", step, loss[step]);
    tb.add_scalar("accuracy/top1", 2, 0.25f);
    tb.add_image("gradcam/cat", 0, gradient(7, 5));
    tb.add_image("gradcam/cat", 3, gradient(4, 9));
    tb.flush();
    std::printf("%s\n", tb.path().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
