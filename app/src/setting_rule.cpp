#include "setting_rule.hpp"

#include "dira/app/lab_units.hpp"

#include "dira/app/session.hpp"

#include "dira/protocol/protocol_c.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <memory>

namespace dira::app {

namespace P = dira::protocol;

std::uint64_t planned_trials(const ExperimentConfig& c, std::uint64_t max_trials) {
  std::uint64_t planned = 0;
  if (c.protocol == 'A')
    for (auto m : c.uses_per_device) planned += m;
  else if (c.protocol == 'C')
    planned = c.c.trials;
  else
    planned = c.b.trials;
  if (const auto m = max_trials ? max_trials : c.stop.max_trials; m && m < planned) planned = m;
  return planned;
}

std::uint64_t minimum_setting_bits(const ExperimentConfig& c, std::uint64_t trials) {
  const auto& sc = c.inequality.expression.scenario();
  std::uint64_t per_trial = 0;
  for (int p = 0; p < sc.parties(); ++p)
    per_trial += static_cast<std::uint64_t>(P::setting_bits_per_attempt(sc.settings(p)));
  return per_trial * trials;
}

void check_weak_source_suffices(const ExperimentConfig& c, const P::SvSource& source, std::uint64_t trials) {
  if (c.devices.hardware_chosen_settings) return;  // the settings come from the hardware's own source
  const auto available = source.bits_available();
  if (!available) return;
  const std::uint64_t need = minimum_setting_bits(c, trials);
  if (*available >= need) return;
  throw ConfigError({ConfigIssue{
      c.file, 0, 0, "weak_source",
      "the weak source holds " + lab_units::count(static_cast<double>(*available), "bit") + " (" +
          lab_units::bytes(static_cast<double>(*available) / 8) + "), but the settings of the planned " +
          lab_units::count(static_cast<double>(trials), "trial") + " need at least " +
          lab_units::count(static_cast<double>(need), "bit") +
          " (⌈log2 settings⌉ per party per trial; more when rejection sampling rejects, and box-choice and "
          "extractor bits after the trials): give a larger source or plan fewer trials (--max-trials)"}});
}

DeviceBlocks::DeviceBlocks(const std::vector<std::uint64_t>& uses) {
  std::uint64_t end = 0;
  for (auto m : uses) ends_.push_back(end += m);
}

std::uint32_t DeviceBlocks::device_of(std::uint64_t trial) {
  while (current_ + 1 < ends_.size() && trial >= ends_[current_]) ++current_;  // trials come in order
  while (current_ > 0 && trial < ends_[current_ - 1]) --current_;
  return static_cast<std::uint32_t>(current_);
}

hal::SettingRangeDraw setting_rule(const ExperimentConfig& c, P::BitLedger& ledger) {
  if (c.protocol == 'A')
    return [&ledger, blocks = std::make_shared<DeviceBlocks>(c.uses_per_device)](std::uint64_t first,
                                                                                 std::span<P::Trial> ts) {
      for (std::size_t k = 0; k < ts.size(); ++k) {
        P::draw_setting_guehne(ledger, first + k, ts[k]);
        ts[k].device = blocks->device_of(first + k);
      }
    };
  const auto& sc = c.inequality.expression.scenario();
  if (c.protocol == 'C')  // one weak-source bit per party, Alice's first (docs/protocol-c-security.md §2)
    return [&ledger, parties = sc.parties()](std::uint64_t first, std::span<P::Trial> ts) {
      for (std::size_t k = 0; k < ts.size(); ++k) P::draw_setting_one_bit_per_party(ledger, first + k, parties, ts[k]);
    };
  // A top-up at a time: the bits in long runs (draw_settings_rejection), same bits and ledger.
  return [&ledger, parties = sc.parties(), s0 = sc.settings(0)](std::uint64_t first, std::span<P::Trial> ts) {
    P::draw_settings_rejection(ledger, first, parties, s0, ts);
  };
}

std::function<void(std::span<P::Trial>)> device_labels(const ExperimentConfig& c) {
  if (c.protocol != 'A') return {};
  return [blocks = std::make_shared<DeviceBlocks>(c.uses_per_device)](std::span<P::Trial> ts) {
    for (auto& t : ts) t.device = blocks->device_of(t.index);
  };
}

std::pair<double, double> setting_probability_band(const ExperimentConfig& c) {
  return P::setting_probability_band(
      c.inequality.expression.scenario(), c.epsilon,
      c.protocol == 'B' ? P::SettingRule::rejection_sampling : P::SettingRule::one_bit_per_party);
}

}  // namespace dira::app
