#include "dira/app/bounds_report.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

namespace dira::app {

using nlohmann::json;
namespace P = dira::protocol;

namespace {

json exact_and_value(const P::Rational& r) { return json{{"exact", P::to_string(r)}, {"value", P::to_double(r)}}; }

/// Values that are zero up to rounding print as 0 (quantum values of 1e-33 are noise).
double clean(double v) { return std::fabs(v) < 1e-12 ? 0.0 : v; }

json per_party_or_uniform(const std::vector<int>& v) {
  if (std::all_of(v.begin(), v.end(), [&](int a) { return a == v[0]; })) return v[0];
  return v;
}

std::string fmt(double v, int prec = 6) {
  std::ostringstream os;
  os << std::setprecision(prec) << clean(v);
  return os.str();
}

json claim(const std::optional<double>& paper, double computed, bool exact_integer) {
  json j{{"computed", exact_integer ? json(static_cast<std::int64_t>(computed)) : json(computed)}};
  if (paper) {
    j["paper"] = exact_integer ? json(static_cast<std::int64_t>(*paper)) : json(*paper);
    j["agrees"] = exact_integer ? (*paper == computed) : std::fabs(*paper - computed) <= 1e-9;
  } else {
    j["paper"] = nullptr;
  }
  return j;
}

}  // namespace

json bounds_to_json(const P::BoundsReport& rep) {
  const P::Inequality& ineq = *rep.inequality;
  const P::Scenario& sc = ineq.expression.scenario();
  std::vector<int> s, o;
  for (int p = 0; p < sc.parties(); ++p) {
    s.push_back(sc.settings(p));
    o.push_back(sc.outcomes(p));
  }
  json j;
  j["inequality"] = ineq.name;
  j["title"] = ineq.title;
  j["source"] = ineq.source;
  j["file"] = ineq.file;
  j["parties"] = sc.parties();
  j["settings"] = per_party_or_uniform(s);
  j["outcomes"] = per_party_or_uniform(o);
  j["settings_per_party"] = s;
  j["outcomes_per_party"] = o;
  j["labels"] = "0-based in party order; the seeds' 1-based labels are these plus 1 (docs/labels.md)";
  j["expression_rule"] = ineq.expression_rule;
  j["terms"] = rep.terms;
  j["settings_in_expression"] = ineq.expression.settings_in_expression().size();
  j["local_bound"] = rep.local.value;
  j["local_bound_strategy"] = rep.local.optimal;
  j["ns_bound"] = clean(rep.ns_bound);
  j["ns_bound_certified"] = rep.ns_bound_certified;
  if (rep.quantum_value) {
    j["quantum_value"] = clean(*rep.quantum_value);
    j["quantum_consistency"] = {{"max_signalling", rep.quantum_signalling}, {"max_normalisation_error", rep.quantum_normalisation}};
  } else {
    j["quantum_value"] = nullptr;
  }
  json claims;
  const auto& c = ineq.claims;
  claims["local_bound"] = claim(c.local_bound ? std::optional<double>(static_cast<double>(*c.local_bound)) : std::nullopt,
                                static_cast<double>(rep.local.value), true);
  claims["ns_bound"] = claim(c.ns_bound ? std::optional<double>(static_cast<double>(*c.ns_bound)) : std::nullopt,
                             clean(rep.ns_bound), false);
  claims["terms"] = claim(c.terms ? std::optional<double>(static_cast<double>(*c.terms)) : std::nullopt,
                          static_cast<double>(rep.terms), true);
  if (rep.quantum_value) claims["quantum_value"] = claim(c.quantum_value, clean(*rep.quantum_value), false);
  j["claims"] = claims;

  json rnd = json::array();
  for (const auto& r : rep.randomness) {
    json e;
    e["setting"] = r.setting;
    if (r.event) e["event"] = *r.event;
    else e["event"] = r.event_name;
    e["lemma"] = r.lemma;
    e["delta"] = P::to_double(r.delta);
    e["delta_exact"] = P::to_string(r.delta);
    e["lp_value"] = clean(r.lp_value);
    if (r.paper_bound) {
      e["paper_bound"] = P::to_double(*r.paper_bound);
      e["paper_bound_exact"] = P::to_string(*r.paper_bound);
      e["paper_bound_valid"] = r.paper_bound_valid;
      e["paper_bound_slack"] = clean(P::to_double(*r.paper_bound) - r.lp_value);
    } else {
      e["paper_bound"] = nullptr;
    }
    e["certified"] = r.certified;
    e["exact_simplex_optimal"] = r.exact_simplex_optimal;
    if (r.certificate) e["certified_bound"] = exact_and_value(r.certificate->bound);
    else e["certified_bound"] = nullptr;
    if (r.quantum_value) e["quantum_value"] = clean(*r.quantum_value);
    rnd.push_back(std::move(e));
  }
  j["randomness"] = rnd;

  if (!rep.event_table.empty()) {
    json entries = json::array();
    std::size_t random = 0, certified = 0;
    double smallest = 1;
    std::map<std::string, std::size_t> histogram;
    for (const auto& e : rep.event_table) {
      json k{{"setting", e.setting}, {"event", e.event}, {"lp_value", clean(e.lp_value)}, {"certified", e.certified}};
      if (e.certified_bound) k["certified_bound"] = P::to_string(*e.certified_bound);
      if (e.quantum_probability) k["quantum_probability"] = clean(*e.quantum_probability);
      entries.push_back(std::move(k));
      if (e.lp_value < 1 - 1e-9) ++random;
      if (e.certified) ++certified;
      smallest = std::min(smallest, e.lp_value);
      histogram[e.certified_bound ? P::to_string(*e.certified_bound) : fmt(e.lp_value)]++;
    }
    j["event_table"] = {{"delta", 0},
                        {"description", "max P(x|u) over no-signalling boxes with B·P = 0, for every (u,x) with B(x,u) = 0"},
                        {"events", rep.event_table.size()},
                        {"certifiably_random", random},
                        {"certified_entries", certified},
                        {"smallest_max_probability", clean(smallest)},
                        {"value_histogram", histogram},
                        {"entries", entries}};
  }
  return j;
}

void print_bounds_text(std::ostream& out, const P::BoundsReport& rep) {
  const P::Inequality& ineq = *rep.inequality;
  const P::Scenario& sc = ineq.expression.scenario();
  out << ineq.name << " — " << ineq.title << "\n";
  out << "  source " << ineq.source << "; file " << ineq.file << "\n";
  out << "  scenario " << sc.describe() << " (parties, settings, outcomes); " << rep.terms << " terms ("
      << ineq.expression_rule << "), " << ineq.expression.settings_in_expression().size() << " settings in B\n";
  out << "  labels are 0-based: add 1 for the seeds' labels (docs/labels.md)\n\n";

  auto row = [&](const std::string& what, const std::string& computed, const std::string& paper, const std::string& verdict) {
    out << "  " << std::left << std::setw(22) << what << std::setw(26) << computed << std::setw(10) << paper << verdict << "\n";
  };
  row("", "computed", "seed", "");
  auto verdict = [](bool have, bool agree) { return have ? (agree ? "agrees" : "DIFFERS") : ""; };
  const auto& c = ineq.claims;
  row("terms in B", std::to_string(rep.terms), c.terms ? std::to_string(*c.terms) : "-",
      verdict(c.terms.has_value(), c.terms && *c.terms == rep.terms));
  row("local bound", std::to_string(rep.local.value) + " (enumerated)", c.local_bound ? std::to_string(*c.local_bound) : "-",
      verdict(c.local_bound.has_value(), c.local_bound && *c.local_bound == rep.local.value));
  row("no-signalling bound", fmt(rep.ns_bound) + (rep.ns_bound_certified ? " (certified)" : " (not certified)"),
      c.ns_bound ? std::to_string(*c.ns_bound) : "-",
      verdict(c.ns_bound.has_value(), c.ns_bound && std::fabs(static_cast<double>(*c.ns_bound) - rep.ns_bound) < 1e-9));
  if (rep.quantum_value)
    row("quantum value", fmt(*rep.quantum_value) + " (realisation)", c.quantum_value ? fmt(*c.quantum_value) : "-",
        verdict(c.quantum_value.has_value(), c.quantum_value && std::fabs(*c.quantum_value - *rep.quantum_value) < 1e-9));

  if (!rep.randomness.empty()) {
    out << "\n  Randomness: max over no-signalling boxes with B·P ≤ δ (" << rep.randomness.front().lemma << ")\n";
    out << "  " << std::left << std::setw(11) << "setting" << std::setw(8) << "event" << std::setw(8) << "δ" << std::setw(12)
        << "LP optimum" << std::setw(20) << "certified bound" << std::setw(12) << "seed bound" << std::setw(10) << "seed is"
        << "quantum\n";
    for (const auto& r : rep.randomness) {
      std::string seed = r.paper_bound ? fmt(P::to_double(*r.paper_bound)) : "-";
      std::string seed_is = !r.paper_bound ? "" : !r.paper_bound_valid ? "WRONG"
                                                 : (P::to_double(*r.paper_bound) - r.lp_value > 1e-9 ? "loose" : "tight");
      std::string cert = r.certificate ? P::to_string(r.certificate->bound) + (r.certified ? "" : " (gap)") : "no";
      if (!r.certified && !r.certificate) cert = "NOT CERTIFIED";
      out << "  " << std::left << std::setw(11) << P::format_tuple(r.setting) << std::setw(8) << r.event_name << std::setw(8)
          << P::to_string(r.delta) << std::setw(12) << fmt(r.lp_value) << std::setw(20) << cert << std::setw(12) << seed
          << std::setw(10) << seed_is << (r.quantum_value ? fmt(*r.quantum_value) : "-") << "\n";
    }
  }
  if (!rep.event_table.empty()) {
    std::map<double, std::size_t> hist;
    std::size_t random = 0, certified = 0;
    for (const auto& e : rep.event_table) {
      hist[std::round(e.lp_value * 1e9) / 1e9]++;
      random += e.lp_value < 1 - 1e-9;
      certified += e.certified;
    }
    out << "\n  Event table at B·P = 0: " << rep.event_table.size() << " events (u,x) with B(x,u) = 0; " << random
        << " have max P(x|u) < 1 (certifiably random); " << certified << " certified exactly\n";
    out << "  max P(x|u) : number of events\n";
    for (const auto& [v, n] : hist) out << "    " << std::left << std::setw(12) << fmt(v) << n << "\n";
  }
}

json certificates_to_json(const P::BoundsReport& rep) {
  const P::Inequality& ineq = *rep.inequality;
  const P::BellExpression& B = ineq.expression;
  const P::Scenario& sc = B.scenario();
  json j;
  j["format"] = "dira-ns-dual-certificate/1";
  j["inequality"] = ineq.name;
  j["source"] = ineq.source;
  j["statement"] =
      "For each certificate: every behaviour P with P >= 0 satisfying all 'rows' (equalities) and, when delta is not "
      "null, bell_row.P <= delta, satisfies objective.P <= bound. Proof: with r = objective - sum_i multipliers[i]*rows[i] "
      "- bell_multiplier*bell_row, objective.P = sum_i multipliers[i]*rhs_i + bell_multiplier*(bell_row.P) + r.P <= "
      "sum_i multipliers[i]*rhs_i + bell_multiplier*delta + sum_u max(0, max_x r(x,u)), because bell_multiplier >= 0 and, "
      "per setting u, P(.|u) is a probability vector. 'bound' is exactly that right-hand side.";
  j["check_with"] = "python3 scripts/check_certificate.py FILE (standard library only; exact fractions)";
  std::vector<int> s, o;
  for (int p = 0; p < sc.parties(); ++p) {
    s.push_back(sc.settings(p));
    o.push_back(sc.outcomes(p));
  }
  j["scenario"] = {{"parties", sc.parties()}, {"settings_per_party", s}, {"outcomes_per_party", o}};
  json vars = json::array();
  for (std::size_t k = 0; k < sc.size(); ++k)
    vars.push_back(json::array({sc.setting_at(k / sc.outcome_count()), sc.outcome_at(k % sc.outcome_count())}));
  j["variables"] = {{"layout", "index = setting_index(u)*outcome_count + outcome_index(x), party 0 most significant"},
                    {"list", vars}};
  const auto rows = P::no_signalling_rows(sc);
  json jr = json::array();
  for (const auto& r : rows) {
    json t = json::array();
    for (const auto& [k, a] : r.terms) t.push_back(json::array({k, a}));
    jr.push_back({{"label", r.label}, {"kind", "equal"}, {"rhs", P::to_string(r.rhs)}, {"terms", t}});
  }
  j["rows"] = jr;
  json bell = json::array();
  for (std::size_t k = 0; k < sc.size(); ++k)
    if (B.coefficient(k) != 0) bell.push_back(json::array({k, B.coefficient(k)}));
  j["bell_row"] = bell;

  json certs = json::array();
  auto add = [&](const P::Setting& u, const json& event, const P::Rational& delta, const P::LinearObjective& obj,
                 const P::DualCertificate& cert, const std::string& lemma, double lp_value) {
    json c;
    c["setting"] = u;
    c["event"] = event;
    c["lemma"] = lemma;
    c["delta"] = P::to_string(delta);
    json oj = json::array();
    for (const auto& [k, v] : obj.terms) oj.push_back(json::array({k, P::to_string(v)}));
    c["objective"] = oj;
    json m = json::array();
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (cert.multipliers[i] != 0) m.push_back(json::array({i, P::to_string(cert.multipliers[i])}));
    c["multipliers"] = m;
    c["bell_multiplier"] = cert.multipliers.size() > rows.size() ? P::to_string(cert.multipliers.back()) : "0";
    c["slack"] = P::to_string(cert.slack);
    c["bound"] = P::to_string(cert.bound);
    c["bound_value"] = P::to_double(cert.bound);
    c["lp_value"] = lp_value;
    certs.push_back(std::move(c));
  };
  for (const auto& r : rep.randomness)
    if (r.certificate)
      add(r.setting, r.event ? json(*r.event) : json(r.event_name), r.delta, r.objective, *r.certificate, r.lemma, r.lp_value);
  j["certificates"] = certs;
  return j;
}

}  // namespace dira::app
