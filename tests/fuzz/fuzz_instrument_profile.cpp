// libFuzzer target: the instrument-profile YAML parser (drivers/scpi_modulator/profile.cpp) and,
// for profiles it accepts, the SCPI text it generates for opening and for a small schedule. Any
// input must give a Profile or a ProfileError (every issue with file:line:column), never a
// yaml-cpp exception or a crash.
#include "dira/drivers/scpi_modulator/profile.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sm = dira::drivers::scpi_modulator;
  const std::string text(reinterpret_cast<const char*>(data), size);
  sm::Profile p;
  try {
    p = sm::parse_profile(text, "fuzz.yaml");
  } catch (const sm::ProfileError& e) {
    for (const auto& issue : e.issues())
      if (issue.file != "fuzz.yaml") std::abort();  // every issue names the file
    return 0;
  }
  // An accepted profile must generate text without throwing anything but invalid_argument.
  (void)sm::open_commands(p, true);
  std::vector<std::uint8_t> schedule(std::max<std::size_t>(p.min_length, 1));
  for (std::size_t i = 0; i < schedule.size(); ++i) schedule[i] = static_cast<std::uint8_t>(i % p.settings);
  if (schedule.size() <= 4096) {
    try {
      (void)sm::schedule_commands(p, 0, schedule);
      (void)sm::expected_confirm_reply(p, 0, schedule.size());
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
