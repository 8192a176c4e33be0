#include "dira/protocol/settings_rule.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace dira::protocol {

void draw_setting_guehne(BitLedger& ledger, std::uint64_t trial, Trial& out) {
  const std::uint64_t v = ledger.draw(BitPurpose::setting, 4, trial);
  for (int p = 0; p < 4; ++p) out.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>((v >> (3 - p)) & 1u);
}

int setting_bits_per_attempt(int settings) {
  int b = 0;
  while ((1 << b) < settings) ++b;
  return b;
}

void draw_setting_rejection(BitLedger& ledger, std::uint64_t trial, int parties, int settings, Trial& out) {
  if (parties < 1 || parties > kMaxParties || settings < 1 || settings > 256)
    throw std::invalid_argument("draw_setting_rejection: unsupported scenario");
  const int b = setting_bits_per_attempt(settings);
  if (b == 0) {  // one setting: no bits
    for (int p = 0; p < parties; ++p) out.u[static_cast<std::size_t>(p)] = 0;
    return;
  }
  // Party after party, b-bit attempts until one is below `settings`: the bits are read in the
  // stream's order exactly as one ledger draw per attempt would read them, but drawn in runs of
  // as many bits as the trial is certain to consume — every party still without a setting needs
  // at least one more attempt — so a trial takes about two draws (two virtual calls down to the
  // source each) instead of one per attempt (≈ 3.6 for ks294). No bit is drawn that this trial
  // does not use: the ledger, its positions and purposes, and where a finite source runs out
  // (SourceExhausted, with the bits taken recorded) are those of the draw-per-attempt loop
  // (tests/unit/test_protocols.cpp compares the two). At most kMaxParties · 8 = 32 bits a draw.
  const auto ub = static_cast<unsigned>(b);
  const std::uint64_t mask = (std::uint64_t{1} << ub) - 1;
  const auto limit = static_cast<std::uint64_t>(settings);
  std::uint64_t bits = 0;  // drawn, not yet read: the low `have` bits, the first in the most significant place
  unsigned have = 0;       // a multiple of b, at most b · (parties − p)
  for (int p = 0; p < parties; ++p) {
    std::uint64_t v = 0;
    do {
      if (have == 0) {
        have = ub * static_cast<unsigned>(parties - p);
        bits = ledger.draw(BitPurpose::setting, have, trial);
      }
      have -= ub;
      v = (bits >> have) & mask;
    } while (v >= limit);
    out.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(v);
  }
}

namespace {
/// One application of T: value of the depth-b tree below `prefix` (prefix has `depth` bits).
/// leaf(value) gives the leaf's worth; minimise chooses the adversary's direction.
double tree_value(int b, int depth, unsigned prefix, double eps, bool minimise,
                  const std::function<double(unsigned)>& leaf) {
  if (depth == b) return leaf(prefix);
  const double l0 = tree_value(b, depth + 1, prefix << 1, eps, minimise, leaf);
  const double l1 = tree_value(b, depth + 1, (prefix << 1) | 1u, eps, minimise, leaf);
  const double lo = std::min(l0, l1), hi = std::max(l0, l1);
  return minimise ? (0.5 + eps) * lo + (0.5 - eps) * hi : (0.5 + eps) * hi + (0.5 - eps) * lo;
}

double fixed_point(int b, int settings, double eps, bool minimise, const std::function<bool(unsigned)>& target) {
  double v = 0;
  for (int iter = 0; iter < 100000; ++iter) {
    const double next = tree_value(b, 0, 0, eps, minimise, [&](unsigned value) {
      if (value >= static_cast<unsigned>(settings)) return v;  // rejected: start again
      return target(value) ? 1.0 : 0.0;
    });
    if (std::fabs(next - v) < 1e-15) return next;
    v = next;
  }
  return v;
}
}  // namespace

SettingProbabilityBounds rejection_sampling_bounds(double eps, int settings) {
  if (!(eps >= 0 && eps < 0.5)) throw std::invalid_argument("ε must be in [0, 1/2)");
  if (settings < 1 || settings > 256) throw std::invalid_argument("settings must be 1..256");
  SettingProbabilityBounds r;
  const int b = setting_bits_per_attempt(settings);
  r.bits_per_attempt = b;
  const double rejected = std::ldexp(1.0, b) - settings;
  const double lo = std::pow(0.5 - eps, b), hi = std::pow(0.5 + eps, b);
  r.closed_form_min = lo / (1 - rejected * lo);
  r.closed_form_max = hi / (hi + (settings - 1) * lo);
  r.nu_min_all = 1;
  for (int v = 0; v < settings; ++v) {
    auto is_v = [v](unsigned value) { return value == static_cast<unsigned>(v); };
    r.nu_min.push_back(fixed_point(b, settings, eps, true, is_v));
    r.nu_max.push_back(fixed_point(b, settings, eps, false, is_v));
    r.nu_min_all = std::min(r.nu_min_all, r.nu_min.back());
    r.nu_max_all = std::max(r.nu_max_all, r.nu_max.back());
  }
  // Worst-case acceptance per attempt: minimise the probability of landing on a valid value
  // in one pass of the tree (no restart).
  r.acceptance_min = tree_value(
      b, 0, 0, eps, true, [settings](unsigned value) { return value < static_cast<unsigned>(settings) ? 1.0 : 0.0; });
  r.expected_bits_max = b / r.acceptance_min;
  return r;
}

std::pair<double, double> setting_probability_band(const Scenario& sc, double epsilon, SettingRule rule) {
  double lo = 1, hi = 1;
  for (int p = 0; p < sc.parties(); ++p) {
    if (rule == SettingRule::one_bit_per_party) {
      lo *= 0.5 - epsilon;
      hi *= 0.5 + epsilon;
    } else {
      const auto nb = rejection_sampling_bounds(epsilon, sc.settings(p));
      lo *= nb.nu_min_all;
      hi *= nb.nu_max_all;
    }
  }
  return {lo, hi};
}

}  // namespace dira::protocol
