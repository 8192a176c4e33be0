#pragma once
/// @file planner.hpp
/// `dira plan`: what a lab needs — visibility, efficiency, trials — for a target security.

#include "dira/protocol/inequality.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// Hardware model applied to the seeds' quantum realisation.
struct HardwareModel {
  double visibility = 1;    ///< white noise on the whole behaviour: P = V·P_q + (1−V)/|outcomes|
  double efficiency = 1;    ///< probability that the photon of a party is detected
  double dark_count = 0;    ///< probability that a detector clicks without a photon, per trial
};

/// The behaviour such hardware produces. Every party has one detector per outcome; the
/// fixed outcome rule (no post-selection, docs/trial-policy.md): no click → outcome 0,
/// several clicks → the lowest-numbered detector that clicked.
Behaviour hardware_behaviour(const Inequality& inequality, const HardwareModel& hw);

struct PlanB {
  bool feasible = false;
  std::string verdict;  ///< one paragraph in plain words
  double honest_bell_value = 0;        ///< B·P of the hardware box (full sum, 504 terms)
  double honest_bell_statistic = 0;    ///< worst-case E[L_n] over ε-SV settings
  double honest_ustar_rate = 0;        ///< worst-case (lowest) E[S_n]
  double honest_pxstar = 0;            ///< P(x*|u*) of the hardware box
  double delta = 0, delta_az = 0, mu1 = 0, kappa = 0, tau = 0;
  double log10_trials = 0;             ///< n for one certified bit (seed's non-explicit extractor)
  double log10_trials_256 = 0;         ///< n for 256 bits
  double log10_seconds = 0;
  double log10_reject_honest = 0;      ///< log10 of the bound on P(honest device aborts)
  double explicit_bits = 0;            ///< what dira's explicit extractors certify at that n
  std::string explicit_reason;
  double max_one_minus_visibility = 0; ///< largest 1 − V for which the planner finds parameters (other hardware as given)
};
PlanB plan_protocol_b(const Inequality& ks294, double epsilon, double target, const HardwareModel& hw, double trial_rate);

struct PlanA {
  bool feasible = false;
  std::string verdict;
  double honest_bell_value = 0;   ///< B·P of the hardware box (guehne4: 8 settings)
  double honest_run_rate = 0;     ///< p̄ = B·P/8: P(B = 1) per chosen box
  double delta = 0, mu = 0, t = 0;
  long long devices = 0;          ///< k
  double threshold = 0;
  double log10_bound = 0;         ///< corrected eq. 17 at these parameters
  double log10_log10_trials = 0;  ///< log10 log10 M
  double log10_trials = 0;        ///< log10 M (inf when it does not fit)
  double log10_log10_seconds = 0;
  double log10_reject_honest = 0;
  std::vector<double> log2_first_blocks;
};
PlanA plan_protocol_a(const Inequality& guehne4, double epsilon, double target, const HardwareModel& hw, double trial_rate);

}  // namespace dira::protocol
