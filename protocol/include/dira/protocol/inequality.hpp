#pragma once
/// @file inequality.hpp
/// A Bell inequality as dira uses it: the expression, the seed's claims about it,
/// its quantum realisation and the randomness statements the protocols rely on.
/// Built from YAML by the app layer (protocol/ does no I/O).

#include "dira/protocol/bell_expression.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/protocol/rational.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// A bound printed in a seed, affine in δ: constant + slope·δ.
struct PaperBound {
  Rational constant, slope;
  std::string formula;  ///< as printed, e.g. "½·(11+7δ)/16"
  std::string source;   ///< e.g. "seed 000, Lemma 4, eq. 25"
  Rational at(const Rational& delta) const { return constant + slope * delta; }
};

/// Seed 000, Lemma 4 (eqs. 26–27): the bias ½·(P(maj = e|u) − P(maj ≠ e|u)) of the
/// majority of some parties' outcomes, for each listed setting u.
struct MajorityRandomness {
  std::vector<int> parties;       ///< odd number of parties, e.g. {0,1,2}
  std::vector<Setting> settings;  ///< e.g. the 8 settings of U0 ∪ U1
  std::optional<PaperBound> paper_bound;
};

/// Seed 001, Lemma 2 (eqs. 36–38): the probability P(x*|u*) of one event.
struct EventRandomness {
  Setting setting;
  Outcome event;
  std::optional<PaperBound> paper_bound;
  std::optional<Rational> paper_quantum_probability;  ///< e.g. 1/16 (seed 001 after eq. 28)
};

/// Numbers a seed states about the inequality, kept so dira can check them.
struct SeedClaims {
  std::optional<std::int64_t> local_bound;
  std::optional<std::int64_t> ns_bound;
  std::optional<double> quantum_value;
  std::optional<std::size_t> terms;
};

struct Inequality {
  std::string name;        ///< "guehne4", "ks294"
  std::string title;
  std::string source;      ///< which seed and equations
  std::string file;        ///< YAML it was loaded from
  std::string expression_rule;  ///< how B(x,u) was derived ("parity", "orthogonality", …)
  BellExpression expression;
  std::optional<QuantumRealisation> quantum;
  std::vector<MajorityRandomness> majority;
  std::vector<EventRandomness> events;
  /// Also tabulate max P(x|u) at B·P ≤ 0 for every (u, x) with B(x,u) = 0 (seed 001).
  bool event_table = false;
  SeedClaims claims;
};

}  // namespace dira::protocol
