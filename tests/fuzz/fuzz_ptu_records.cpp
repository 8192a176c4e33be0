// libFuzzer target: the TTTR record decoder (drivers/picoquant/ptu_records.cpp) for every record
// type. The first 2 bytes choose the record type and the two resolutions, the rest are records,
// decoded in two blocks (the decoder carries its state across calls). Checked: only
// PtuFormatError (a bad record) or std::invalid_argument (a resolution too coarse for the type)
// escapes, and no tag has a negative time (the wrapped times of issue 12). Tag order is not
// asserted: markers may legitimately arrive late (docs/ptu.md §3).
#include "dira/drivers/picoquant/ptu.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pq = dira::drivers::picoquant;
  if (size < 2) return 0;
  const auto& types = pq::all_record_types();
  const pq::RecordType type = types[data[0] % types.size()];
  // Resolutions from 1 fs to 1000 s in decades, as the header allows (docs/ptu.md §1).
  static const double kRes[] = {1e-15, 1e-13, 1e-12, 4e-12, 25e-12, 1e-9, 12.5e-9, 1e-6, 1e-3, 1.0, 1e3};
  constexpr std::size_t kN = sizeof kRes / sizeof kRes[0];
  const double global = kRes[(data[1] & 0x0F) % kN];
  const double res = kRes[(data[1] >> 4) % kN];
  std::vector<std::uint32_t> words((size - 2) / 4);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::uint8_t* p = data + 2 + 4 * i;
    words[i] = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
               static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  }
  try {
    pq::RecordDecoder d(type, global, res);
    dira::hal::TagBlock out;
    // Two calls, split in the middle: the decoder carries its state across blocks.
    const std::size_t half = words.size() / 2;
    try {
      d.decode(std::span<const std::uint32_t>(words.data(), half), out);
      d.decode(std::span<const std::uint32_t>(words.data() + half, words.size() - half), out, 4 * half);
    } catch (const pq::PtuFormatError&) {
    }
    for (const auto& t : out)
      if (t.time_ps < 0) std::abort();  // a wrapped time (issue 12)
  } catch (const std::invalid_argument&) {
    // A resolution too coarse for the record type's field (refused by read_header too).
  }
  return 0;
}
