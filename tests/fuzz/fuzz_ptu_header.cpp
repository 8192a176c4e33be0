// libFuzzer target: the PTU header reader (drivers/picoquant/ptu_format.cpp), and the header
// listing `dira ptu-info` prints from it. Any input must give a PtuHeader or a PtuFormatError;
// anything else (another exception, a crash, a sanitizer report) is a defect.
#include "dira/drivers/picoquant/ptu.hpp"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pq = dira::drivers::picoquant;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  // Small bounds keep each execution fast; the bound logic is the same at the defaults.
  pq::PtuLimits limits;
  limits.max_value_bytes = 1 << 16;
  limits.max_header_value_bytes = 1 << 17;
  limits.max_header_tags = 4096;
  try {
    const pq::PtuHeader h = pq::read_header(in, limits);
    std::size_t total = 0;
    for (const auto& t : h.tags) total += t.value_string().size() + t.name().size();
    const pq::RecordDecoder decoder(h);  // read_header promised a decodable header
    (void)decoder;
    return total == 0 ? 0 : 0;
  } catch (const pq::PtuFormatError&) {
  }
  return 0;
}
