#pragma once
/// @file bounds.hpp
/// Everything `dira bounds` reports about an inequality: local, no-signalling and
/// quantum values, and certified randomness bounds on a δ grid.

#include "dira/protocol/inequality.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/ns_lp.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// One randomness LP: max objectiveᵀP over no-signalling P with B·P ≤ δ.
struct RandomnessBound {
  Setting setting;
  std::optional<Outcome> event;  ///< for event bounds; empty for majority bounds
  std::string event_name;        ///< "maj=0", "maj=1", or the event tuple "(0,2)"
  std::string lemma;             ///< which lemma/equation the LP is
  Rational delta;
  double lp_value = 0;
  std::optional<Rational> paper_bound;  ///< the seed's figure at this δ
  bool paper_bound_valid = true;        ///< paper bound ≥ LP optimum (to 1e-9)
  bool certified = false;
  bool exact_simplex_optimal = false;
  std::optional<DualCertificate> certificate;
  LinearObjective objective;
  std::optional<double> quantum_value;  ///< the objective on the quantum realisation
};

/// max P(x|u) at B·P ≤ 0 for one (u, x) with B(x,u) = 0.
struct EventTableEntry {
  Setting setting;
  Outcome event;
  double lp_value = 0;
  bool certified = false;
  std::optional<Rational> certified_bound;
  std::optional<double> quantum_probability;
};

struct BoundsOptions {
  std::vector<Rational> deltas{Rational(0)};
  bool event_table = true;         ///< compute the table if the inequality asks for one
  bool certify_event_table = true; ///< certify each table entry exactly as well
  /// Called as (done, total, what) during long work; may be empty.
  std::function<void(std::size_t, std::size_t, const std::string&)> progress;
};

struct BoundsReport {
  const Inequality* inequality = nullptr;
  std::size_t terms = 0;
  LocalBound local;
  double ns_bound = 0;
  bool ns_bound_certified = false;
  std::optional<Rational> ns_bound_exact;
  std::optional<double> quantum_value;
  double quantum_signalling = 0;      ///< consistency check: ≈ 0
  double quantum_normalisation = 0;   ///< consistency check: ≈ 0
  std::vector<RandomnessBound> randomness;
  std::vector<EventTableEntry> event_table;
};

/// The objective ½·(I[maj = e] − I[maj ≠ e]) at setting u (seed 000 eq. 27, with the ½ of eq. 26).
LinearObjective majority_objective(const Scenario& scenario, const std::vector<int>& parties, const Setting& u, int e);
/// The objective I[u = u*, x = x*] (seed 001, the M_{u*,x*} of eq. 36).
LinearObjective event_objective(const Scenario& scenario, const Setting& u, const Outcome& x);

/// Computes the report. Throws std::domain_error for a δ below the no-signalling bound
/// (no behaviour is feasible) and std::runtime_error if the solver fails.
BoundsReport compute_bounds(const Inequality& inequality, const BoundsOptions& options);

}  // namespace dira::protocol
