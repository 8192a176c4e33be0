#pragma once
/// @file session.hpp
/// One acquisition run: config → devices → trial assembly → protocol → recorder → report.
/// Used by `dira run` and (issue 6) the GUI, so both write the same run directory.

#include "dira/app/experiment.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

namespace dira::app {

/// A snapshot for progress displays (owned; safe to hand to another thread).
struct Progress {
  std::uint64_t trials = 0;
  std::uint64_t planned = 0;
  double elapsed_s = 0;
  double rate = 0;  ///< trials per second
  double bell = 0, bell_half_width = 0, bell_threshold = 0;
  double ustar = 0, ustar_half_width = 0, ustar_threshold = 0;
  bool has_ustar = false;
  std::string projected;
};

struct RunOptions {
  std::filesystem::path out;          ///< parent directory of the run directory (default: config outputs.directory)
  std::uint64_t max_trials = 0;       ///< overrides stop.trials when > 0
  double duration_s = 0;              ///< overrides stop.duration_s when > 0
  std::function<void(const Progress&)> progress;  ///< called about once a second
  const std::atomic<bool>* interrupt = nullptr;   ///< set by a signal handler: stop, flush, report
};

struct RunResult {
  std::string status;       ///< accepted | aborted | interrupted | hardware-fault
  int exit_code = 0;        ///< 0, 3, 130, 4
  std::filesystem::path directory;
  nlohmann::json report;
};

/// Runs the experiment on its simulator (the only apparatus dira can drive today). Throws
/// ConfigError / RunFileError before acquisition starts when the run cannot be set up.
RunResult run_experiment(const ExperimentConfig& config, const RunOptions& options);

/// Re-runs the protocol from a run directory's config.yaml, run.h5 and sv_bits.bin; the
/// decision and output hash equal the live run's (or, for a crashed run, are computed over
/// the trials recorded, marked so).
nlohmann::json analyze_run_directory(const std::filesystem::path& directory);

}  // namespace dira::app
