// Protocol C setting rule (docs/protocol-c-security.md §2): one SV bit per party.
#include "dira/protocol/protocol_c.hpp"

#include <stdexcept>

namespace dira::protocol {

void draw_setting_one_bit_per_party(BitLedger& ledger, std::uint64_t trial, int parties, Trial& out) {
  if (parties < 1 || parties > kMaxParties) throw std::invalid_argument("draw_setting_one_bit_per_party: parties");
  // One draw of `parties` bits, first drawn = most significant = party 0: the same bits, in the
  // same order, as `parties` single-bit draws. Party 0's bit comes first in the SV stream, so
  // party 1's bias may depend on it — exactly the settings model of §3.2.
  const std::uint64_t v = ledger.draw(BitPurpose::setting, static_cast<unsigned>(parties), trial);
  for (int p = 0; p < parties; ++p)
    out.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>((v >> (parties - 1 - p)) & 1u);
}

}  // namespace dira::protocol
