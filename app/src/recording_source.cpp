#include "recording_source.hpp"

namespace dira::app {

std::string pack_bits(const std::vector<bool>& bits) {
  std::string s((bits.size() + 7) / 8, '\0');
  for (std::size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) s[i / 8] = static_cast<char>(static_cast<unsigned char>(s[i / 8]) | (0x80u >> (i % 8)));
  return s;
}

}  // namespace dira::app
