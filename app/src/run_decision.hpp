#pragma once
/// @file run_decision.hpp
/// The end of a run's recording side (part of the session): the decision over the trials as
/// run.h5 holds them — the same analysis `dira analyze` runs — drawn through the run's one
/// ledger (box choice and extractor bits only now, after the outputs are fixed), then what the
/// decision leaves to record (Protocol C's scored pef.json, the whole ledger in run.h5, the
/// post-setting weak-source bits in sv_bits.bin), and the certified output (output.bin, only
/// when accepted).

#include "acquisition.hpp"
#include "live_protocol.hpp"
#include "recording_source.hpp"
#include "run_directory.hpp"
#include "run_recorder.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/experiment.hpp"
#include "dira/app/protocol_c_run.hpp"
#include "dira/protocol/planner.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace dira::app {

struct RunDecision {
  AnalysisResult analysis;
  bool analysed = false;  ///< false: a hardware fault before any trial, or the analysis failed (see fault)
  /// The trials run.h5 holds intact and covered by its ledger: what the decision is over
  /// (read_run_file). After a failed write it can differ from the count the recorder kept.
  std::uint64_t trials_in_file = 0;
};

/// Decides over run.h5's trials with `ledger` (the recording source starts keeping bits now).
/// A hardware fault before the first trial is not analysed; an analysis failure becomes `fault`
/// unless one is already set.
/// Protocol C stopping when certified: the extractor's bits start at the stream position right
/// after the setting bits of every `planned` trial (skipped up to there), fixed before the run,
/// so the output does not depend on how far the settings' look-ahead had drawn at the stop.
RunDecision decide_recorded_run(const ExperimentConfig& config, RunDirectory& dir, protocol::BitLedger& ledger,
                                RecordingSource& source, const ProtocolCRunPlan* plan_c, RunStatus status,
                                std::uint64_t trials, std::uint64_t planned, std::string& fault);

/// Records what the decision leaves: pef.json with every PEF and the trials it scored (C), the
/// whole ledger in run.h5, sv_bits.bin. A failure to write sv_bits.bin is a storage error.
void record_after_decision(const ExperimentConfig& config, RunDirectory& dir, RunRecorder& recorder,
                           const protocol::BitLedger& ledger, RecordingSource& source, const ProtocolCRunPlan* plan_c,
                           const LiveProtocol& protocol, RunStatus& status, std::string& fault);

/// Completes the report with the output: output.bin (0600), its SHA-256 and certified_bits for
/// a run whose verdict is accept (`verdict`: run_outcome; never an incomplete one) with certified bits; otherwise
/// certified_bits 0 and — for A and B — the planner's plain verdict on what run would certify at the measured
/// `trial_rate`.
void add_certified_output(nlohmann::json& report, const ExperimentConfig& config, const RunDecision& decision,
                          const std::string& verdict, RunDirectory& dir,
                          const std::optional<protocol::HardwareModel>& hardware, double trial_rate);

}  // namespace dira::app
