#pragma once
/// @file photonic_chsh.hpp
/// The honest photonic CHSH apparatus of Protocol C (docs/protocol-c-security.md §8): an
/// Eberhard state, one detector per party, white noise, detection efficiency, dark counts,
/// and the fixed no-click → outcome 0 rule (no post-selection).

#include "dira/protocol/pef.hpp"

#include <array>

namespace dira::protocol {

/// Hardware and state/measurement parameters.
///
/// State cos θ|00⟩ + sin θ|11⟩ (H/V polarisation), mixed with white noise:
/// ρ = V|ψ⟩⟨ψ| + (1−V)·I/4. Party A measures the projector onto cos α|0⟩ + sin α|1⟩ with
/// α = a0 (x = 0) or a1 (x = 1); B likewise with b0, b1. The photon that passes the
/// projector is detected with probability η; each detector also fires spuriously with
/// probability p_dark per trial, independently. Outcome 1 = click, 0 = no click.
/// With probability 1 − pair_probability the trial has no pair at all (multi-pair emission
/// is not modelled).
struct PhotonicChshModel {
  double visibility = 1;              ///< V
  double efficiency = 1;              ///< η, the same for both parties (heralding × transmission × detector)
  double dark_count = 0;              ///< p_dark per detector per trial
  double pair_probability = 1;        ///< probability of one pair in a trial
  double theta = 0.7853981633974483;  ///< state angle θ (π/4: maximally entangled)
  double a0 = 0, a1 = 0.7853981633974483, b0 = 0.39269908169872414, b1 = -0.39269908169872414;  ///< angles

  /// p(a, b | x, y) in cell order chsh_cell(a, b, x, y).
  std::array<double, kChshCells> behaviour() const;
};

/// Result of optimise_photonic_settings.
struct PhotonicSettingsChoice {
  PhotonicChshModel model;
  double log2_gain = 0;  ///< E[log2 F] of the optimal PEF at this β
  double rate = 0;       ///< log2_gain/β: min-entropy per trial, asymptotically
  int evaluations = 0;
};

/// Chooses θ and the four angles that maximise E[log2 F]/β of the optimal PEF (uniform
/// settings as the reference) by Nelder–Mead from several starts (§8.2).
PhotonicSettingsChoice optimise_photonic_settings(double visibility, double efficiency, double dark_count,
                                                  const Rational& sv_epsilon, double beta,
                                                  double pair_probability = 1.0);

}  // namespace dira::protocol
