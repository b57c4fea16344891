// TensorBoard event files: CRC-32C against published check values, the TFRecord framing read back from a written
// file (lengths and CRCs verify, every record parses as an Event), the images' PNGs decode to the pixels given,
// and clear errors for folders that cannot be written. TensorBoard's own reader runs on a written file in the
// tensorboard_reader test (tests/tools/test_tensorboard_reader.sh).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>

#include "engine/error.h"
#include "tools/tensorboard/event_writer.h"
#include "tools/tensorboard/summary.pb.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image.h>  // the decoder compiled into glassbox_tools (tools/glassbox/image.cpp)
#pragma GCC diagnostic pop

namespace fs = std::filesystem;

namespace glassbox::tools {
namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("glassbox_test_tb_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  return dir;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

uint32_t crc_of(const std::vector<uint8_t>& bytes) { return crc32c(bytes.data(), bytes.size()); }

uint64_t get_le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(uint8_t(s[at + i])) << (8 * i);
  return v;
}

// Splits a file's bytes into TFRecord payloads, checking each length and both masked CRCs.
std::vector<std::string> read_records(const std::string& bytes) {
  std::vector<std::string> records;
  size_t at = 0;
  while (at < bytes.size()) {
    EXPECT_GE(bytes.size() - at, 12u) << "truncated record header at byte " << at;
    if (bytes.size() - at < 12) break;
    const uint64_t length = get_le(bytes, at, 8);
    EXPECT_EQ(get_le(bytes, at + 8, 4), masked_crc32c(bytes.data() + at, 8)) << "length CRC at byte " << at;
    EXPECT_LE(length + 16, bytes.size() - at) << "record at byte " << at << " runs past the end";
    if (length + 16 > bytes.size() - at) break;
    const std::string data = bytes.substr(at + 12, length);
    EXPECT_EQ(get_le(bytes, at + 12 + length, 4), masked_crc32c(data.data(), data.size()))
        << "data CRC at byte " << at;
    records.push_back(data);
    at += 16 + length;
  }
  return records;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST(TensorBoardCrc32c, Rfc3720CheckValues) {
  // RFC 3720 (iSCSI), appendix B.4: the CRC is transmitted least significant byte first, so the bytes
  // "aa 36 91 8a" listed for 32 zero bytes are the value 0x8A9136AA.
  EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0xFF)), 0x62A8AB43u);
  std::vector<uint8_t> ascending(32);
  std::iota(ascending.begin(), ascending.end(), uint8_t(0));
  EXPECT_EQ(crc_of(ascending), 0x46DD794Eu);
  std::vector<uint8_t> descending(ascending.rbegin(), ascending.rend());
  EXPECT_EQ(crc_of(descending), 0x113FDB5Cu);
  // The catalogue check value of CRC-32/ISCSI (CRC-32C).
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(TensorBoardCrc32c, ContinuesAcrossCalls) {
  const char* text = "The quick brown fox jumps over the lazy dog";
  const size_t n = std::strlen(text);
  for (size_t split = 0; split <= n; ++split)
    EXPECT_EQ(crc32c(text + split, n - split, crc32c(text, split)), crc32c(text, n)) << split;
}

TEST(TensorBoardCrc32c, MaskMatchesTensorBoardsReader) {
  // Values from TensorBoard's own reader (tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c).
  EXPECT_EQ(masked_crc32c("123456789", 9), 0xC78AB0E5u);
  EXPECT_EQ(masked_crc32c("", 0), 0xA282EAD8u);
  const unsigned char length24[8] = {24, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(masked_crc32c(length24, 8), 0x224B7FA3u);
}

TEST(TensorBoardRecords, Framing) {
  std::string out;
  append_tfrecord(out, "abc");
  append_tfrecord(out, "");
  ASSERT_EQ(out.size(), (16u + 3u) + 16u);
  EXPECT_EQ(get_le(out, 0, 8), 3u);
  EXPECT_EQ(out.substr(12, 3), "abc");
  EXPECT_EQ(get_le(out, 19, 8), 0u);
  const auto records = read_records(out);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0], "abc");
  EXPECT_EQ(records[1], "");
}

