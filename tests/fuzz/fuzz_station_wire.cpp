// libFuzzer target: what a station or a coordinator receives (station/wire.hpp). Any byte string
// must decode to a frame or be refused with station::WireError, with bounded memory, never a
// crash or another exception; a frame that decodes must encode back to the same bytes (the
// format has exactly one encoding per frame: versions 1 and 2, packed tags included — a
// non-minimal varint or an extended form where the short one fits is refused, not re-encoded),
// and the coordinator's chunked reader (TagFrameReader) must agree with decode() on every input.
#include "dira/station/wire.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace st = dira::station;
  const std::span<const std::uint8_t> in(data, size);
  try {
    const st::Frame f = st::decode(in);
    // In its own version and kind: a version-1 frame re-encodes as version 1, a packed one
    // (version 2, kind 4) packed.
    const std::vector<std::uint8_t> again = st::encode(f);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  } catch (const st::WireError&) {
  }
  // The same bytes with the length and checksum fixed up: random mutations almost never keep
  // a checksum valid, so without this the payload parsers (packed tags above all) would be
  // reached only from the seeds. Every frame that decodes must still encode back to itself.
  if (size >= st::kHeaderBytes && size - st::kHeaderBytes <= st::kMaxPayload) {
    std::vector<std::uint8_t> fixed(data, data + size);
    const auto len = static_cast<std::uint32_t>(size - st::kHeaderBytes);
    std::memcpy(fixed.data() + 24, &len, 4);
    std::memset(fixed.data() + 28, 0, 4);
    const std::uint32_t crc = st::frame_checksum(fixed[4], fixed);
    std::memcpy(fixed.data() + 28, &crc, 4);
    bool tag_frame = false;
    st::Frame f;
    try {
      f = st::decode(fixed);
      if (st::encode(f) != fixed) std::abort();
      std::uint64_t seq = 0;
      dira::hal::TagBlock out;
      if (st::carries_tags(f.kind) && st::decode_tags_into(fixed, seq, out) != f.position) std::abort();
      tag_frame = st::carries_tags(f.kind);
    } catch (const st::WireError&) {
    }
    // The coordinator's chunked reader (TagFrameReader, 3 tags a call) accepts exactly the tag
    // frames decode() accepts, with the same tags.
    try {
      st::TagFrameReader r(fixed);
      dira::hal::TagBlock out(std::size_t{r.tags()} + 3);
      std::size_t got = 0;
      for (std::size_t n; (n = r.read(out.data() + got, 3)) > 0;) got += n;
      if (!tag_frame || got != f.tags.size() ||
          (got && std::memcmp(out.data(), f.tags.data(), got * sizeof(dira::hal::Tag)) != 0))
        std::abort();
    } catch (const st::WireError&) {
      if (tag_frame) std::abort();
    }
  }
  try {
    std::uint64_t seq = 0;
    dira::hal::TagBlock out;
    st::decode_tags_into(in, seq, out);
  } catch (const st::WireError&) {
  }
  return 0;
}
