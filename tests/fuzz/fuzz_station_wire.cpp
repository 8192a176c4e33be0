// libFuzzer target: what a station or a coordinator receives (station/wire.hpp). Any byte string
// must decode to a frame or be refused with station::WireError, with bounded memory, never a
// crash or another exception; a frame that decodes must encode back to the same bytes (the
// format has exactly one encoding per frame: versions 1 and 2, packed tags included — a
// non-minimal varint or an extended form where the short one fits is refused, not re-encoded).
#include "dira/station/wire.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

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
  try {
    std::uint64_t seq = 0;
    dira::hal::TagBlock out;
    st::decode_tags_into(in, seq, out);
  } catch (const st::WireError&) {
  }
  return 0;
}
