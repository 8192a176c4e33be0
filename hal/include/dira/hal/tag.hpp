#pragma once
/// @file tag.hpp
/// Time tags as USB-3 time taggers deliver them: 16 bytes {type, missed events, channel, time}.

#include <cstdint>
#include <string>
#include <vector>

namespace dira::hal {

/// What a tag is. The layout labs know from the common USB-3 taggers: a tag is either a
/// detection time or an in-band note about the stream itself.
enum class TagType : std::uint8_t {
  time_tag = 0,        ///< a detection (or marker) on `channel` at `time_ps`
  error = 1,           ///< the device reports a fault; tags may be missing around `time_ps`
  overflow_begin = 2,  ///< the device's buffer overflowed from here: tags are being dropped
  overflow_end = 3,    ///< tags are complete again from here
  missed_events = 4,   ///< `missed` detections on `channel` were lost (counted, not time-stamped)
  /// The device (or its driver) states that every tag with time < `time_ps` has been delivered.
  /// Lets trial assembly close the last trials of a segment after which no sync follows.
  time_mark = 5,
};
const char* to_string(TagType type);

struct Tag {
  TagType type = TagType::time_tag;
  std::uint8_t reserved = 0;
  std::uint16_t missed = 0;  ///< for missed_events: how many
  std::int32_t channel = 0;  ///< device channel number (1-based on most devices; as the device numbers it)
  std::int64_t time_ps = 0;  ///< picoseconds since the start of the stream
};
static_assert(sizeof(Tag) == 16, "Tag must stay 16 bytes: it is streamed at 10^8 tags/s");

/// A block of tags in time order, owned by the receiver.
using TagBlock = std::vector<Tag>;

}  // namespace dira::hal
