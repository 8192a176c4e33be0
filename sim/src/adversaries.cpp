// Adversarial sources (docs/simulator.md, "Adversarial sources"): boxes that try to pass the
// Bell tests without the randomness the protocols certify. The local one is
// protocol::local_bound's optimal strategy (built in source.cpp).
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/ns_lp.hpp"
#include "dira/sim/physical.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>

namespace dira::sim {

using protocol::Behaviour;
using protocol::Scenario;
using protocol::Trial;

namespace {

std::size_t setting_index(const Scenario& sc, const Trial& t) {
  std::size_t u = 0;
  for (int p = 0; p < sc.parties(); ++p)
    u = u * static_cast<std::size_t>(sc.settings(p)) + t.u[static_cast<std::size_t>(p)];
  return u;
}

}  // namespace

Behaviour no_signalling_box(const protocol::Inequality& ineq) {
  const Scenario& sc = ineq.expression.scenario();
  protocol::LinearObjective objective;
  const protocol::Rational one(1), zero(0);
  if (!ineq.events.empty()) {
    objective.terms.emplace_back(sc.index(ineq.events[0].setting, ineq.events[0].event), one);
  } else {
    const auto in = ineq.expression.settings_in_expression();
    if (in.empty()) throw std::invalid_argument("sim: the expression has no terms");
    objective.terms.emplace_back(in[0] * sc.outcome_count(), one);
  }
  protocol::NoSignallingLp lp(ineq.expression);
  const auto sol = lp.maximize(objective, zero, false);
  Behaviour p = sol.primal;
  if (p.size() != sc.size()) throw std::runtime_error("sim: the no-signalling LP returned no behaviour");
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double s = 0;
    for (std::size_t x = 0; x < nx; ++x) s += p[u * nx + x] = std::max(p[u * nx + x], 0.0);
    for (std::size_t x = 0; x < nx; ++x) p[u * nx + x] /= s;
  }
  return p;
}

MemoryStrategy repeat_guess_strategy(const protocol::BellExpression& expression) {
  const Scenario sc = expression.scenario();
  const protocol::LocalBound lb = protocol::local_bound(expression);
  auto table = std::make_shared<std::vector<protocol::DeterministicStrategy>>(sc.setting_count(), lb.optimal);
  for (std::size_t v = 0; v < sc.setting_count(); ++v) {
    const protocol::Setting vs = sc.setting_at(v);
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
      if (expression.coefficient(v * sc.outcome_count() + xi) != 0) continue;
      const protocol::Outcome x = sc.outcome_at(xi);
      protocol::DeterministicStrategy s = lb.optimal;
      for (std::size_t p = 0; p < x.size(); ++p) s[p][static_cast<std::size_t>(vs[p])] = x[p];
      const std::int64_t value = protocol::deterministic_value(expression, s);
      if (value < best) {
        best = value;
        (*table)[v] = std::move(s);
      }
    }
  }
  auto base = std::make_shared<protocol::DeterministicStrategy>(lb.optimal);
  return [sc, table, base](const Trial* previous, Trial& current, Rng& /*rng*/) {
    const protocol::DeterministicStrategy& s = previous ? (*table)[setting_index(sc, *previous)] : *base;
    for (std::size_t p = 0; p < s.size(); ++p) current.x[p] = static_cast<std::uint8_t>(s[p][current.u[p]]);
  };
}

}  // namespace dira::sim
