#pragma once
/// @file protocol_c.hpp
/// Protocol C (issue 11): CHSH trials steered by one ε-SV stream, scored by probability
/// estimation factors; certified smooth min-entropy h = (log2 T_n − log2(1/ε_est))/β
/// (docs/protocol-c-security.md §5). Also the planner.

#include "dira/protocol/pef.hpp"
#include "dira/protocol/photonic_chsh.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace dira::protocol {

/// Protocol C setting rule: one weak-source bit per party, party 0's bit drawn first (bit p of
/// a single `parties`-bit draw, most significant first). Every bit goes through the ledger.
void draw_setting_one_bit_per_party(BitLedger& ledger, std::uint64_t trial, int parties, Trial& out);

/// Fixed before the first trial (docs §5.3): β (through the PEFs, all with this β), ε_est,
/// the min-entropy target, the trial budget and whether the run may stop early.
struct ProtocolCConfig {
  double log2_inv_eps_est = 30;   ///< log2(1/ε_est): estimation (= smoothing) error
  double target_min_entropy = 0;  ///< h_target in bits: the run passes iff h ≥ h_target
  std::uint64_t max_trials = 0;   ///< n (the fixed budget)
  /// Stop at the first trial where the running h reaches the target (a stopping time; allowed by
  /// Ville's inequality for the test supermartingale T_n·μ(c|z,e)^β, docs §5.4). When false, all
  /// max_trials trials are scored.
  bool stop_when_certified = false;
};

/// One PEF and the trials it scores (first..last inclusive), with its 16 cell counts.
struct PefSegment {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  CertifiedPef pef;
  std::array<std::uint64_t, kChshCells> counts{};
};

/// Live statistics (double precision; display only — the decision uses ProtocolC::finish()).
struct ProtocolCStats {
  std::uint64_t trials = 0;
  double log2_T = 0;                      ///< Σ log2 F over scored trials
  double certified_min_entropy = 0;       ///< max(0, (log2 T − log2(1/ε_est))/β)
  double target = 0;                      ///< h_target
  double mean_log2_gain = 0;              ///< log2 T / trials
  double projected_trials_to_target = 0;  ///< further trials at the mean gain; +∞ if the mean is ≤ 0
  bool target_reached = false;
};

/// The decision, computed with outward rounding (MPFR, downward).
struct ProtocolCResult {
  std::uint64_t trials = 0;
  double log2_T_lower = 0;       ///< Σ_segments Σ_cells count · log2F_lower, rounded down
  double min_entropy_lower = 0;  ///< (log2 T − log2(1/ε_est))/β rounded down (may be < 0)
  bool passed = false;           ///< min_entropy_lower ≥ target
  bool stopped_early = false;
};

/// Streaming scorer. Not thread-safe; one instance per run.
class ProtocolC {
 public:
  /// `first_pef` scores trials from 0 until replaced.
  ProtocolC(ProtocolCConfig config, CertifiedPef first_pef);

  /// Replaces the PEF from trial `first_trial` on. It must have been chosen from trials before
  /// `first_trial` only, so `first_trial` ≥ trials scored so far; β must equal the first PEF's.
  void replace_pef(std::uint64_t first_trial, CertifiedPef pef);

  /// Scores trials in order (u[0], u[1], x[0], x[1] ∈ {0, 1}). Returns how many were taken:
  /// fewer than given when the budget is exhausted or the run stopped on reaching the target.
  std::size_t score(std::span<const Trial> trials);
  std::size_t score(const Trial& t) { return score(std::span<const Trial>(&t, 1)); }

  /// True when no further trial will be scored (budget used, or stopped on target).
  bool done() const { return done_; }
  ProtocolCStats stats() const;
  /// Outward-rounded result for the trials scored so far.
  ProtocolCResult finish() const;
  /// The segments (PEFs and counts) so far.
  const std::vector<PefSegment>& segments() const { return segments_; }
  /// The data of pef.json (docs §7).
  PefCertificateData certificate_data() const;
  const ProtocolCConfig& config() const { return config_; }
  double beta() const { return beta_; }

 private:
  std::size_t score_block(const Trial* t, std::size_t n);
  ProtocolCConfig config_;
  std::vector<PefSegment> segments_;
  std::vector<std::pair<std::uint64_t, CertifiedPef>> pending_;  // installed at their first trial
  std::uint64_t trials_ = 0;
  double beta_ = 0;
  double log2_T_done_ = 0;  // Σ over closed segments (double, display/stop rule)
  double threshold_ = 0;    // log2 T needed: β·h_target + log2(1/ε_est)
  bool done_ = false;
  bool stopped_early_ = false;
};

/// Hardware for the planner.
struct HardwareC {
  double visibility = 0.99;
  double efficiency = 0.8;
  double dark_count = 0;
  double pair_probability = 1;
};

/// Min-entropy the extractor needs to output `bits` bits with error 2^log2_error
/// (supplied by the extraction step, extraction_c.hpp).
using ExtractionCost = std::function<double(double bits, double log2_error)>;

/// Placeholder cost until plan_extraction_c is wired in: m + 2·log2(1/ε_ext) (leftover-hash form).
double default_extraction_cost(double bits, double log2_error);

/// The plan.
struct PlanC {
  bool feasible = false;
  double trials = 0;   ///< n, including the completeness margin
  double seconds = 0;  ///< n / trial rate
  double beta = 0;
  std::string beta_exact;
  double bits_per_trial = 0;      ///< E[log2 F]/β: asymptotic min-entropy per trial
  double log2_gain = 0;           ///< E[log2 F] per trial
  double min_entropy_target = 0;  ///< h_target
  double log2_inv_eps_est = 0;
  std::string extractor;    ///< filled by the extraction step
  PhotonicChshModel model;  ///< state and angles chosen
  std::string reason;       ///< why infeasible, when it is
};

/// Trials n such that n·g − z·σ·√n ≥ β·h + log2(1/ε_est) (z = 3 standard deviations of the
/// per-trial log2 F, so an honest run passes with probability ≳ 99.8 %, docs §9). +∞ if g ≤ 0.
double trials_for_min_entropy(double min_entropy, double beta, double log2_gain, double log2_gain_variance,
                              double log2_inv_eps_est, double z = 3.0);

/// Plans Protocol C: error budget ε_est = ε_ext = total/2; optimises state, angles and β.
PlanC plan_protocol_c(const HardwareC& hw, const Rational& sv_epsilon, double bits, double total_error,
                      double trial_rate_hz, const ExtractionCost& extraction_cost = default_extraction_cost);

/// Lowest η (bisection on [lo, 1]) at which the optimal PEF has E[log2 F] > 0 for some β on the grid.
double lowest_efficiency(double visibility, const Rational& sv_epsilon, double dark_count = 0, double tolerance = 1e-3);

}  // namespace dira::protocol
