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
  EXPECT_NE(error_of([&] { load_image(big, 1000); }).find("64x64 pixels, over the limit of 1000"), std::string::npos);
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

// The size a header declares is read (and checked against the limit) before anything is decoded: a PNG that
// declares 20000 x 20000 is "too large", not "not an image"; PNG, BMP and JPEG headers give their sizes.
TEST(Image, HeaderSizeIsCheckedBeforeDecoding) {
  const std::string png = temp_path("declared_huge.png");
  {
    // Signature, then an IHDR chunk of 20000 x 20000, 8-bit RGB; no image data.
    const unsigned char bytes[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    std::ofstream(png, std::ios::binary).write(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }
  EXPECT_NE(error_of([&] { load_image(png); }).find("the image is 20000x20000 pixels, over the limit of 67108864"),
            std::string::npos);
  std::vector<unsigned char> px(37 * 23 * 3, 90);
  const std::string p = temp_path("s.png"), b = temp_path("s.bmp"), j = temp_path("s.jpg");
  ASSERT_TRUE(stbi_write_png(p.c_str(), 37, 23, 3, px.data(), 37 * 3));
  ASSERT_TRUE(stbi_write_bmp(b.c_str(), 37, 23, 3, px.data()));
  {
    // A JPEG's start: SOI, an APP0 segment (skipped by its length), then SOF0 declaring 23 rows of 37 columns.
    const unsigned char bytes[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 6, 'J', 'F', 'I', 'F', 0xFF, 0xC0, 0, 17, 8, 0, 23, 0, 37, 3};
    std::ofstream(j, std::ios::binary).write(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }
  for (const std::string& path : {p, b, j}) {
    int64_t w = 0, h = 0;
    ASSERT_TRUE(image_header_size(path, w, h)) << path;
    EXPECT_EQ(w, 37) << path;
    EXPECT_EQ(h, 23) << path;
    EXPECT_NE(error_of([&] { load_image(path, 37 * 23 - 1); }).find("37x23 pixels, over the limit"), std::string::npos);
  }
  EXPECT_NE(error_of([&] { load_image(fs::temp_directory_path().string()); }).find("is a folder"), std::string::npos);
}

// Every input the image fuzzer (tests/fuzz/fuzz_image) found a defect with is refused with a glassbox::Error
// (under ASan+UBSan in make test: stb_image 2.27's out-of-bounds Huffman table, copy from a null pointer and 2 GiB
// allocation, an int64 overflow in the header check); a top-down BMP (negative height) loads.
TEST(Image, FuzzFindingsAreRefused) {
  const std::string dir = test::source_dir() + "/tests/fuzz/regressions/fuzz_image";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    const std::string e = error_of([&] { load_image(entry.path().string()); });
    EXPECT_NE(e.find(entry.path().string()), std::string::npos) << entry.path() << ": " << e;
  }
  EXPECT_GE(files, 4);
  // Top-down BMP: a 2 x 2 BITMAPINFOHEADER image whose height is -2, 24-bit, rows padded to 8 bytes.
  std::vector<unsigned char> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0,
                                    0xFE, 0xFF, 0xFF, 0xFF, 1, 0, 24, 0, 0, 0, 0, 0, 16, 0, 0, 0};
  bmp.resize(54, 0);
  const unsigned char rows[16] = {0, 0, 255, 0, 255, 0, 0, 0, 255, 0, 0, 255, 255, 255, 0, 0};  // BGR
  bmp.insert(bmp.end(), rows, rows + 16);
  const std::string path = temp_path("top_down.bmp");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bmp.data()), std::streamsize(bmp.size()));
  const Image img = load_image(path);
  ASSERT_EQ(img.width, 2);
  ASSERT_EQ(img.height, 2);
  EXPECT_EQ(img.rgb[0], 255);  // first row first: red
  EXPECT_EQ(img.rgb[1], 0);
}

