#pragma once
/// @file settings_rule.hpp
/// Measurement settings from weak-source bits, and what an ε-SV source then guarantees
/// about the probability ν(u) of each setting.

#include "dira/protocol/scenario.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <span>
#include <utility>
#include <vector>

namespace dira::protocol {

/// Protocol A (seed 000, Fig. 2 step 1): 4 bits per trial, bit p (first drawn = party 0)
/// is u^p. Settings outside U0 ∪ U1 are kept and later discarded by the protocol.
void draw_setting_guehne(BitLedger& ledger, std::uint64_t trial, Trial& out);

/// Protocol B: each party draws b = ⌈log₂ s⌉ bits and redraws them while the value is ≥ s
/// (rejection sampling; docs/protocol-b-security.md explains the choice). The bits are taken
/// from the ledger several attempts at a time, but only as many as the trial uses: the settings,
/// the ledger and the point where a finite source runs out are those of one draw per attempt.
/// On SourceExhausted `out`'s settings are unspecified (the trial is not run).
void draw_setting_rejection(BitLedger& ledger, std::uint64_t trial, int parties, int settings, Trial& out);

/// The same rule for the trials first, first + 1, … (out[k] is trial first + k; only the
/// settings u are written): the settings, the ledger (positions, purposes, items) and the point
/// where a finite source runs out are those of draw_setting_rejection called for each trial in
/// turn (tests/unit/test_protocols.cpp compares them). The bits are drawn in long runs (up to
/// 32 768 bits a ledger call, 64 a call down to the source) and read without a branch per
/// attempt, which is what the scheduler's draw thread needs at 10^7 trials/s (issue 10 §7).
/// On SourceExhausted the settings in `out` are unspecified (none of these trials is run).
void draw_settings_rejection(BitLedger& ledger, std::uint64_t first, int parties, int settings, std::span<Trial> out);

/// Bits one attempt of the rejection rule draws for a party with `settings` settings: ⌈log2 settings⌉
/// (0 for one setting; 1 for two, i.e. the one-bit-per-party rule of Protocols A and C).
int setting_bits_per_attempt(int settings);

/// Bounds on the probability ν(v) of one party's setting v, conditioned on everything
/// before, for an ε-SV source under rejection sampling (s settings, b = ⌈log₂ s⌉ bits per
/// attempt, most significant bit first, values ≥ s redrawn).
///
/// Exact worst case over adaptive SV sources (docs/protocol-b-security.md §3): the extreme
/// of P(eventually v) is the fixed point V = T(V), where T evaluates the depth-b bit tree with
/// leaves 1 (value v), 0 (other valid value) and V (rejected value), and an internal node
/// with children L0, L1 is worth (½+ε)·min + (½−ε)·max when minimising (max/min swapped when
/// maximising). Because the SV constraint is the same after every history, this stationary
/// fixed point is the optimum over all adaptive sources.
/// Closed forms (valid, looser): ν_min ≥ (½−ε)^b/(1 − r(½−ε)^b), ν_max ≤ (½+ε)^b/((½+ε)^b + (s−1)(½−ε)^b),
/// r = 2^b − s. For s a power of two both reduce to (½∓ε)^b (seed 001 eq. 33 per party).
struct SettingProbabilityBounds {
  std::vector<double> nu_min;  ///< per value v, exact worst case
  std::vector<double> nu_max;
  double nu_min_all = 0;       ///< min over v
  double nu_max_all = 0;       ///< max over v
  double closed_form_min = 0;  ///< the looser closed forms, for comparison
  double closed_form_max = 0;
  int bits_per_attempt = 0;
  double acceptance_min = 0;     ///< worst-case probability that an attempt is accepted
  double expected_bits_max = 0;  ///< b / acceptance_min: bits one party uses per trial, at most, on average
};
SettingProbabilityBounds rejection_sampling_bounds(double epsilon, int settings);

/// How a trial's joint setting is drawn from SV bits.
enum class SettingRule {
  one_bit_per_party,   ///< Protocols A and C (seed 000 Fig. 2 step 1): party p's setting is one bit
  rejection_sampling,  ///< Protocol B: draw_setting_rejection
};

/// The band [lo, hi] an ε-SV source allows for the probability of one joint setting, given
/// everything before: the product over parties of the per-party worst cases ((½∓ε) per bit, or
/// rejection_sampling_bounds' ν_min_all/ν_max_all). What a run's setting histogram is checked against.
std::pair<double, double> setting_probability_band(const Scenario& scenario, double epsilon, SettingRule rule);

}  // namespace dira::protocol
