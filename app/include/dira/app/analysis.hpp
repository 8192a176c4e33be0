#pragma once
/// @file analysis.hpp
/// Runs a protocol over recorded trials (and weak-source bits) and produces the decision,
/// the security statement and, on acceptance, the certified output. Shared by
/// `dira analyze-trials` and (issue 5) `dira run` / `dira analyze`.

#include "dira/app/experiment.hpp"
#include "dira/app/protocol_c_run.hpp"
#include "dira/protocol/sv_source.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <span>

namespace dira::app {

struct AnalysisOptions {
  /// Weak-source bits for box choice (A) and the extractor (B); none: the decision is still
  /// made, nothing is extracted, and the report says why.
  protocol::SvSource* weak_bits = nullptr;
  /// The run's own ledger (live runs): box-choice and extractor bits are drawn through it, after
  /// the setting bits it already accounts for, so one ledger records every purpose. When set,
  /// `weak_bits` is not used.
  protocol::BitLedger* ledger = nullptr;
  /// Protocol C: what the run fixed before its first trial (its PEFs, target, budget); from
  /// the live run, or read back from pef.json. Without it Protocol C is undecided.
  const ProtocolCRunPlan* protocol_c = nullptr;
  /// Feeds every trial, in order, to the callback it is given, in blocks (run.h5's reader hands
  /// on each verified block as it lies: no call per trial). Called once for the decision (which
  /// keeps counts only: memory flat in the number of trials) and, when bits are extracted (B,
  /// C), once more for the extractor's input: it must give the same trials again.
  std::function<void(const std::function<void(std::span<const protocol::Trial>)>&)> trials;
};

struct AnalysisResult {
  nlohmann::json report;  ///< the JSON printed by `--json`
  bool accepted = false;
  std::vector<std::uint8_t> output;  ///< certified bits, packed MSB first; empty unless accepted and certified
  std::uint64_t output_bits = 0;
};

/// Throws protocol::InvalidTrial for trials outside the scenario, ConfigError for
/// unusable configurations.
AnalysisResult analyze(const ExperimentConfig& config, const AnalysisOptions& options);

}  // namespace dira::app
