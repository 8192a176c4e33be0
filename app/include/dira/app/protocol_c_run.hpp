#pragma once
/// @file protocol_c_run.hpp
/// What a Protocol C run fixes before its first trial (docs/protocol-c-security.md §5.3): the
/// PEF (chosen from the apparatus model, certified), β, the estimation error ε_est, the
/// min-entropy target that the extraction step needs for the requested output, the trial
/// budget and the stopping rule — and pef.json, which publishes them so a referee can check
/// the certificate without dira (scripts/check_certificate.py).

#include "dira/app/experiment.hpp"
#include "dira/protocol/photonic_chsh.hpp"
#include "dira/protocol/protocol_c.hpp"
#include "dira/protocol/rational.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dira::app {

struct ProtocolCRunPlan {
  protocol::ProtocolCConfig scoring;  ///< ε_est, target min-entropy, budget n, stopping rule
  /// The PEFs and the first trial each scores (the first from trial 0).
  std::vector<std::pair<std::uint64_t, protocol::CertifiedPef>> pefs;
  double log2_extractor_error = 0;    ///< the extractor's share of the error budget (log2)
  protocol::PhotonicChshModel model;  ///< the apparatus model the first PEF was optimised for
  std::string model_source;           ///< where that model came from
  double expected_log2_gain = 0;      ///< E[log2 F] per trial at the model
};

/// The ε an experiment file or the command line states, as the simple rational it denotes
/// (1e-3 → 1/1000): the settings model's vertices are exact (docs/protocol-c-security.md §2).
protocol::Rational exact_sv_epsilon(double epsilon);

struct DeviceSet;

/// The apparatus model Protocol C's first PEF is optimised for: the simulator's own state and
/// angles and its hardware model, or — for real devices — the `hardware:` section with the
/// state and angles the planner finds best (what a lab following `dira plan` would set).
/// Throws ConfigError when there is no model (no hardware: section for real devices).
protocol::PhotonicChshModel apparatus_model(const ExperimentConfig& config, const DeviceSet& devices,
                                            std::string& source);

/// Plans a run: β from the grid for the budget, the PEF optimised at the model's honest
/// distribution (uniform settings) and certified, the min-entropy target from the extraction
/// step for a device string of 2·n bits. Throws ConfigError when nothing can be certified
/// at this budget (naming protocol.trials).
ProtocolCRunPlan plan_protocol_c_run(const ExperimentConfig& config, const protocol::PhotonicChshModel& model,
                                     const std::string& model_source);

/// The plan of a run of this experiment, as `dira run` would fix it: the experiment's devices
/// are opened (nothing acquired) for their model of the apparatus. For `dira analyze-trials`.
ProtocolCRunPlan plan_protocol_c_for_experiment(const ExperimentConfig& config);

/// pef.json: the certificate format of docs/protocol-c-security.md §7, plus the run's fixed
/// parameters under "run". `scored`: the segments with their trial ranges (after the run);
/// null: the plan as fixed before the first trial.
nlohmann::json pef_json(const ExperimentConfig& config, const ProtocolCRunPlan& plan,
                        const std::vector<protocol::PefSegment>* scored);

/// Reads pef.json back; every PEF is re-verified from its published decimals
/// (protocol::verify_published_pef). Throws std::invalid_argument naming what is wrong.
ProtocolCRunPlan read_pef_json(const nlohmann::json& pef, const ExperimentConfig& config);

}  // namespace dira::app