// The pixel limit bounds the resized image too: a 1 x 20000 picture resized to 256 on its shorter side would be
// 256 x 5120000 pixels.
TEST(Preprocess, ResizedImageIsBoundedByThePixelLimit) {
  Preprocess p;
  const std::string e = error_of([&] { crop_geometry(1, 20000, p); });
  EXPECT_NE(e.find("resizing 1x20000 to 256x5120000 gives 1310720000 pixels, over the limit of 67108864"),
            std::string::npos) << e;
  p.max_pixels = 300 * 256;
  EXPECT_NO_THROW(crop_geometry(300, 256, p));
  p.max_pixels = 300 * 256 - 1;
  EXPECT_THROW(crop_geometry(300, 256, p), Error);
}

// Every spec that cannot run is refused, whatever its source, with what was expected.
TEST(Preprocess, ValidationRefusesWhatCannotRun) {
  const std::pair<const char*, const char*> bad[] = {
      {"resize=99999", "expected an integer from 0 to 16384"},
      {"crop=16385", "expected an integer from 0 to 16384"},
      {"resize=100;crop=101", "crop=101 does not fit in the image resized to 100"},
      {"mean=nan", "not a finite number"},
      {"std=inf", "not a finite number"},
      {"std=-1", "std: expected positive"},
      {"mean=1x", "not a finite number"},
      {"resize=-1", "expected an integer"},
  };
  for (const auto& [spec, what] : bad) EXPECT_NE(error_of([&] { Preprocess::parse(spec); }).find(what), std::string::npos) << spec;
  Preprocess p;
  p.crop = 300;  // set directly, past parse
  EXPECT_THROW(p.validate(), Error);
  // A buffer of crop x crop floats needs a crop; a batch needs one size.
  Image img;
  img.width = 5, img.height = 3;
  img.rgb.assign(5 * 3 * 3, 1);
  std::vector<float> out(5 * 3 * 3);
  EXPECT_NE(error_of([&] { preprocess_into(img, Preprocess::parse("resize=0;crop=0"), out.data()); }).find("needs a crop"),
            std::string::npos);
  Image other = img;
  other.width = 4, other.rgb.resize(4 * 3 * 3);
  EXPECT_NE(error_of([&] { normalize_batch({img, other}, Preprocess::parse("resize=0;crop=0")); }).find("image 1 of the batch is 4x3"),
            std::string::npos);
}

// CenterCrop's offset is torchvision's int(round((resized - crop) / 2)), Python's round halving to even: a
// 341-wide resize cropped to 224 starts at x = 58 (58.5 rounds to 58), a 343-wide one at 60 (59.5 rounds to 60).
TEST(Preprocess, CropOffsetRoundsHalfToEvenAsTorchvision) {
  Preprocess p;
  EXPECT_EQ(crop_geometry(341, 256, p).x0, 58);
  EXPECT_EQ(crop_geometry(343, 256, p).x0, 60);
  EXPECT_EQ(crop_geometry(256, 345, p).y0, 60);  // 60.5 -> 60
  EXPECT_EQ(crop_geometry(256, 256, p).x0, 16);
}

// Our preprocessed tensors against torchvision's Resize + CenterCrop + ToTensor + Normalize on PIL images
// (tools/python/make_preprocess_goldens.py): several aspect ratios, shrinking and enlarging, odd margins.
TEST(Preprocess, EqualsTorchvision) {
  const std::string dir = test::source_dir() + "/tests/data/preprocess";
  std::ifstream specs(dir + "/spec.txt");
  ASSERT_TRUE(specs) << dir;
  std::string name, spec;
  int cases = 0;
  while (specs >> name >> spec) {
    ++cases;
    const Preprocess p = Preprocess::parse(spec);
    const Tensor got = make_batch({load_image(dir + "/" + name + ".png")}, p);
    const Tensor want = test::read_tensor_pb(dir + "/" + name + ".pb").tensor;
    ASSERT_EQ(got.numel(), want.numel()) << name;
    // In pixel levels: |ours - torchvision's| * std.
    double worst = 0;
    int64_t off = 0;
    const int64_t plane = want.numel() / 3;
    for (int64_t i = 0; i < want.numel(); ++i) {
      const double d = std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]) * p.std[i / plane];
      worst = std::max(worst, d);
      off += d > 0.01;
    }
    EXPECT_LT(worst, 0.01) << name << ": " << off << " of " << want.numel() << " values differ, by up to " << worst
                           << " pixel levels";
  }
  EXPECT_EQ(cases, 6);
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
