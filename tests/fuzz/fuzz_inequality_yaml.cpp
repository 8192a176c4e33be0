// libFuzzer target: an inequality file (issue 12). Any input must load (terms built by the
// protocol/ expression rules, numbers range-checked) or be refused with a ConfigError; any
// other exception, a crash or a hang is a finding.
#include "dira/app/inequality_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)dira::app::load_inequality_text(text, "fuzz.yaml");
  } catch (const dira::app::ConfigError&) {
    // refused with its issues
  } catch (...) {
    std::abort();
  }
  return 0;
}
