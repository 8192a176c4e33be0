#pragma once
// Shared test helpers. The checks here are written independently of protocol/ so that
// tests can use them to verify what the code under test returns.

#include "dira/app/inequality_loader.hpp"
#include "dira/protocol/bell_expression.hpp"

#include <cmath>
#include <string>

namespace dira::test {

inline protocol::Inequality load(const std::string& name) {
  return app::load_inequality_file(app::resolve_inequality(name));
}

/// Independent feasibility check of a behaviour for the no-signalling LP with B·P ≤ δ:
/// positivity, normalisation and equality of every one-party-removed marginal across
/// that party's settings, computed with plain loops (not protocol::signalling_violation).
inline bool is_no_signalling_witness(const protocol::BellExpression& B, const protocol::Behaviour& p, double delta,
                                     double tol = 1e-9) {
  const auto& sc = B.scenario();
  if (p.size() != sc.size()) return false;
  for (double v : p)
    if (v < -tol) return false;
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double s = 0;
    for (std::size_t x = 0; x < sc.outcome_count(); ++x) s += p[u * sc.outcome_count() + x];
    if (std::fabs(s - 1) > tol) return false;
  }
  for (int party = 0; party < sc.parties(); ++party)
    for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
      auto u = sc.setting_at(ui);
      for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
        auto x = sc.outcome_at(xi);
        auto u0 = u;
        u0[static_cast<std::size_t>(party)] = 0;
        double a = 0, b = 0;
        for (int o = 0; o < sc.outcomes(party); ++o) {
          x[static_cast<std::size_t>(party)] = o;
          a += p[sc.index(u, x)];
          b += p[sc.index(u0, x)];
        }
        if (std::fabs(a - b) > tol) return false;
      }
    }
  double bell = 0;
  for (std::size_t j = 0; j < sc.size(); ++j) bell += static_cast<double>(B.coefficient(j)) * p[j];
  return bell <= delta + tol;
}

}  // namespace dira::test
