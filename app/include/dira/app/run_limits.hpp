#pragma once
/// @file
/// The operator's limits on a run (`dira run --max-trials N --duration S`, the GUI's fields),
/// checked against the experiment before anything is created. The protocols fix their trial
/// count n in advance (seed 000 Fig. 2, seed 001 §3; Protocol C's budget), so a limit above n
/// cannot be honoured and a limit below n makes the run incomplete: both are said, never
/// silently ignored.

#include "dira/app/experiment.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace dira::app {

struct RunLimits {
  std::optional<double> max_trials;  ///< as given (may be anything the user typed)
  std::optional<double> duration_s;
};

struct RunLimitsCheck {
  std::string error;             ///< non-empty: refuse the run (exit 2) with this message
  std::string warning;           ///< non-empty: the run goes ahead, and the operator is told this
  std::uint64_t max_trials = 0;  ///< the checked limit for RunOptions (0: none)
  double duration_s = 0;         ///< the checked limit for RunOptions (0: none)
};

/// The protocol's own trial count n of `config` (A: Σ m_j, B: n, C: the budget), before any limit.
std::uint64_t protocol_trial_count(const ExperimentConfig& config);

RunLimitsCheck check_run_limits(const ExperimentConfig& config, const RunLimits& limits);

}  // namespace dira::app
