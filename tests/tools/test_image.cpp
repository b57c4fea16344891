// Image input: decoding (JPEG/PNG/BMP, grayscale and RGBA converted), clear errors for bad files, resizing,
// preprocessing specs; and the bundled photos classified end to end by EfficientNet-Lite0.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "engine/model.h"
#include "tests/support/testdata.h"
#include "tools/glassbox/image.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace fs = std::filesystem;

namespace glassbox::tools {
namespace {

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("glassbox_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Image, GrayscaleAndRgbaBecomeRgb) {
  const std::string gray = temp_path("gray.png"), rgba = temp_path("rgba.png");
  const unsigned char g[4] = {0, 85, 170, 255};
  ASSERT_TRUE(stbi_write_png(gray.c_str(), 2, 2, 1, g, 2));
  const unsigned char c[8] = {10, 20, 30, 255, 40, 50, 60, 0};
  ASSERT_TRUE(stbi_write_png(rgba.c_str(), 2, 1, 4, c, 8));
  const Image a = load_image(gray);
  ASSERT_EQ(a.rgb.size(), 12u);
  EXPECT_EQ(a.rgb[3], 85);
  EXPECT_EQ(a.rgb[4], 85);
  EXPECT_EQ(a.rgb[5], 85);
  const Image b = load_image(rgba);
  EXPECT_EQ(std::vector<uint8_t>(b.rgb.begin(), b.rgb.end()), (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));
}

TEST(Image, BadFilesGiveOneLineErrors) {
  EXPECT_NE(error_of([] { load_image("/nonexistent/x.png"); }).find("cannot open"), std::string::npos);
  const std::string text = temp_path("not_an_image.jpg");
  std::ofstream(text) << "hello, this is text";
  const std::string e = error_of([&] { load_image(text); });
  EXPECT_NE(e.find(text), std::string::npos);
  EXPECT_NE(e.find("expected JPEG, PNG or BMP"), std::string::npos);
  const std::string big = temp_path("big.bmp");
  std::vector<unsigned char> px(64 * 64 * 3, 7);
  ASSERT_TRUE(stbi_write_bmp(big.c_str(), 64, 64, 3, px.data()));
  EXPECT_NE(error_of([&] { load_image(big, 1000); }).find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(load_image(big).width, 64);
  // A truncated PNG: the header is fine, the data is not.
  const std::string png = temp_path("trunc.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), 64, 64, 3, px.data(), 64 * 3));
  fs::resize_file(png, fs::file_size(png) / 2);
  EXPECT_NE(error_of([&] { load_image(png); }), "");
}

TEST(Image, ResizeKeepsConstantsAndAveragesWhenShrinking) {
  Image img;
  img.width = 8, img.height = 8;
  img.rgb.assign(8 * 8 * 3, 100);
  const Image r = resize(img, 3, 5);
  for (uint8_t v : r.rgb) EXPECT_EQ(v, 100);
  // Columns alternating 0 / 200 shrunk by 2: the antialiasing filter averages them to ~100.
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) img.rgb[(y * 8 + x) * 3 + c] = x % 2 ? 200 : 0;
  const Image h = resize(img, 4, 8);
  for (int x = 1; x < 3; ++x) EXPECT_NEAR(h.rgb[(3 * 4 + x) * 3], 100, 2);
}

TEST(Preprocess, ParsesOverridesAndRejectsNonsense) {
  Preprocess p = Preprocess::parse("resize=256;crop=224;mean=127;std=128,128,128");
  EXPECT_EQ(p.resize, 256);
  EXPECT_EQ(p.mean[2], 127.f);
  EXPECT_EQ(Preprocess::parse(p.str()).str(), p.str());
  EXPECT_THROW(Preprocess::parse("resize=abc"), Error);
  EXPECT_THROW(Preprocess::parse("mean=1,2"), Error);
  EXPECT_THROW(Preprocess::parse("std=0"), Error);
  EXPECT_THROW(Preprocess::parse("colour=red"), Error);
  // Center crop of a 4x2 image to 2x2 takes the middle columns; normalization applies mean and std.
  Image img;
  img.width = 4, img.height = 2;
  for (int i = 0; i < 8; ++i)
    for (int c = 0; c < 3; ++c) img.rgb.push_back(static_cast<uint8_t>(10 * (i % 4)));
  Preprocess q = Preprocess::parse("resize=0;crop=2;mean=10;std=2");
  std::vector<float> out(12);
  preprocess_into(img, q, out.data());
  EXPECT_EQ(out[0], 0.f);  // pixel value 10: (10 - 10) / 2
  EXPECT_EQ(out[1], 5.f);  // pixel value 20
}

// The bundled model on the bundled photos (made by `make assets`).
class BundledModel : public ::testing::Test {
 protected:
  void SetUp() override {
    model_path_ = test::assets_dir() + "/models/efficientnet_lite0.onnx";
    ASSERT_TRUE(fs::exists(model_path_)) << "run `make assets` (part of make test)";
  }
  std::vector<std::vector<std::pair<float, int>>> classify(const std::vector<std::string>& paths) {
    auto model = Model::load(model_path_);
    const Preprocess p = Preprocess::parse(model->metadata("glassbox.preprocess"));
    std::vector<Image> images;
    for (const auto& path : paths) images.push_back(load_image(path));
    Session s(model);
    const Tensor logits = s.run(make_batch(images, p)).output();
    std::vector<std::vector<std::pair<float, int>>> ranked(paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
      for (int c = 0; c < 1000; ++c) ranked[i].push_back({logits.data<float>()[i * 1000 + c], c});
      std::sort(ranked[i].rbegin(), ranked[i].rend());
    }
    return ranked;
  }
  std::string model_path_;
};

// resize_and_crop's geometry by hand: 400x200 with resize 256, crop 224 -> 512x256 (x1.28), crop at (144, 16).
TEST(Image, CropGeometryAndBoxesByHand) {
  Preprocess p;
  const CropGeometry g = crop_geometry(400, 200, p);
  EXPECT_EQ(g.resized_w, 512);
  EXPECT_EQ(g.resized_h, 256);
  EXPECT_EQ(g.x0, 144);
  EXPECT_EQ(g.y0, 16);
  Image im;
  im.width = 400, im.height = 200;
  im.rgb.assign(400 * 200 * 3, 7);
  const Image c = resize_and_crop(im, p);
  EXPECT_EQ(c.width, g.crop_w);
  EXPECT_EQ(c.height, g.crop_h);
  std::array<int64_t, 4> b{};
  // Columns 72..183 cover [72, 184) -> [92.16 - 144, 235.52 - 144) = [-51.84, 91.52): pixels 0..91; rows 8..107
  // cover [8, 108) -> [-5.76, 122.24): pixels 0..122.
  ASSERT_TRUE(box_in_crop({72, 8, 183, 107}, 400, 200, p, b));
  EXPECT_EQ(b, (std::array<int64_t, 4>{0, 0, 91, 122}));
  // Columns 200..209 -> [112, 124.8): pixels 112..124; rows 100..100 -> [112, 113.28): pixels 112..113.
  ASSERT_TRUE(box_in_crop({200, 100, 209, 100}, 400, 200, p, b));
  EXPECT_EQ(b, (std::array<int64_t, 4>{112, 112, 124, 113}));
  // Columns 0..50 -> [-144, -78.72): cut off by the crop.
  b = {-1, -1, -1, -1};
  EXPECT_FALSE(box_in_crop({0, 0, 50, 50}, 400, 200, p, b));
  EXPECT_EQ(b[0], -1);
  // Without resize and crop a box is itself.
  Preprocess none;
  none.resize = 0, none.crop = 0;
  ASSERT_TRUE(box_in_crop({3, 4, 5, 6}, 10, 10, none, b));
  EXPECT_EQ(b, (std::array<int64_t, 4>{3, 4, 5, 6}));
}

TEST_F(BundledModel, ChelseaIsACatAndCoffeeIsEspresso) {
  const std::string photos = test::assets_dir() + "/photos/";
  const auto r = classify({photos + "chelsea.png", photos + "coffee.png"});
  EXPECT_GE(r[0][0].second, 281);
  EXPECT_LE(r[0][0].second, 285);
  bool cup = false;
  for (int k = 0; k < 5; ++k) cup = cup || r[1][k].second == 967 || r[1][k].second == 968;
  EXPECT_TRUE(cup);
}

TEST_F(BundledModel, FoolboxPhotosTop1Accuracy) {
  std::vector<std::string> paths;
  std::vector<int> labels;
  for (const auto& e : fs::directory_iterator(test::assets_dir() + "/photos/foolbox")) {
    const std::string name = e.path().stem().string();  // imagenet_XX_LLL
    paths.push_back(e.path().string());
    labels.push_back(std::stoi(name.substr(name.rfind('_') + 1)));
  }
  ASSERT_EQ(paths.size(), 20u);
  const auto r = classify(paths);
  int correct = 0;
  for (size_t i = 0; i < paths.size(); ++i) correct += r[i][0].second == labels[i];
  std::printf("EfficientNet-Lite0 top-1 on foolbox's 20 photos: %d/20\n", correct);
  RecordProperty("top1_correct", correct);
  EXPECT_GE(correct, 15);  // 17/20 measured with PIL's resize in tools/python (docs/efficientnet_lite0.md)
}

}  // namespace
}  // namespace glassbox::tools
