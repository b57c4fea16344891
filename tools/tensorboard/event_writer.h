// TensorBoard event files written natively: scalars and images that `tensorboard --logdir DIR` shows.
//
//   glassbox::tools::EventWriter tb("runs/resnet50");      // creates the folder and a new event file in it
//   tb.add_scalar("explain/ms", step, 12.5f);
//   tb.add_image("gradcam/chelsea.png", step, overlay);     // 8-bit RGB, stored as PNG
//   tb.flush();                                             // also done by the destructor
//
// The file is a sequence of TFRecords (framing below), each holding one serialized Event
// (tools/tensorboard/summary.proto: TensorFlow's Event / Summary messages, the fields used here only).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "tools/glassbox/image.h"

namespace glassbox::tools {

// CRC-32C (Castagnoli): the reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF, as defined
// for iSCSI in RFC 3720 (section 12.1 and the check values of appendix B.4). `crc` continues an earlier
// checksum: crc32c(b, nb, crc32c(a, na)) == crc32c(a + b).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The masked CRC that TFRecord stores (TensorFlow's crc32c::Mask, tensorflow/core/lib/hash/crc32c.h):
// ((crc >> 15) | (crc << 17)) + 0xa282ead8 in 32-bit arithmetic, so that a CRC computed over data that itself
// holds CRCs does not degenerate.
uint32_t masked_crc32c(const void* data, size_t size);

// Appends one TFRecord holding `data` to `out`. The TFRecord format, as TensorFlow's record writer frames it
// (tensorflow/core/lib/io/record_writer.cc; "TFRecords format details" in TensorFlow's tf.data TFRecord guide):
//   uint64 length          little-endian, the size of data
//   uint32 masked_crc32c(the 8 bytes of length)
//   byte   data[length]
//   uint32 masked_crc32c(data)
// All integers little-endian.
void append_tfrecord(std::string& out, const std::string& data);

// Writes one event file. RAII: the constructor creates the folder (and its parents) and the file
// `DIR/events.out.tfevents.<unix seconds>.<hostname>.<pid>.glassbox` (".glassbox.N" when that name is taken),
// and writes the header event (file_version "brain.Event:2"); the destructor flushes and closes.
// Every failure throws glassbox::Error naming the path. One thread at a time.
class EventWriter {
 public:
  explicit EventWriter(const std::string& log_dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // A value on the Scalars tab: one point at `step` of the curve `tag`.
  void add_scalar(const std::string& tag, int64_t step, float value);
  // An image on the Images tab (8-bit RGB, height x width x 3), stored as PNG. The slider of `tag` steps
  // through the steps.
  void add_image(const std::string& tag, int64_t step, const Image& rgb);
  // Each add_* hands its event to the operating system before returning (a running TensorBoard sees it);
  // flush() does it again and is where a late write error surfaces. The destructor cannot report one.
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& serialized_event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace glassbox::tools
