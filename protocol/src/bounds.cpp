#include "dira/protocol/bounds.hpp"

#include <cmath>

namespace dira::protocol {

LinearObjective majority_objective(const Scenario& sc, const std::vector<int>& parties, const Setting& u, int e) {
  LinearObjective obj;
  const std::size_t ui = sc.setting_index(u);
  const Rational half(1, 2);
  for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
    const Outcome x = sc.outcome_at(xi);
    int ones = 0;
    for (int p : parties) ones += x.at(static_cast<std::size_t>(p)) != 0;
    const int maj = 2 * ones > static_cast<int>(parties.size()) ? 1 : 0;
    obj.terms.emplace_back(ui * sc.outcome_count() + xi, maj == e ? half : Rational(-half));
  }
  return obj;
}

LinearObjective event_objective(const Scenario& sc, const Setting& u, const Outcome& x) {
  LinearObjective obj;
  obj.terms.emplace_back(sc.index(u, x), Rational(1));
  return obj;
}

namespace {
double objective_value(const LinearObjective& obj, const Behaviour& p) {
  double s = 0;
  for (const auto& [j, c] : obj.terms) s += to_double(c) * p[j];
  return s;
}
}  // namespace

BoundsReport compute_bounds(const Inequality& ineq, const BoundsOptions& opt) {
  BoundsReport rep;
  rep.inequality = &ineq;
  const BellExpression& B = ineq.expression;
  const Scenario& sc = B.scenario();
  rep.terms = B.terms();
  auto progress = [&](std::size_t done, std::size_t total, const std::string& what) {
    if (opt.progress) opt.progress(done, total, what);
  };

  progress(0, 1, "local bound");
  rep.local = local_bound(B);

  std::optional<Behaviour> q;
  if (ineq.quantum) {
    q = quantum_behaviour(sc, *ineq.quantum);
    rep.quantum_value = B.value(*q);
    rep.quantum_signalling = signalling_violation(sc, *q);
    rep.quantum_normalisation = normalisation_violation(sc, *q);
  }

  NoSignallingLp lp(B);
  {
    // No-signalling bound: min B·P = −max(−B)·P.
    progress(0, 1, "no-signalling bound");
    LinearObjective neg;
    for (std::size_t j = 0; j < sc.size(); ++j)
      if (B.coefficient(j) != 0) neg.terms.emplace_back(j, Rational(-B.coefficient(j)));
    const LpSolution s = lp.maximize(neg, std::nullopt, true);
    rep.ns_bound = -s.value;
    rep.ns_bound_certified = s.certified;
    if (s.certificate) rep.ns_bound_exact = Rational(-s.certificate->bound);
  }

  // Randomness LPs named by the seeds' lemmas, on the δ grid.
  std::size_t total = 0, done = 0;
  for (const auto& m : ineq.majority) total += m.settings.size() * 2 * opt.deltas.size();
  total += ineq.events.size() * opt.deltas.size();
  // Solves r.objective at r.delta (certified) and files the result beside the seed's figure.
  auto solve = [&](RandomnessBound& r, const std::optional<PaperBound>& paper) {
    const LpSolution s = lp.maximize(r.objective, r.delta, true);
    r.lp_value = s.value;
    r.certified = s.certified;
    r.exact_simplex_optimal = s.exact_simplex_optimal;
    r.certificate = s.certificate;
    if (paper) {
      r.paper_bound = paper->at(r.delta);
      r.paper_bound_valid = r.lp_value <= to_double(*r.paper_bound) + 1e-9;
    }
    if (q) r.quantum_value = objective_value(r.objective, *q);
    rep.randomness.push_back(std::move(r));
  };
  for (const Rational& delta : opt.deltas) {
    for (const auto& m : ineq.majority)
      for (const Setting& u : m.settings)
        for (int e = 0; e < 2; ++e) {
          progress(done++, total, "randomness LPs");
          RandomnessBound r;
          r.setting = u;
          r.event_name = "maj=" + std::to_string(e);
          r.lemma = "seed 000, Lemma 4, eqs. 26-27";
          r.delta = delta;
          r.objective = majority_objective(sc, m.parties, u, e);
          solve(r, m.paper_bound);
        }
    for (const auto& ev : ineq.events) {
      progress(done++, total, "randomness LPs");
      RandomnessBound r;
      r.setting = ev.setting;
      r.event = ev.event;
      r.event_name = format_tuple(ev.event);
      r.lemma = "seed 001, Lemma 2, eqs. 36-38";
      r.delta = delta;
      r.objective = event_objective(sc, ev.setting, ev.event);
      solve(r, ev.paper_bound);
    }
  }

  if (ineq.event_table && opt.event_table) {
    // Seed 001: which events are certifiably random at algebraic violation (B·P = 0)?
    std::vector<std::size_t> cells;
    for (std::size_t j = 0; j < sc.size(); ++j)
      if (B.coefficient(j) == 0) cells.push_back(j);
    std::size_t k = 0;
    for (std::size_t j : cells) {
      progress(k++, cells.size(), "event table");
      EventTableEntry e;
      e.setting = sc.setting_at(j / sc.outcome_count());
      e.event = sc.outcome_at(j % sc.outcome_count());
      const LpSolution s = lp.maximize(event_objective(sc, e.setting, e.event), Rational(0), opt.certify_event_table);
      e.lp_value = s.value;
      e.certified = s.certified;
      if (s.certificate) e.certified_bound = s.certificate->bound;
      if (q) e.quantum_probability = (*q)[j];
      rep.event_table.push_back(std::move(e));
    }
    progress(cells.size(), cells.size(), "event table");
  }
  return rep;
}

}  // namespace dira::protocol
