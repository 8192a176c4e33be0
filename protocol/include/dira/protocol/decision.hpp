#pragma once
/// @file decision.hpp
/// Decisions as records, and the live statistics both protocols publish.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dira::protocol {

/// One statistical test of a protocol: statistic, relation, threshold, verdict.
struct TestOutcome {
  std::string name;       ///< e.g. "Bell test"
  std::string statistic;  ///< e.g. "L_n"
  double value = 0;
  std::string relation;  ///< "<=" or ">="
  double threshold = 0;
  bool passed = false;
  std::string source;  ///< e.g. "seed 001, eq. 39 and Protocol I step 3"
};

enum class Verdict { accept, abort, undecided };
const char* to_string(Verdict v);

/// A protocol decision: which tests ran on how many trials, which failed, with what parameters.
/// An abort is a result, not an error (docs/architecture.md).
struct Decision {
  std::string protocol;  ///< "A" or "B"
  Verdict verdict = Verdict::undecided;
  std::vector<TestOutcome> tests;
  std::uint64_t trials_used = 0;
  std::vector<std::pair<std::string, double>> parameters;
  std::vector<std::string> reasons;  ///< plain-language reasons, one per failed test or condition
};

/// Two-sided confidence half-width for the mean of n martingale increments bounded in [0,1],
/// from Azuma–Hoeffding in the form of seed 001, eq. 41: P(|L_n − L̄_n| ≥ s) ≤ 2·exp(−n s²/2),
/// so s = sqrt(2·ln(2/α)/n) at confidence 1 − α.
double azuma_half_width(std::uint64_t n, double alpha);

/// What the CLI progress line and the GUI show; O(1) to produce.
struct LiveStatistics {
  std::uint64_t trials = 0;          ///< trials seen (including discarded ones)
  std::uint64_t trials_in_test = 0;  ///< trials entering the statistics
  /// Running Bell statistic. B: L_n. A: E[Z_k | runs so far] = (1/k) Σ_j (B-ones_j / n_j), the
  /// expectation of the decision statistic Z_k (seed 000 eq. 54) if the boxes were chosen now
  /// by an ideal (uniform) choice — the boxes themselves are chosen only after the run.
  double bell_mean = 0;
  double bell_half_width = 0;
  double bell_threshold = 0;
  double ustar_mean = 0;  ///< S_n (Protocol B only)
  double ustar_half_width = 0;
  double ustar_threshold = 0;
  bool has_ustar = false;
  /// Protocol A only (−1 otherwise): the probability that the test on the chosen boxes accepts,
  /// Pr[k·Z_k ≤ ⌊k·threshold⌋], if the k boxes were chosen now, uniformly and independently,
  /// one among each device's valid runs (exact Poisson-binomial sum; 0 while a device has none).
  double accept_probability = -1;
  Verdict projected = Verdict::undecided;  ///< what the decision would be if the intervals held
  double confidence = 0.999;
};

}  // namespace dira::protocol
