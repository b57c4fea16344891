#include "tools/tensorboard/event_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "tools/tensorboard/summary.pb.h"

// stb_image_write's implementation is compiled once, in tools/glassbox/image.cpp (glassbox_tools).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace glassbox::tools {
namespace {

// CRC-32C, bit-reflected (least significant bit first): the polynomial
// x^32 + x^28 + x^27 + x^26 + x^25 + x^23 + x^22 + x^20 + x^19 + x^18 + x^14 + x^13 + x^11 + x^10 + x^9 + x^8 + x^6 + 1
// (0x1EDC6F41) reversed is 0x82F63B78 (RFC 3720, section 12.1). table[b] is the CRC register after shifting the
// byte b through it, so each input byte costs one lookup.
constexpr uint32_t kCastagnoliReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = (r & 1u) ? (r >> 1) ^ kCastagnoliReflected : r >> 1;
    table[b] = r;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFFu));
}

double unix_seconds_now() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() * 1e-6;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string name(buf);
  for (char& c : name)
    if (c == '/') c = '_';
  return name;
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t r = ~crc;  // the register starts at 0xFFFFFFFF; continuing undoes the final XOR of the earlier call
  for (size_t i = 0; i < size; ++i) r = kCrc32cTable[(r ^ p[i]) & 0xFFu] ^ (r >> 8);
  return ~r;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

void append_tfrecord(std::string& out, const std::string& data) {
  std::string length;
  put_le(length, uint64_t(data.size()), 8);
  out += length;
  put_le(out, masked_crc32c(length.data(), length.size()), 4);
  out += data;
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
}

EventWriter::EventWriter(const std::string& log_dir) {
  namespace fs = std::filesystem;
  GB_CHECK(!log_dir.empty(), "TensorBoard log folder: the name is empty");
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  GB_CHECK(!ec, log_dir, ": cannot create the TensorBoard log folder: ", ec.message());
  GB_CHECK(fs::is_directory(log_dir, ec), log_dir, ": cannot create the TensorBoard log folder: not a folder");

  // TensorBoard reads every file whose name contains "tfevents"; the time, host and process make the name unique
  // across machines and runs, and a counter separates writers of one process within the same second.
  const std::string base = (fs::path(log_dir) / ("events.out.tfevents." +
                                                  std::to_string(int64_t(unix_seconds_now())) + "." +
                                                  host_name() + "." + std::to_string(::getpid()) + ".glassbox"))
                               .string();
  int fd = -1;
  for (int n = 0; n < 1000 && fd < 0; ++n) {
    path_ = n == 0 ? base : base + "." + std::to_string(n);
    fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    GB_CHECK(fd >= 0 || errno == EEXIST, path_, ": cannot create the TensorBoard event file: ",
             std::strerror(errno));
  }
  GB_CHECK(fd >= 0, base, ": cannot create the TensorBoard event file: 1000 files of that name exist");
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    const int err = errno;
    ::close(fd);
    fail(path_, ": cannot open the TensorBoard event file: ", std::strerror(err));
  }

  glassbox::tensorboard::Event header;
  header.set_wall_time(unix_seconds_now());
  header.set_file_version("brain.Event:2");  // version 2: TensorBoard keeps out-of-order steps
  try {
    write_event(header.SerializeAsString());
  } catch (...) {
    std::fclose(file_);
    file_ = nullptr;
    throw;
  }
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write_event(const std::string& serialized_event) {
  std::string record;
  append_tfrecord(record, serialized_event);
  GB_CHECK(std::fwrite(record.data(), 1, record.size(), file_) == record.size(), path_,
           ": cannot write the TensorBoard event file: ", std::strerror(errno));
  flush();
}

void EventWriter::flush() {
  GB_CHECK(std::fflush(file_) == 0, path_, ": cannot write the TensorBoard event file: ", std::strerror(errno));
}

void EventWriter::add_scalar(const std::string& tag, int64_t step, float value) {
  glassbox::tensorboard::Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_step(step);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(value);
  write_event(event.SerializeAsString());
}

void EventWriter::add_image(const std::string& tag, int64_t step, const Image& rgb) {
  GB_CHECK(rgb.width > 0 && rgb.height > 0 && rgb.rgb.size() == size_t(rgb.width) * rgb.height * 3, path_,
           ": image '", tag, "': expected ", rgb.width, "x", rgb.height, " RGB pixels (",
           size_t(std::max(rgb.width, 0)) * size_t(std::max(rgb.height, 0)) * 3, " bytes), got ", rgb.rgb.size(),
           " bytes");
  std::string png;
  GB_CHECK(stbi_write_png_to_func(append_to_string, &png, rgb.width, rgb.height, 3, rgb.rgb.data(),
                                  rgb.width * 3) != 0,
           path_, ": image '", tag, "': PNG encoding failed");

  glassbox::tensorboard::Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_step(step);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* image = v->mutable_image();
  image->set_height(rgb.height);
  image->set_width(rgb.width);
  image->set_colorspace(3);  // RGB
  image->set_encoded_image_string(std::move(png));
  write_event(event.SerializeAsString());
}

}  // namespace glassbox::tools
