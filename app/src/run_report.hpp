#pragma once
/// @file run_report.hpp
/// report.json of a run: what ran (devices, weak source, scheduler), what happened (status,
/// trials, assembly counters, ledger), what was decided (the analysis), and — when nothing
/// was certified — what run would certify, from the planner (docs/run-file.md).

#include "acquisition.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/experiment.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/sv_source.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dira::app {

/// "dira <version>": what report.json and run.h5 name as the software that wrote them.
std::string software_name();

/// Everything the report states about a run.
struct RunFacts {
  const ExperimentConfig* config = nullptr;
  std::filesystem::path directory;
  std::string tagger, weak_source;
  std::vector<std::string> modulators;
  std::uint64_t trials = 0, planned = 0;
  hal::AssemblyCounters assembly;
  bool fair_sampling = false;
  hal::SettingDelivery delivery = hal::SettingDelivery::streaming;
  hal::SchedulerCounters scheduler;
  bool hardware_chosen_settings = false;
  const protocol::BitLedger* ledger = nullptr;
  RunStatus status = RunStatus::complete;
  std::string fault;
  const AnalysisResult* analysis = nullptr;  ///< null: not analysed
  std::optional<protocol::HardwareModel> hardware;
  double trial_rate = 0;  ///< measured, trials per second
  std::string storage_warning;
};

/// What the run ends as, kept apart (issue 13): the run's *state* — how acquisition ended — and
/// its *verdict*. The protocols fix their trial count n in advance (seed 000 Fig. 2, seed 001 §3;
/// Protocol C's budget with its own stopping rule, docs/protocol-c-security.md §5.4), so a run
/// that ends before n for any other reason certifies nothing: its verdict is `incomplete`, and
/// what the statistics over the recorded trials say is reported beside it, labelled as such.
struct RunOutcome {
  std::string state;  ///< completed | stopped | interrupted | hardware-fault | storage-full | storage-error | source-exhausted
  std::string decision;  ///< the verdict: accept | abort | incomplete
  std::string decision_over_recorded;  ///< the analysis over the trials recorded (accept | abort | undecided)
  int exit_code = 0;  ///< accept 0, abort 3, incomplete: 130 interrupted, 4 hardware fault, 1 storage, 5 stopped or source exhausted
};
/// Whether a run of `trials` recorded trials is decided at all: it reached the protocol's n
/// (`protocol_trials`), or Protocol C stopped by its own rule once certified (Ville's inequality,
/// docs/protocol-c-security.md §5.4). The one rule for the live run and `dira analyze`.
bool decided_at_n(std::uint64_t trials, std::uint64_t protocol_trials, char protocol,
                  const std::string& decision_over_recorded);

/// `trials`: recorded; `protocol_trials`: the protocol's n (protocol_trial_count).
RunOutcome run_outcome(RunStatus status, const AnalysisResult* analysis, std::uint64_t trials,
                       std::uint64_t protocol_trials, char protocol);

/// report.json without the output fields (the session adds them once output.bin is written).
nlohmann::json build_report(const RunFacts& facts, const RunOutcome& outcome);

/// The planner's verdict at the measured rate and hardware: what run would make the
/// protocol's bounds certify something. Throws what the planner throws.
nlohmann::json what_would_certify(const ExperimentConfig& config, const protocol::HardwareModel& hardware,
                                  double trial_rate);

}  // namespace dira::app
