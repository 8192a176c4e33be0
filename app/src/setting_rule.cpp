#include "setting_rule.hpp"

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

DeviceBlocks::DeviceBlocks(const std::vector<std::uint64_t>& uses) {
  std::uint64_t end = 0;
  for (auto m : uses) ends_.push_back(end += m);
}

std::uint32_t DeviceBlocks::device_of(std::uint64_t trial) {
  while (current_ + 1 < ends_.size() && trial >= ends_[current_]) ++current_;  // trials come in order
  while (current_ > 0 && trial < ends_[current_ - 1]) --current_;
  return static_cast<std::uint32_t>(current_);
}

hal::SettingDraw setting_rule(const ExperimentConfig& c, P::BitLedger& ledger) {
  if (c.protocol == 'A')
    return [&ledger, blocks = std::make_shared<DeviceBlocks>(c.uses_per_device)](std::uint64_t i, P::Trial& t) {
      P::draw_setting_guehne(ledger, i, t);
      t.device = blocks->device_of(i);
    };
  const auto& sc = c.inequality.expression.scenario();
  if (c.protocol == 'C')  // one weak-source bit per party, Alice's first (docs/protocol-c-security.md §2)
    return [&ledger, parties = sc.parties()](std::uint64_t i, P::Trial& t) {
      P::draw_setting_one_bit_per_party(ledger, i, parties, t);
    };
  return [&ledger, parties = sc.parties(), s0 = sc.settings(0)](std::uint64_t i, P::Trial& t) {
    P::draw_setting_rejection(ledger, i, parties, s0, t);
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
