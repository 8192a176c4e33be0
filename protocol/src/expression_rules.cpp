#include "dira/protocol/expression_rules.hpp"

#include <algorithm>
#include <stdexcept>

namespace dira::protocol {

std::vector<std::int64_t> parity_coefficients(const Scenario& sc, const std::vector<ParityGroup>& groups) {
  for (int p = 0; p < sc.parties(); ++p)
    if (sc.outcomes(p) != 2) throw std::invalid_argument("the parity rule needs two outcomes per party");
  std::vector<std::int64_t> coef(sc.size(), 0);
  for (const auto& g : groups)
    for (const auto& u : g.settings)
      for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
        const auto x = sc.outcome_at(xi);
        int parity = 0;
        for (int b : x) parity ^= b;
        if (parity == g.parity) coef[sc.index(u, x)] += 1;
      }
  return coef;
}

namespace {

/// Coefficient 1 where `joint(a, b)` holds for the outcome vectors a (party 0) and b (party 1).
template <class Joint>
std::vector<std::int64_t> pairwise(const Scenario& sc, const ProjectiveModel& m, Joint joint) {
  if (sc.parties() != 2) throw std::invalid_argument("the orthogonality and hyperedge rules are for two parties");
  std::vector<std::int64_t> coef(sc.size(), 0);
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    const auto u = sc.setting_at(ui);
    const auto& A = m.bases.at(m.setting_bases.at(0).at(static_cast<std::size_t>(u[0])));
    const auto& B = m.bases.at(m.setting_bases.at(1).at(static_cast<std::size_t>(u[1])));
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
      const auto x = sc.outcome_at(xi);
      if (joint(A.at(static_cast<std::size_t>(x[0])), B.at(static_cast<std::size_t>(x[1])))) coef[sc.index(u, x)] = 1;
    }
  }
  return coef;
}

}  // namespace

std::vector<std::int64_t> orthogonality_coefficients(const Scenario& sc, const ProjectiveModel& m, double tolerance) {
  return pairwise(sc, m, [&](const std::string& a, const std::string& b) {
    return std::abs(m.vectors.at(a).dot(m.vectors.at(b))) <= tolerance;
  });
}

std::vector<std::int64_t> hyperedge_coefficients(const Scenario& sc, const ProjectiveModel& m) {
  return pairwise(sc, m, [&](const std::string& a, const std::string& b) {
    if (a == b) return false;
    for (const auto& [name, members] : m.bases)
      if (std::count(members.begin(), members.end(), a) && std::count(members.begin(), members.end(), b)) return true;
    return false;
  });
}

}  // namespace dira::protocol
