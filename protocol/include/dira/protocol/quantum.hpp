#pragma once
/// @file quantum.hpp
/// Quantum realisations: a pure state and one projective measurement per (party, setting).

#include "dira/protocol/scenario.hpp"

#include <Eigen/Dense>

#include <complex>
#include <vector>

namespace dira::protocol {

/// A pure state on ⊗_i C^{d_i} (party 0 the most significant tensor factor) and,
/// for every party and setting, an orthonormal basis whose column x is the
/// measurement vector of outcome x.
struct QuantumRealisation {
  std::vector<int> local_dimension;                      ///< d_i per party
  Eigen::VectorXcd state;                                ///< normalised, size Π d_i
  std::vector<std::vector<Eigen::MatrixXcd>> bases;      ///< bases[party][setting], d_i × outcomes(party)
};

/// P(x|u) = |(⊗_i ⟨b^i_{u_i,x_i}|) |ψ⟩|² for every (u, x).
/// Throws std::invalid_argument if shapes do not match the scenario.
Behaviour quantum_behaviour(const Scenario& scenario, const QuantumRealisation& realisation);

/// Largest violation of no-signalling in a behaviour: max over parties, settings of the
/// others and their outcomes, of the spread of the marginal across this party's settings.
/// Zero (to rounding) for every quantum behaviour; used as a consistency check.
double signalling_violation(const Scenario& scenario, const Behaviour& p);

/// Largest |Σ_x P(x|u) − 1| over settings.
double normalisation_violation(const Scenario& scenario, const Behaviour& p);

}  // namespace dira::protocol
