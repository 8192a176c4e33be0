#pragma once
/// @file ns_lp.hpp
/// Linear programs over the no-signalling polytope, solved in floating point (GLPK)
/// and certified in exact rational arithmetic.

#include "dira/protocol/bell_expression.hpp"
#include "dira/protocol/rational.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// Σ_j c_j P_j over behaviour indices, with exact coefficients.
struct LinearObjective {
  std::vector<std::pair<std::size_t, Rational>> terms;
};

/// One linear constraint on the behaviour vector P (all variables also satisfy P ≥ 0).
struct ConstraintRow {
  enum class Kind { equal, at_most };
  Kind kind = Kind::equal;
  std::vector<std::pair<std::size_t, std::int64_t>> terms;  ///< (behaviour index, coefficient)
  Rational rhs;
  std::string label;  ///< e.g. "norm u=(0,1)", "ns party 1 u=(0,3) x_rest=(2)", "bell"
};

/// The no-signalling polytope of a scenario (normalisation, no-signalling, P ≥ 0),
/// optionally cut by the Bell constraint B·P ≤ δ (always the last row when present).
///
/// No-signalling rows: for every party i, every setting u with u_i ≥ 1 and every
/// outcome tuple of the other parties, Σ_{x_i} P(x|u) − Σ_{x_i} P(x|u with u_i = 0) = 0.
/// This is the textbook description (seed 000 after eq. 27, seed 001 after eq. 36);
/// some rows are redundant, which is harmless for both the solver and the certificate.
std::vector<ConstraintRow> no_signalling_rows(const Scenario& scenario);

/// no_signalling_rows followed, when bell_at_most is set, by the row B·P ≤ δ labelled "bell".
std::vector<ConstraintRow> bounded_bell_rows(const BellExpression& expression, const std::optional<Rational>& bell_at_most);

/// A dual certificate for   max cᵀP  s.t. rows, P ≥ 0.
/// With multipliers λ (free on equality rows, ≥ 0 on at_most rows) and reduced costs
/// r = c − Σ_i λ_i a_i, every feasible P satisfies
///     cᵀP = Σ_i λ_i (a_iᵀP) + rᵀP ≤ Σ_i λ_i rhs_i + Σ_u max(0, max_x r(x,u)),
/// using Σ_x P(x|u) = 1 and P ≥ 0 for the last term (seed 000 eqs. 28–29 and seed 001
/// eq. 37 are the special case in which every r ≤ 0, i.e. the slack term vanishes).
struct DualCertificate {
  std::vector<Rational> multipliers;  ///< one per row
  Rational slack;                     ///< Σ_u max(0, max_x r(x,u))
  Rational bound;                     ///< Σ_i λ_i rhs_i + slack: a proven upper bound
};

/// Re-checks a certificate from scratch in exact arithmetic; returns the bound it
/// proves, or std::nullopt (with `why` filled) if a sign condition fails.
std::optional<Rational> verify_certificate(const Scenario& scenario, const std::vector<ConstraintRow>& rows,
                                           const LinearObjective& objective, const std::vector<Rational>& multipliers,
                                           std::string* why = nullptr);

struct LpSolution {
  double value = 0;              ///< floating-point optimum reported by the simplex
  Behaviour primal;              ///< an optimal behaviour (floating point)
  bool exact_simplex_optimal = false;  ///< GLPK's rational simplex confirmed the basis optimal
  std::optional<DualCertificate> certificate;
  /// True when a certificate was verified exactly and its bound matches `value`
  /// to 1e-9, i.e. `value` is proven (up to that rounding) to be the optimum.
  bool certified = false;
};

/// Maximisation over the no-signalling polytope, optionally with B·P ≤ δ.
/// Keeps one GLPK problem and warm-starts each solve from the previous basis,
/// which is what makes a table of hundreds of LPs cheap.
class NoSignallingLp {
 public:
  explicit NoSignallingLp(BellExpression expression);
  ~NoSignallingLp();
  NoSignallingLp(const NoSignallingLp&) = delete;
  NoSignallingLp& operator=(const NoSignallingLp&) = delete;

  const BellExpression& expression() const { return expression_; }
  /// Rows of the LP for a given Bell cut (no Bell row when bell_at_most is empty).
  std::vector<ConstraintRow> rows(const std::optional<Rational>& bell_at_most) const;

  /// max objectiveᵀP. With certify, runs GLPK's exact simplex from the optimal basis,
  /// rationalises its duals and verifies them exactly (verify_certificate).
  LpSolution maximize(const LinearObjective& objective, const std::optional<Rational>& bell_at_most, bool certify);

 private:
  struct Glpk;
  BellExpression expression_;
  std::vector<ConstraintRow> base_rows_;
  std::unique_ptr<Glpk> glpk_;
};

/// GLPK keeps one environment per thread, allocated by the first LP made on it and never
/// freed when the thread ends. A thread that solved LPs (the analysis of a run, the planner)
/// calls this just before it ends, once no NoSignallingLp made on it is alive.
void release_thread_lp_environment();

}  // namespace dira::protocol
