#pragma once
/// @file run_statistics.hpp
/// What a live display shows of a run (CLI progress line, GUI plots): built from the counters
/// the stages expose — the trial assembler's and the setting scheduler's counters (embedded as
/// they are), clicks per detector (acquisition), settings per joint setting (trials), the
/// protocol's live statistics (embedded) — into an owned `Progress` snapshot.

#include "dira/app/experiment.hpp"
#include "dira/app/session.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/decision.hpp"
#include "dira/protocol/trial_index.hpp"

#include <span>
#include <string>
#include <vector>

namespace dira::app {

class RunStatistics {
 public:
  RunStatistics(const ExperimentConfig& config, const hal::TrialAssemblyConfig& layout);
  /// Detector slot of each hardware channel 0…4095 (−1: not a detector): one slot per
  /// (party, outcome), in `Progress::channel_names` order.
  const std::vector<int>& slot_of_channel() const { return slot_of_channel_; }
  std::size_t slots() const { return channel_names_.size() - 1; }
  /// One acquired block's counters: its clicks per detector slot, and the assembler's and the
  /// scheduler's cumulative counters as of the block.
  void add_counters(std::span<const std::uint64_t> slot_counts, const hal::AssemblyCounters& assembly,
                    const hal::SchedulerCounters& scheduler);
  void add_trials(std::span<const protocol::Trial> trials);

  struct Clock {
    std::uint64_t trials = 0, planned = 0;
    double elapsed_s = 0, duration_s = 0;
  };
  /// `protocol`: 'A', 'B' or 'C', the protocol whose statistics `live` holds.
  Progress snapshot(const protocol::LiveStatistics& live, char protocol, const Clock& clock,
                    const std::string& stage) const;

 private:
  protocol::TrialIndexer indexer_;
  std::vector<std::string> channel_names_;
  std::vector<int> slot_of_channel_;
  std::vector<std::uint64_t> clicks_;  // per slot, then no-click party-trials
  hal::AssemblyCounters assembly_;
  hal::SchedulerCounters scheduler_;
  std::vector<std::string> setting_labels_;
  std::vector<std::uint64_t> setting_counts_;
  double nu_lo_ = 0, nu_hi_ = 0;
};

}  // namespace dira::app
