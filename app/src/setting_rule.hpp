#pragma once
/// @file setting_rule.hpp
/// What the acquisition of a run needs from the experiment to draw (or label) settings: the
/// planned trial count, the protocol's setting rule over the run's ledger, and Protocol A's
/// logical devices. Shared by `dira run` (session.cpp) and `dira simulate-trials`, so both
/// draw the same bits for the same trials.

#include "dira/app/experiment.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace dira::app {

/// Trials of the run: the protocol's own size (A: Σ m_j, B: n, C: the budget), or fewer when
/// `max_trials` (else `stop.max_trials`) is smaller; 0 means no limit given.
std::uint64_t planned_trials(const ExperimentConfig& config, std::uint64_t max_trials);

/// The fewest weak-source bits the settings of `trials` trials can take when dira draws them:
/// ⌈log2 settings⌉ per party per trial (A: 4, B: 8 for ks294 — more whenever rejection
/// sampling rejects —, C: 2). A finite source holding fewer is certain to run dry.
std::uint64_t minimum_setting_bits(const ExperimentConfig& config, std::uint64_t trials);

/// Before anything is created: a weak source that knows how many bits it holds (a file) and
/// holds fewer than the planned trials' settings need is refused with the numbers
/// (ConfigError naming weak_source). Box-choice and extractor bits come on top and cannot all
/// be counted in advance; a source that still runs dry ends the run as `source-exhausted`.
void check_weak_source_suffices(const ExperimentConfig& config, const protocol::SvSource& source, std::uint64_t trials);

/// Protocol A's logical device of each trial: device j takes the m_j consecutive trials after
/// those of devices 0 … j−1 (seed 000, Fig. 2: M = Σ m_j uses in all).
class DeviceBlocks {
 public:
  explicit DeviceBlocks(const std::vector<std::uint64_t>& uses);
  /// Fast for trials in increasing order.
  std::uint32_t device_of(std::uint64_t trial);

 private:
  std::vector<std::uint64_t> ends_;
  std::size_t current_ = 0;
};

/// The setting rule of the protocol, drawing through `ledger` (which must outlive the result):
/// A: draw_setting_guehne and the logical device in blocks; B: draw_setting_rejection;
/// C: draw_setting_one_bit_per_party.
hal::SettingRangeDraw setting_rule(const ExperimentConfig& config, protocol::BitLedger& ledger);

/// Protocol A with hardware-chosen settings: labels each trial with its logical device (the
/// setting rule does that when dira draws). Empty for B and C.
std::function<void(std::span<protocol::Trial>)> device_labels(const ExperimentConfig& config);

}  // namespace dira::app