TEST(TensorBoardEventWriter, FileReadsBack) {
  const fs::path dir = temp_dir("run") / "nested";  // created with its parents
  Image img;
  img.width = 7, img.height = 5;
  img.rgb.resize(7 * 5 * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i * 37 + 11);
  std::string path;
  {
    EventWriter tb(dir.string());
    path = tb.path();
    tb.add_scalar("loss", 0, 1.5f);
    tb.add_scalar("loss", 7, -0.25f);
    tb.add_image("cam/overlay", 3, img);
    tb.flush();
  }
  EXPECT_EQ(fs::path(path).parent_path(), dir);
  // events.out.tfevents.<unix seconds>.<hostname>.<pid>.glassbox
  const std::string name = fs::path(path).filename().string(), prefix = "events.out.tfevents.";
  const std::string suffix = "." + std::to_string(::getpid()) + ".glassbox";
  ASSERT_EQ(name.rfind(prefix, 0), 0u) << name;
  ASSERT_GT(name.size(), prefix.size() + suffix.size()) << name;
  EXPECT_EQ(name.substr(name.size() - suffix.size()), suffix) << name;
  const std::string seconds = name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size());
  EXPECT_GT(std::stoll(seconds), 1600000000LL) << name;
  EXPECT_GT(name.size(), prefix.size() + seconds.size() + 1 + suffix.size()) << "no hostname: " << name;

  const auto records = read_records(read_file(path));
  ASSERT_EQ(records.size(), 4u);
  std::vector<glassbox::tensorboard::Event> events(records.size());
  for (size_t i = 0; i < records.size(); ++i) ASSERT_TRUE(events[i].ParseFromString(records[i])) << i;

  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);
  for (int i = 1; i < 4; ++i) {
    ASSERT_TRUE(events[i].has_summary()) << i;
    ASSERT_EQ(events[i].summary().value_size(), 1) << i;
    EXPECT_GE(events[i].wall_time(), events[0].wall_time()) << i;
  }
  EXPECT_EQ(events[1].step(), 0);
  EXPECT_EQ(events[1].summary().value(0).tag(), "loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 1.5f);
  EXPECT_EQ(events[2].step(), 7);
  EXPECT_EQ(events[2].summary().value(0).simple_value(), -0.25f);

  EXPECT_EQ(events[3].step(), 3);
  const auto& value = events[3].summary().value(0);
  EXPECT_EQ(value.tag(), "cam/overlay");
  ASSERT_TRUE(value.has_image());
  EXPECT_EQ(value.image().width(), 7);
  EXPECT_EQ(value.image().height(), 5);
  EXPECT_EQ(value.image().colorspace(), 3);
  const std::string& png = value.image().encoded_image_string();
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  int w = 0, h = 0, comp = 0;
  unsigned char* pixels =
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()), int(png.size()), &w, &h, &comp, 3);
  ASSERT_NE(pixels, nullptr);
  EXPECT_EQ(w, 7);
  EXPECT_EQ(h, 5);
  EXPECT_EQ(comp, 3);
  EXPECT_TRUE(std::equal(img.rgb.begin(), img.rgb.end(), pixels));
  stbi_image_free(pixels);
  fs::remove_all(dir.parent_path());
}

TEST(TensorBoardEventWriter, WritersInOneFolderGetTheirOwnFiles) {
  const fs::path dir = temp_dir("two");
  std::string first, second;
  {
    EventWriter a(dir.string()), b(dir.string());  // same process, almost surely the same second
    first = a.path(), second = b.path();
    a.add_scalar("x", 1, 1.0f);
    b.add_scalar("x", 2, 2.0f);
  }
  EXPECT_NE(first, second);
  EXPECT_EQ(read_records(read_file(first)).size(), 2u);
  EXPECT_EQ(read_records(read_file(second)).size(), 2u);
  fs::remove_all(dir);
}

TEST(TensorBoardEventWriter, UnwritableFolderIsAClearError) {
  const fs::path dir = temp_dir("blocked");
  fs::create_directories(dir);
  const fs::path file = dir / "not_a_folder";
  std::ofstream(file) << "x";
  // A folder under a regular file cannot be created, not even by root.
  const std::string below = (file / "logs").string();
  std::string e = error_of([&] { EventWriter tb(below); });
  EXPECT_NE(e.find(below), std::string::npos) << e;
  EXPECT_NE(e.find("cannot create the TensorBoard log folder"), std::string::npos) << e;
  // The log folder named is a regular file.
  e = error_of([&] { EventWriter tb(file.string()); });
  EXPECT_NE(e.find(file.string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot create the TensorBoard log folder"), std::string::npos) << e;
  // A folder without write permission (root writes anyway: checked only for other users).
  if (::geteuid() != 0) {
    const fs::path ro = dir / "read_only";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    e = error_of([&] { EventWriter tb(ro.string()); });
    EXPECT_NE(e.find(ro.string()), std::string::npos) << e;
    EXPECT_NE(e.find("cannot create the TensorBoard event file"), std::string::npos) << e;
    fs::permissions(ro, fs::perms::owner_all);
  }
  EXPECT_NE(error_of([] { EventWriter tb(""); }), "");
  fs::remove_all(dir);
}

TEST(TensorBoardEventWriter, BadImageNamesTheTag) {
  const fs::path dir = temp_dir("bad_image");
  EventWriter tb(dir.string());
  Image img;
  img.width = 4, img.height = 4;
  img.rgb.resize(10);
  const std::string e = error_of([&] { tb.add_image("cam/broken", 0, img); });
  EXPECT_NE(e.find("cam/broken"), std::string::npos) << e;
  EXPECT_NE(e.find(tb.path()), std::string::npos) << e;
  EXPECT_NE(e.find("48 bytes"), std::string::npos) << e;
  tb.add_scalar("still/works", 0, 1.0f);  // a refused image leaves the file intact
  tb.flush();
  EXPECT_EQ(read_records(read_file(tb.path())).size(), 2u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace glassbox::tools
