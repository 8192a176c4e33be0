// libFuzzer target: the trial CSV reader of `dira analyze-trials` (app/src/trials_csv.cpp) on
// any bytes, for a two-party (9 settings, 4 outcomes: ks294) and a four-party (2, 2: guehne4)
// scenario chosen by the first byte. Any input must give trials or a ConfigError naming the
// file, with no raw control byte of the input echoed in the message; every trial handed on is
// in range and in increasing order; a line is never longer than kMaxTrialsCsvLine.
#include "dira/app/trials_csv.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace P = dira::protocol;
  static const P::Scenario two({9, 9}, {4, 4});
  static const P::Scenario four({2, 2, 2, 2}, {2, 2, 2, 2});
  if (size == 0) return 0;
  const P::Scenario& sc = (data[0] & 1u) ? four : two;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  bool first = true;
  std::uint64_t last = 0, rows = 0;
  try {
    const auto info = dira::app::for_each_trial_csv(in, "fuzz.csv", sc, [&](const P::Trial& t) {
      if (!first && t.index <= last) std::abort();
      first = false;
      last = t.index;
      for (int p = 0; p < sc.parties(); ++p) {
        const auto i = static_cast<std::size_t>(p);
        if (t.u[i] >= sc.settings(p) || t.x[i] >= sc.outcomes(p)) std::abort();
      }
      ++rows;
    });
    if (info.rows != rows) std::abort();
  } catch (const dira::app::ConfigError& e) {
    const std::string m = e.what();
    if (m.find("fuzz.csv") == std::string::npos) std::abort();
    for (const char c : m)  // tabs and newlines are the message's own layout
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') std::abort();
  }
  return 0;
}
