#pragma once
/// @file security_b.hpp
/// Protocol B security accounting (seed 001, Lemmas 2–8 and Theorem 9), in log domain,
/// with the corrections of docs/protocol-b-security.md (§2.11 is the formula sheet).

#include "dira/protocol/scenario.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

struct SettingProbabilityBounds;  // settings_rule.hpp

struct ProtocolBSecurityInput {
  double epsilon = 0;
  double trials = 0;            ///< n (a double: the seeds' n can exceed 2^64)
  double delta = 0;             ///< L_n threshold
  double mu1 = 0;               ///< S_n threshold
  double kappa = 0;             ///< Lemma 5's κ, 0 < κ < μ1/2 (default μ1/100 when ≤ 0)
  std::optional<double> delta_az;  ///< Azuma deviation of the Bell test (seed: δ)
  std::optional<double> tau;       ///< Lemma 4 threshold (seed: √(δ + δ_Az))
  double extractor_bits_per_trial = 1;  ///< N_t / n (seed: 1, "a further n bits")
  Setting u_star{0, 1};
  int settings_per_party = 9;
  bool seed_lemma2 = false;     ///< use (3+2δ̃)/4 instead of the certified min(3/4+δ̃/6, 7/9+δ̃/9, 1)
  bool seed_setting_bound = false;  ///< use (½−ε)^8 for ν (the seed as written) instead of the rejection-sampling DP
  /// rejection_sampling_bounds(epsilon, settings_per_party) when the caller already has it: the
  /// DP is then not solved again (the planner evaluates the constants some 1 500 times per plan).
  const SettingProbabilityBounds* setting_bounds = nullptr;
};

/// Every constant of the accounting, each with the lemma it comes from.
struct ProtocolBConstants {
  double nu_pair_min = 0;   ///< min_u ν(u) (eqs. 33–34, fixed for rejection sampling)
  double nu_ustar_min = 0;  ///< ν(u*) lower bound (Lemma 11)
  double nu_ustar_max = 0;
  double delta_az = 0, tau = 0;
  double delta_tilde = 0;   ///< τ/ν_min^pair: full-sum Bell value of a Bell-good trial (eq. 72)
  double f = 0;             ///< Lemma 2 bound on P(x*|u*) at δ̃ (certified or seed form)
  double f_seed = 0;        ///< the seed's (3+2δ̃)/4, for comparison
  double mu2 = 0;           ///< Lemma 4, eq. 71
  double mu3 = 0;           ///< Lemma 5, eq. 47
  double mu4 = 0;           ///< eq. 76
  double kappa = 0;
  double ln_gamma = 0;      ///< eq. 77
  double ln_eps_az1 = 0;    ///< eq. 52
  double ln_eps_az2 = 0;    ///< eq. 54
  double log2_delta1 = 0;   ///< Lemma 7, eq. 85
  double n_x = 0;           ///< device-output bits given to the extractor: 2 bits per party per trial
  double n_t = 0;           ///< weak-source bits given to the extractor
  double k_t = 0;           ///< their min-entropy, N_t·log₂(1/(½+ε))
  double honest_ustar_rate_min = 0;  ///< ν_min(u*)·P_q(x*|u*) with P_q = 1/16 (completeness)
  std::vector<std::string> violations;  ///< failed validity conditions (eqs. 73, 78, 87, completeness)
  bool valid() const { return violations.empty(); }
};

/// Computes the constants; conditions that fail are listed, not thrown.
ProtocolBConstants protocol_b_constants(const ProtocolBSecurityInput& input);

/// log₂(d_c·p(ACC)) ≤ m + log₂(2^{1+log₂δ1+k_x} + ξ) (Theorem 9 made explicit, §2.9):
/// the bound for m output bits when the device outputs are treated as a source of
/// min-entropy k_x and the extractor's full L1 error is 2^{log2_xi}.
double protocol_b_log2_error(const ProtocolBConstants& c, double m, double k_x, double log2_xi);

/// L1 error of a random-function two-source extractor (the seed's non-explicit assumption,
/// §2.9): ξ² = 2ln2·[2^{m−kx−kt} + 2^{−kt}(Nx−kx+log₂e) + 2^{−kx}(Nt−kt+log₂e) + 2^{−kx−kt}].
double random_function_log2_xi(double k_x, double k_t, double n_x, double n_t, double m);

struct ProtocolBOutputPlan {
  double bits = 0;          ///< m
  double k_x = 0;           ///< min-entropy threshold used
  double log2_error = 0;    ///< log₂ of the bound on d_c·p(ACC)
  std::string extractor;    ///< which extractor contract
  std::string reason;       ///< why m is what it is (always filled)
};

/// Largest m with log₂ error ≤ log2_target, k_x optimised, under an extractor described by
/// extractor_bits(k_x, log2_xi_budget) → the largest m it can output with L1 error ≤ 2^budget
/// (≤ 0 if none). The error budget is split evenly between the entropy and extractor terms.
ProtocolBOutputPlan plan_protocol_b_output(const ProtocolBConstants& c, double log2_target,
                                           const std::function<double(double, double)>& extractor_bits,
                                           const std::string& extractor_name);

/// The same with dira's explicit circulant two-source extractor (docs/extractors.md; its bound
/// holds in the Markov model of side information): m = k_x + k_t − N + 2·log₂ε_SD for inputs of
/// length N = N_x (the weak-source input drawn to the same length), full L1 error ξ = 2ε_SD.
ProtocolBOutputPlan plan_protocol_b_output_circulant(const ProtocolBConstants& c, double log2_target, double epsilon);

/// The same with the seed's random-function extractor (not implementable: informative only).
ProtocolBOutputPlan plan_protocol_b_output_nonexplicit(const ProtocolBConstants& c, double log2_target);

}  // namespace dira::protocol
