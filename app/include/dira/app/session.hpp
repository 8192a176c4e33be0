#pragma once
/// @file session.hpp
/// One acquisition run: config → devices → trial assembly → protocol → recorder → report.
/// Used by `dira run` and (issue 6) the GUI, so both write the same run directory.

#include "dira/app/experiment.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/decision.hpp"
#include "dira/protocol/protocol_c.hpp"
#include "dira/station/health.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dira::app {

/// A snapshot for progress displays (owned; safe to hand to another thread). Built from what
/// each stage exposes, embedded as the stage defines it rather than copied field by field
/// (issue 10 item 5): the protocol's live statistics, Protocol C's scorer statistics, the trial
/// assembler's and the setting scheduler's counters; plus the display counters run_statistics
/// keeps (clicks per detector, settings per joint setting) and the run's clock.
struct Progress {
  std::uint64_t trials = 0;  ///< trials recorded (in run.h5 and the live protocol)
  std::uint64_t planned = 0;
  double elapsed_s = 0;
  double rate = 0;       ///< trials per second
  double eta_s = -1;     ///< estimated seconds to the planned trial count (-1: unknown)
  std::string stage;     ///< acquiring | paused | analysing | done
  std::string decision;  ///< the run's decision (accept | abort | incomplete), in the "done" snapshot only

  /// Which protocol `live` belongs to ('A', 'B' or 'C'): what its fields mean differs —
  /// B: bell_mean is L_n and ustar_* is S_n; A: bell_mean is E[Z_k | runs so far], the
  /// expectation of the decision statistic Z_k (seed 000 eq. 54) if the boxes were chosen now,
  /// and accept_probability is set; C: `protocol_c` below is what is shown.
  char protocol = 'B';
  /// The live protocol's statistics as the protocol computes them (protocol/decision.hpp).
  protocol::LiveStatistics live;
  /// Protocol C only: the PEF scorer's running statistics (certified smooth min-entropy against
  /// the target fixed before the run, mean log2-gain per trial; protocol/protocol_c.hpp).
  std::optional<protocol::ProtocolCStats> protocol_c;
  double eta_to_target_s = -1;  ///< Protocol C: projected seconds to the target (−1: unknown or never)

  /// The trial assembler's counters as of the last block recorded (hal/trial_assembly.hpp):
  /// trials emitted, no-click and multi-click party-trials, stray and reordered tags, …
  hal::AssemblyCounters assembly;
  /// The setting scheduler's counters (hal/setting_scheduler.hpp): settings drawn and confirmed
  /// delivered — `scheduler.delivered − assembly.trials` is how far the settings are ahead of the
  /// trials they steer. All zero when the settings are chosen by the hardware (read from the echo).
  hal::SchedulerCounters scheduler;

  /// Cumulative detector clicks: one channel per (party, outcome) in `channel_names` order
  /// ("A:0", "A:1", …), then one "no click" channel per party (= assembly.no_click).
  /// Rates are counts / elapsed_s.
  std::vector<std::string> channel_names;
  std::vector<std::uint64_t> channel_counts;

  /// Cumulative count of each joint setting (index = TrialIndex::setting_index), and the
  /// probability band the weak-source model allows for each (exact worst-case ν bounds of the
  /// setting rule; uniform is the ideal-source value).
  std::vector<std::string> setting_labels;
  std::vector<std::uint64_t> setting_counts;
  double setting_probability_min = 0, setting_probability_max = 0, setting_probability_ideal = 0;

  /// Stations (issue 14): each station's link state, heartbeat age, tag rate, backlog, clock
  /// offset and backfill state when this run coordinates stations (`stations:` section);
  /// empty otherwise. The same as station::station_health() at the time of the snapshot
  /// (station/health.hpp; docs/stations.md, "Station health").
  std::vector<station::StationHealth> stations;
};

struct RunOptions {
  std::filesystem::path out;     ///< parent directory of the run directory (default: config outputs.directory)
  std::uint64_t max_trials = 0;  ///< overrides stop.trials when > 0
  double duration_s = 0;         ///< overrides stop.duration_s when > 0
  std::function<void(const Progress&)> progress;  ///< called every progress_interval_s (from the run's thread)
  double progress_interval_s = 1.0;  ///< ≥ 0.04 for a GUI (25 snapshots/s); run.h5 is flushed ≤ 1 s regardless
  const std::atomic<bool>* interrupt = nullptr;  ///< set by a signal handler or the GUI: stop, flush, report
  const std::atomic<bool>* pause = nullptr;  ///< while true, no events are taken from the tagger (the simulator waits)
  std::function<void(const std::filesystem::path&)> on_directory;  ///< the run directory, once created
  std::function<void(const std::string&)> warning;  ///< a problem that does not stop the run (e.g. disk may fill)
  /// Drivers to create the devices from (tests inject fakes); null: every driver dira ships.
  const hal::DriverRegistry* registry = nullptr;
};

/// Where a run's time went (dira-bench reports it; not part of the report, which must not
/// depend on the machine's load). Wall-clock seconds unless named CPU; CPU times are per thread.
struct RunTimings {
  double setup_s = 0;        ///< devices, run directory, run.h5 created, until acquisition starts
  double acquisition_s = 0;  ///< the tagger's start to the end of its stream
  double acquisition_cpu_s = 0, draws_cpu_s = 0, recording_cpu_s = 0;  ///< per stage's thread, while acquiring
  double waited_for_draws_s = 0;  ///< the acquisition thread waiting for the settings' draw thread
  double finish_s = 0;            ///< after acquisition: the last trials, ledger and statistics flushed
  double decision_s = 0;          ///< the analysis pass over run.h5 (`dira analyze`'s code), extraction
  double report_s = 0;  ///< ledger and sv_bits.bin made durable, the report (with the planner's verdict), close
  double total_s = 0;
};

/// How a run ended (state) and what it decided (verdict), kept apart: see run_report.hpp.
struct RunResult {
  std::string state;     ///< completed | stopped | interrupted | hardware-fault | storage-full | storage-error
  std::string decision;  ///< accept | abort | incomplete (a run that ended before the protocol's n)
  int exit_code = 0;     ///< accept 0, abort 3; incomplete: 130 interrupted, 4 hardware fault, 1 storage, 5 stopped
  std::filesystem::path directory;
  nlohmann::json report;
  RunTimings timings;
};

/// The band [min, max] of the probability of each joint setting that the weak-source model
/// allows (product over parties of the exact worst-case ν bounds of the setting rule: one SV
/// bit per party for Protocol A, rejection sampling for B). What the setting histogram of a
/// live run or a replayed one is drawn against.
std::pair<double, double> setting_probability_band(const ExperimentConfig& config);

/// Runs the experiment on its devices (the simulator, or a tagger and modulators from any
/// driver): the wiring of the stages in app/src (device_set, run_directory, acquisition,
/// run_statistics, run_report). Throws ConfigError / RunFileError before anything is
/// created when the run cannot be set up.
RunResult run_experiment(const ExperimentConfig& config, const RunOptions& options);

/// Re-runs the protocol from a run directory's config.yaml, run.h5 and sv_bits.bin; the
/// decision and output hash equal the live run's (or, for a crashed run, are computed over
/// the trials recorded, marked so).
nlohmann::json analyze_run_directory(const std::filesystem::path& directory);

}  // namespace dira::app
