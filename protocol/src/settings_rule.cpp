#include "dira/protocol/settings_rule.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dira::protocol {

void draw_setting_guehne(BitLedger& ledger, std::uint64_t trial, Trial& out) {
  const std::uint64_t v = ledger.draw(BitPurpose::setting, 4, trial);
  for (int p = 0; p < 4; ++p) out.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>((v >> (3 - p)) & 1u);
}

namespace {
int bits_for(int settings) {
  int b = 0;
  while ((1 << b) < settings) ++b;
  return b;
}
}  // namespace

void draw_setting_rejection(BitLedger& ledger, std::uint64_t trial, int parties, int settings, Trial& out) {
  if (parties < 1 || parties > kMaxParties || settings < 1 || settings > 256)
    throw std::invalid_argument("draw_setting_rejection: unsupported scenario");
  const int b = bits_for(settings);
  for (int p = 0; p < parties; ++p) {
    std::uint64_t v = 0;
    do {
      v = b ? ledger.draw(BitPurpose::setting, static_cast<unsigned>(b), trial) : 0;
    } while (v >= static_cast<std::uint64_t>(settings));
    out.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(v);
  }
}

SettingProbabilityBounds rejection_sampling_bounds(double eps, int settings) {
  if (!(eps >= 0 && eps < 0.5)) throw std::invalid_argument("ε must be in [0, 1/2)");
  SettingProbabilityBounds r;
  const int b = bits_for(settings);
  const double rejected = std::ldexp(1.0, b) - settings;
  const double lo = std::pow(0.5 - eps, b), hi = std::pow(0.5 + eps, b);
  r.bits_per_attempt = b;
  r.nu_min = lo / (1 - rejected * lo);
  double attempts_max = 1 / (settings * lo);  // acceptance probability ≥ s(½−ε)^b
  if (rejected * hi < 1) attempts_max = std::min(attempts_max, 1 / (1 - rejected * hi));
  r.nu_max = std::min(1.0, hi * attempts_max);
  r.expected_bits_max = b * attempts_max;
  return r;
}

}  // namespace dira::protocol
