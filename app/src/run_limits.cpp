// Checks of `--max-trials` / `--duration` against the experiment (run_limits.hpp).
#include "dira/app/run_limits.hpp"

#include "dira/app/lab_units.hpp"
#include "setting_rule.hpp"

#include <cmath>

namespace dira::app {

std::uint64_t protocol_trial_count(const ExperimentConfig& config) {
  // planned_trials with no operator limit, and without the file's stop.trials either: n itself.
  ExperimentConfig unlimited = config;
  unlimited.stop.max_trials = 0;
  return planned_trials(unlimited, 0);
}

RunLimitsCheck check_run_limits(const ExperimentConfig& config, const RunLimits& limits) {
  namespace lu = lab_units;
  RunLimitsCheck r;
  const std::uint64_t n = protocol_trial_count(config);
  if (limits.max_trials) {
    const double m = *limits.max_trials;
    if (!std::isfinite(m) || m < 1 || m != std::floor(m) || m > 1e19) {
      r.error = "--max-trials must be a whole number of trials ≥ 1 (got " + lu::significant(m, 6) + ")";
      return r;
    }
    const auto mt = static_cast<std::uint64_t>(m);
    if (n > 0 && mt > n) {
      r.error = "--max-trials " + lu::grouped(mt) + " exceeds the " + lu::grouped(n) +
                " trials the protocol fixes in advance (the experiment's n); a run never goes past n — "
                "raise n in the experiment file instead";
      return r;
    }
    r.max_trials = mt;
    if (n > 0 && mt < n)
      r.warning = "--max-trials " + lu::grouped(mt) + " is below the protocol's n = " + lu::grouped(n) +
                  ": the run will end incomplete and certify nothing (its statistics are still reported)";
  }
  if (limits.duration_s) {
    const double d = *limits.duration_s;
    if (!std::isfinite(d) || d <= 0) {
      r.error = "--duration must be a positive number of seconds (got " + lu::significant(d, 6) + ")";
      return r;
    }
    r.duration_s = d;
    if (r.warning.empty())
      r.warning = "--duration " + lu::duration(d) +
                  ": if the run stops before the protocol's n trials it ends incomplete and certifies nothing";
  }
  return r;
}

}  // namespace dira::app
