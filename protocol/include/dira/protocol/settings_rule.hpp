#pragma once
/// @file settings_rule.hpp
/// Measurement settings from weak-source bits, and what an ε-SV source then guarantees
/// about the probability ν(u) of each setting.

#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

namespace dira::protocol {

/// Protocol A (seed 000, Fig. 2 step 1): 4 bits per trial, bit p (first drawn = party 0)
/// is u^p. Settings outside U0 ∪ U1 are kept and later discarded by the protocol.
void draw_setting_guehne(BitLedger& ledger, std::uint64_t trial, Trial& out);

/// Protocol B: each party draws b = ⌈log₂ s⌉ bits and redraws them while the value is ≥ s
/// (rejection sampling; docs/protocol-b-security.md explains the choice).
void draw_setting_rejection(BitLedger& ledger, std::uint64_t trial, int parties, int settings, Trial& out);

/// Bounds on the probability of one party's setting, conditioned on everything before,
/// for an ε-SV source under rejection sampling with s settings and b = ⌈log₂ s⌉ bits,
/// r = 2^b − s rejected strings. Each attempt names a given value with probability in
/// [(½−ε)^b, (½+ε)^b] and is rejected with probability in [r(½−ε)^b, 1 − s(½−ε)^b], so
///   ν_min = (½−ε)^b / (1 − r(½−ε)^b),
///   ν_max = (½+ε)^b · min(1/(1 − r(½+ε)^b) [when r(½+ε)^b < 1], 1/(s(½−ε)^b)).
/// For s a power of two these reduce to (½∓ε)^b, the seeds' eq. 33 (seed 001).
struct SettingProbabilityBounds {
  double nu_min = 0;  ///< one party
  double nu_max = 0;
  int bits_per_attempt = 0;
  double expected_bits_max = 0;  ///< upper bound on the bits one party uses per trial
};
SettingProbabilityBounds rejection_sampling_bounds(double epsilon, int settings);

}  // namespace dira::protocol
