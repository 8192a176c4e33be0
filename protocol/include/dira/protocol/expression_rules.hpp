#pragma once
/// @file expression_rules.hpp
/// The rules that build a Bell expression's coefficients from a short description (the
/// `expression.rule` of an inequality file, docs/inequality-yaml.md): parity groups, and the
/// orthogonality and hyperedge rules of a two-party projective model (seed 001's (2,9,4) KS
/// inequality: a term for every pair of outcomes that cannot both occur).

#include "dira/protocol/scenario.hpp"

#include <Eigen/Dense>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dira::protocol {

/// One group of the parity rule: every listed setting u contributes +1 for each outcome x
/// with x_0 ⊕ … ⊕ x_{n−1} = parity.
struct ParityGroup {
  std::vector<Setting> settings;
  int parity = 0;  ///< 0 or 1
};

/// Coefficients (indexed by Scenario::index) of the parity rule; a setting listed twice counts
/// twice. Throws std::invalid_argument unless every party has two outcomes.
std::vector<std::int64_t> parity_coefficients(const Scenario& scenario, const std::vector<ParityGroup>& groups);

/// A two-party projective model: named vectors, named bases (lists of vector names, outcome
/// x = the x-th vector), and for each party the basis each of its settings measures.
struct ProjectiveModel {
  std::map<std::string, Eigen::VectorXcd> vectors;        ///< normalised
  std::map<std::string, std::vector<std::string>> bases;  ///< names of vectors
  std::vector<std::vector<std::string>> setting_bases;    ///< [party][setting] → basis name
};

/// Orthogonality rule: coefficient 1 for every (u, x) whose two outcome vectors are orthogonal
/// (|⟨a|b⟩| ≤ tolerance): outcomes a maximally entangled state never gives together.
std::vector<std::int64_t> orthogonality_coefficients(const Scenario& scenario, const ProjectiveModel& model,
                                                     double tolerance = 1e-9);

/// Hyperedge rule: coefficient 1 for every (u, x) whose two outcome vectors are distinct
/// members of one basis of the model (a hyperedge of the orthogonality graph), by name.
std::vector<std::int64_t> hyperedge_coefficients(const Scenario& scenario, const ProjectiveModel& model);

}  // namespace dira::protocol
