#pragma once
/// @file
/// `dira plan` as data and words, shared by the CLI (`dira plan`) and the GUI's planner dialog so
/// both say the same thing. The answer leads with what a lab can act on — trials and wall time at
/// its trial rate, the visibility and efficiency the protocol needs — in lab units; the seed's
/// lemma chain (the planner's own paragraph, `why`) follows it.
///
/// `feasible` means what a lab would take it to mean: with this hardware, dira certifies bits
/// within a century of running (its explicit extractors, not only the seed's non-explicit one).
/// What the seed's proof allows on paper is reported apart (`feasible_on_paper`).

#include <nlohmann/json.hpp>

#include <filesystem>

namespace dira::app {

struct PlanRequest {
  char protocol = 'B';  ///< 'A' (guehne4), 'B' (ks294), 'C' (chsh, probability estimation)
  double epsilon = 0.01, target = 1e-6;
  double visibility = 1, efficiency = 1, dark_count = 0;
  double trial_rate = 1e6;
  double bits = 256, error = 1e-9;  ///< Protocol C: output bits and total error
  std::filesystem::path config_dir;
};

/// The plan: every field of `dira plan --json`, plus `headline` (the actionable sentence) and
/// `why` (the planner's reasoning). Throws ConfigError / std::invalid_argument on bad input.
nlohmann::json plan_report(const PlanRequest& request);

/// An experiment file (YAML) that runs the plan exactly as planned on the simulator, with every
/// parameter the planner chose written as a key `dira run` reads (Protocol B's δ, μ1, κ, δ_Az, τ
/// and n; Protocol C's budget, state and angles). Throws std::invalid_argument when the plan
/// cannot be written as a run: infeasible on paper, or a trial count beyond what an experiment
/// file holds (n > 10^15, e.g. every Protocol A plan).
std::string planned_experiment_yaml(const PlanRequest& request, const nlohmann::json& plan);

}  // namespace dira::app
