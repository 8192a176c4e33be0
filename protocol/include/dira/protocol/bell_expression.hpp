#pragma once
/// @file bell_expression.hpp
/// Bell expressions B·P = Σ_{x,u} B(x,u) P(x|u) with integer coefficients.

#include "dira/protocol/scenario.hpp"

#include <cstdint>
#include <vector>

namespace dira::protocol {

/// Coefficients B(x,u) over a scenario, laid out as Scenario::index. Both seeds'
/// inequalities are written "B·P ≥ local bound" with 0/1 coefficients, so a small
/// value means strong non-locality; dira keeps that orientation throughout.
class BellExpression {
 public:
  BellExpression() = default;
  /// Throws std::invalid_argument if the coefficient vector does not match the scenario.
  BellExpression(Scenario scenario, std::vector<std::int64_t> coefficients);

  const Scenario& scenario() const { return scenario_; }
  std::int64_t coefficient(std::size_t index) const { return coefficients_[index]; }
  const std::vector<std::int64_t>& coefficients() const { return coefficients_; }

  /// Number of (x,u) with a non-zero coefficient (seed 001 counts 504 for ks294).
  std::size_t terms() const;
  /// Setting indices u with at least one non-zero coefficient, in index order
  /// (U0 ∪ U1 for guehne4, all 81 for ks294).
  std::vector<std::size_t> settings_in_expression() const;
  /// B·P for a behaviour on the same scenario.
  double value(const Behaviour& p) const;

 private:
  Scenario scenario_;
  std::vector<std::int64_t> coefficients_;
};

}  // namespace dira::protocol
