// libFuzzer target: what a station or a coordinator receives (station/wire.hpp). Any byte string
// must decode to a frame or be refused with station::WireError, with bounded memory, never a
// crash or another exception; a frame that decodes must encode back to the same bytes (the
// format has exactly one encoding per frame).
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
    std::vector<std::uint8_t> again;
    switch (f.kind) {
      case st::FrameKind::control:
        again = st::encode_control(f.sequence, f.text);
        break;
      case st::FrameKind::tags:
        again = st::encode_tags(f.sequence, f.position, f.tags);
        break;
      case st::FrameKind::settings:
        again = st::encode_settings(f.sequence, f.position, f.party, f.settings);
        break;
    }
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
