#include "dira/protocol/settings_rule.hpp"

#include <algorithm>
#include <array>
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
  draw_settings_rejection(ledger, trial, parties, settings, std::span<Trial>(&out, 1));
}

void draw_settings_rejection(BitLedger& ledger, std::uint64_t first, int parties, int settings, std::span<Trial> out) {
  if (parties < 1 || parties > kMaxParties || settings < 1 || settings > 256)
    throw std::invalid_argument("draw_setting_rejection: unsupported scenario");
  const int b = setting_bits_per_attempt(settings);
  if (b == 0) {  // one setting: no bits
    for (auto& t : out)
      for (int p = 0; p < parties; ++p) t.u[static_cast<std::size_t>(p)] = 0;
    return;
  }
  // The rule, party after party and trial after trial: b-bit attempts until one is below
  // `settings`. Over a run of trials the bits form one sequence of b-bit attempts, and the
  // accepted ones fill the (trial, party) slots in order. A slot still empty needs at least one
  // more attempt, so with `open` slots left, open · b more bits are certain to be used by these
  // trials: they are drawn in one ledger run, and read attempt by attempt — each accepted value
  // written to the next slot, the slot advancing by the comparison's result (no branch to
  // mispredict). About log(slots) / log(16/7) runs fill a ks294 batch. No bit is drawn that these
  // trials do not use, so the bits, the ledger and the exhaustion point are those of one draw per
  // attempt; the ledger learns which trial each run's last bit served (BitLedger::draw_run).
  constexpr std::size_t kTrialsAtOnce = 1024;  // slots ≤ 1024 · kMaxParties; bits ≤ 8 times that
  constexpr std::size_t kSlots = kTrialsAtOnce * kMaxParties;
  std::array<std::uint8_t, kSlots + 1> value;            // per slot, trial-major; one past for a rejected last attempt
  std::array<std::uint64_t, kSlots * 8 / 64 + 1> words;  // one word past the bits, read as zeros
  const auto ub = static_cast<unsigned>(b);
  const auto limit = static_cast<std::uint64_t>(settings);
  const auto np = static_cast<std::size_t>(parties);
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t trials = std::min(kTrialsAtOnce, out.size() - done);
    const std::uint64_t trial0 = first + done;
    const std::size_t slots = trials * np;
    std::size_t filled = 0;
    while (filled < slots) {
      const std::uint64_t attempts = slots - filled;
      ledger.draw_run(BitPurpose::setting, attempts * ub, trial0 + filled / np, words.data(), [&](std::uint64_t bits) {
        words[(bits + 63) / 64] = 0;
        std::size_t slot = filled;
        const auto attempt = [&](std::uint64_t a) {
          const std::uint64_t pos = a * ub;
          const auto s = static_cast<unsigned>(pos & 63);
          const std::uint64_t w = (words[pos >> 6] << s) | ((words[(pos >> 6) + 1] >> 1) >> (63 - s));
          const std::uint64_t v = w >> (64 - ub);
          value[slot] = static_cast<std::uint8_t>(v);
          slot += v < limit ? 1 : 0;
        };
        // The attempts before the one holding the last bit, then that one when it
        // is whole (it is not when the source ran out part-way through it).
        const std::uint64_t last = (bits - 1) / ub;
        for (std::uint64_t a = 0; a < last; ++a) attempt(a);
        const std::size_t slot_of_last = slot;
        if (bits % ub == 0) attempt(last);
        filled = slot;
        return trial0 + slot_of_last / np;
      });
    }
    for (std::size_t k = 0; k < trials; ++k)
      for (std::size_t p = 0; p < np; ++p) out[done + k].u[p] = value[k * np + p];
    done += trials;
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
