#include "dira/app/inequality_loader.hpp"

#include "dira/protocol/expression_rules.hpp"

#include "dira/conf/document.hpp"
#include "dira/conf/reader.hpp"
#include "dira/conf/search_path.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <set>
#include <sstream>

namespace dira::app {

UnknownInequality::UnknownInequality(const std::string& name, std::vector<std::string> known)
    : std::runtime_error([&] {
        std::string s = "unknown inequality '" + name + "'; known: ";
        for (std::size_t i = 0; i < known.size(); ++i) s += (i ? ", " : "") + known[i];
        if (known.empty()) s += "(none found; set DIRA_CONFIG_DIR or --config-dir)";
        return s;
      }()),
      known_(std::move(known)) {}

namespace {

using conf::Reader;
using protocol::Rational;
using cd = std::complex<double>;
constexpr double kTol = 1e-9;

std::vector<int> per_party(Reader& r, const YAML::Node& n, const std::string& key, int parties) {
  if (!n.IsDefined()) return {};
  if (n.IsSequence()) {
    if (static_cast<int>(n.size()) != parties) {
      r.issue(n, key, "needs one entry per party (" + std::to_string(parties) + ")");
      return {};
    }
    std::vector<int> out;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto v = r.integer(n[i], Reader::idx(key, i));
      if (!v) return {};
      if (*v < 1 || *v > 64) {
        r.issue(n[i], Reader::idx(key, i), "must be between 1 and 64");
        return {};
      }
      out.push_back(static_cast<int>(*v));
    }
    return out;
  }
  auto v = r.integer(n, key);
  if (!v) return {};
  if (*v < 1 || *v > 64) {
    r.issue(n, key, "must be between 1 and 64");
    return {};
  }
  return std::vector<int>(static_cast<std::size_t>(parties), static_cast<int>(*v));
}

std::optional<protocol::PaperBound> paper_bound(Reader& r, const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsMap()) {
    r.issue(n, key, "expected a map with formula, constant, slope, source");
    return std::nullopt;
  }
  r.allowed_keys(n, key, {"formula", "constant", "slope", "source"});
  protocol::PaperBound b;
  auto c = r.rational(r.require(n, key, "constant"), Reader::join(key, "constant"));
  auto s = r.rational(r.require(n, key, "slope"), Reader::join(key, "slope"));
  if (n["formula"]) b.formula = r.string(n["formula"], Reader::join(key, "formula")).value_or("");
  if (n["source"]) b.source = r.string(n["source"], Reader::join(key, "source")).value_or("");
  if (!c || !s) return std::nullopt;
  b.constant = *c;
  b.slope = *s;
  return b;
}

/// The quantum part as read: the projective model the orthogonality and hyperedge rules take.
struct Quantum : protocol::ProjectiveModel {
  int dimension = 0;
  bool usable = false;  // every part parsed
};

Quantum read_quantum(Reader& r, const YAML::Node& q, const protocol::Scenario& sc) {
  Quantum out;
  const std::string key = "quantum";
  r.allowed_keys(q, key, {"dimension", "vectors", "bases", "setting_bases", "state"});
  auto dim = r.integer(r.require(q, key, "dimension"), "quantum.dimension");
  if (!dim) return out;
  if (*dim < 1 || *dim > 64) {
    r.issue(q["dimension"], "quantum.dimension", "must be between 1 and 64");
    return out;
  }
  out.dimension = static_cast<int>(*dim);
  const std::size_t before = r.issues().size();

  const YAML::Node vecs = r.require(q, key, "vectors");
  if (vecs.IsDefined() && !vecs.IsMap()) r.issue(vecs, "quantum.vectors", "expected a map name -> [components]");
  if (vecs.IsMap())
    for (const auto& kv : vecs) {
      const std::string name = Reader::key_of(kv.first);
      const std::string k = "quantum.vectors." + name;
      if (!kv.second.IsSequence()) {
        r.issue(kv.second, k, "expected a list of components");
        continue;
      }
      if (static_cast<int>(kv.second.size()) != out.dimension) {
        r.issue(kv.second, k,
                "has " + std::to_string(kv.second.size()) + " components; quantum.dimension is " +
                    std::to_string(out.dimension));
        continue;
      }
      Eigen::VectorXcd v(out.dimension);
      bool good = true;
      for (int i = 0; i < out.dimension; ++i) {
        auto c = r.complex_number(kv.second[static_cast<std::size_t>(i)], Reader::idx(k, static_cast<std::size_t>(i)));
        if (!c)
          good = false;
        else
          v(i) = *c;
      }
      if (!good) continue;
      if (v.norm() < kTol) {
        r.issue(kv.second, k, "is the zero vector");
        continue;
      }
      out.vectors[name] = v / v.norm();
    }

  const YAML::Node bases = r.require(q, key, "bases");
  if (bases.IsDefined() && !bases.IsMap()) r.issue(bases, "quantum.bases", "expected a map name -> [vector names]");
  if (bases.IsMap())
    for (const auto& kv : bases) {
      const std::string name = Reader::key_of(kv.first);
      const std::string k = "quantum.bases." + name;
      if (!kv.second.IsSequence()) {
        r.issue(kv.second, k, "expected a list of vector names");
        continue;
      }
      std::vector<std::string> names;
      bool good = true;
      for (std::size_t i = 0; i < kv.second.size(); ++i) {
        auto s = r.string(kv.second[i], Reader::idx(k, i));
        if (!s) {
          good = false;
          continue;
        }
        if (!out.vectors.count(*s)) {
          if (vecs.IsMap() && vecs[*s])
            good = false;  // already reported as malformed
          else
            r.issue(kv.second[i], Reader::idx(k, i), "unknown vector '" + *s + "'");
          good = false;
          continue;
        }
        names.push_back(*s);
      }
      if (!good) continue;
      if (static_cast<int>(names.size()) != out.dimension) {
        r.issue(kv.second, k,
                "is not a basis: " + std::to_string(names.size()) + " vectors in dimension " +
                    std::to_string(out.dimension));
        continue;
      }
      for (std::size_t a = 0; a < names.size() && good; ++a)
        for (std::size_t b = a + 1; b < names.size() && good; ++b) {
          const double ip = std::abs(out.vectors[names[a]].dot(out.vectors[names[b]]));
          if (ip > kTol) {
            std::ostringstream os;
            os << "is not orthonormal: " << names[a] << " and " << names[b] << " have |<a|b>| = " << ip
               << " after normalisation";
            r.issue(kv.second, k, os.str());
            good = false;
          }
        }
      if (good) out.bases[name] = names;
    }

  const YAML::Node sb = r.require(q, key, "setting_bases");
  if (sb.IsDefined()) {
    r.allowed_keys(sb, "quantum.setting_bases", {"all_parties", "per_party"});
    std::vector<std::pair<YAML::Node, std::string>> lists;
    if (sb.IsMap() && sb["all_parties"]) {
      for (int p = 0; p < sc.parties(); ++p) lists.emplace_back(sb["all_parties"], "quantum.setting_bases.all_parties");
    } else if (sb.IsMap() && sb["per_party"]) {
      const YAML::Node pp = sb["per_party"];
      if (!pp.IsSequence() || static_cast<int>(pp.size()) != sc.parties())
        r.issue(pp, "quantum.setting_bases.per_party",
                "needs one list per party (" + std::to_string(sc.parties()) + ")");
      else
        for (std::size_t p = 0; p < pp.size(); ++p)
          lists.emplace_back(pp[p], Reader::idx("quantum.setting_bases.per_party", p));
    } else {
      r.issue(sb, "quantum.setting_bases", "expected all_parties: [basis per setting] or per_party: [[...], ...]");
    }
    for (std::size_t p = 0; p < lists.size(); ++p) {
      const auto& [n, k] = lists[p];
      std::vector<std::string> names;
      if (!n.IsSequence() || static_cast<int>(n.size()) != sc.settings(static_cast<int>(p))) {
        if (p == 0 || k.find("per_party") != std::string::npos)
          r.issue(n, k, "needs one basis name per setting (" + std::to_string(sc.settings(static_cast<int>(p))) + ")");
        continue;
      }
      for (std::size_t s = 0; s < n.size(); ++s) {
        auto name = r.string(n[s], Reader::idx(k, s));
        if (!name) continue;
        if (!out.bases.count(*name)) {
          if (!(bases.IsMap() && bases[*name]) && (p == 0 || k.find("per_party") != std::string::npos))
            r.issue(n[s], Reader::idx(k, s), "unknown basis '" + *name + "'");
          continue;
        }
        if (static_cast<int>(out.bases[*name].size()) != sc.outcomes(static_cast<int>(p))) {
          r.issue(n[s], Reader::idx(k, s),
                  "basis '" + *name + "' has " + std::to_string(out.bases[*name].size()) + " outcomes; party " +
                      std::to_string(p) + " has " + std::to_string(sc.outcomes(static_cast<int>(p))));
          continue;
        }
        names.push_back(*name);
      }
      out.setting_bases.push_back(names);
    }
  }
  out.usable = r.issues().size() == before && static_cast<int>(out.setting_bases.size()) == sc.parties();
  if (out.usable)
    for (int p = 0; p < sc.parties(); ++p)
      if (static_cast<int>(out.setting_bases[static_cast<std::size_t>(p)].size()) != sc.settings(p)) out.usable = false;
  return out;
}

std::optional<protocol::QuantumRealisation> realisation(Reader& r, const YAML::Node& q, const Quantum& Q,
                                                        const protocol::Scenario& sc) {
  if (!Q.usable) return std::nullopt;
  protocol::QuantumRealisation real;
  real.local_dimension.assign(static_cast<std::size_t>(sc.parties()), Q.dimension);
  for (int p = 0; p < sc.parties(); ++p) {
    std::vector<Eigen::MatrixXcd> per;
    for (const auto& bname : Q.setting_bases[static_cast<std::size_t>(p)]) {
      const auto& names = Q.bases.at(bname);
      Eigen::MatrixXcd m(Q.dimension, static_cast<Eigen::Index>(names.size()));
      for (std::size_t x = 0; x < names.size(); ++x) m.col(static_cast<Eigen::Index>(x)) = Q.vectors.at(names[x]);
      per.push_back(m);
    }
    real.bases.push_back(std::move(per));
  }
  const YAML::Node st = r.require(q, "quantum", "state");
  if (!st.IsDefined()) return std::nullopt;
  if (!st.IsSequence() || st.size() == 0) {
    r.issue(st, "quantum.state", "expected a list of [amplitude, [vector name per party]]");
    return std::nullopt;
  }
  Eigen::Index dim = 1;
  for (int p = 0; p < sc.parties(); ++p) dim *= Q.dimension;
  Eigen::VectorXcd psi = Eigen::VectorXcd::Zero(dim);
  bool good = true;
  for (std::size_t t = 0; t < st.size(); ++t) {
    const std::string k = Reader::idx("quantum.state", t);
    const YAML::Node term = st[t];
    if (!term.IsSequence() || term.size() != 2 || !term[1].IsSequence()) {
      r.issue(term, k, "expected [amplitude, [vector name per party]]");
      good = false;
      continue;
    }
    auto amp = r.complex_number(term[0], Reader::idx(k, 0));
    if (static_cast<int>(term[1].size()) != sc.parties()) {
      r.issue(term[1], Reader::idx(k, 1),
              "names " + std::to_string(term[1].size()) + " vectors; the scenario has " + std::to_string(sc.parties()) +
                  " parties");
      good = false;
      continue;
    }
    Eigen::VectorXcd v = Eigen::VectorXcd::Ones(1);
    for (std::size_t p = 0; p < term[1].size(); ++p) {
      auto name = r.string(term[1][p], Reader::idx(Reader::idx(k, 1), p));
      if (!name || !Q.vectors.count(*name)) {
        if (name) r.issue(term[1][p], Reader::idx(Reader::idx(k, 1), p), "unknown vector '" + *name + "'");
        good = false;
        v.resize(0);
        break;
      }
      const Eigen::VectorXcd& c = Q.vectors.at(*name);
      Eigen::VectorXcd w(v.size() * c.size());
      for (Eigen::Index a = 0; a < v.size(); ++a)
        for (Eigen::Index b = 0; b < c.size(); ++b) w(a * c.size() + b) = v(a) * c(b);
      v = std::move(w);
    }
    if (!amp || v.size() != dim) {
      good = false;
      continue;
    }
    psi += *amp * v;
  }
  if (!good) return std::nullopt;
  if (psi.norm() < kTol) {
    r.issue(st, "quantum.state", "the terms sum to the zero vector");
    return std::nullopt;
  }
  real.state = psi / psi.norm();
  return real;
}

}  // namespace

namespace {
protocol::Inequality read_inequality(Reader& r, const YAML::Node& doc, const std::string& file);
}  // namespace

protocol::Inequality load_inequality_text(std::string_view yaml, const std::string& file) {
  Reader r(file);
  const YAML::Node doc = r.parse(yaml);
  // Whatever yaml-cpp still throws on a node shape the checks did not foresee is a config error
  // with a position, never a library exception (issue 12).
  try {
    return read_inequality(r, doc, file);
  } catch (const YAML::Exception& e) {
    r.issues().push_back(ConfigIssue{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                                     e.mark.is_null() ? 0 : e.mark.column + 1, "", "YAML: " + e.msg});
    throw ConfigError(r.issues());
  }
}

namespace {

protocol::Inequality read_inequality(Reader& r, const YAML::Node& doc, const std::string& file) {
  protocol::Inequality ineq;
  ineq.file = file;
  if (!doc.IsMap()) {
    r.issue(doc, "", "expected a YAML map at the top level");
    throw ConfigError(r.issues());
  }
  r.allowed_keys(doc, "", {"name", "title", "source", "scenario", "expression", "claims", "quantum", "randomness"});
  ineq.name = r.string(r.require(doc, "", "name"), "name").value_or("");
  if (doc["title"]) ineq.title = r.string(doc["title"], "title").value_or("");
  if (doc["source"]) ineq.source = r.string(doc["source"], "source").value_or("");

  // Scenario.
  const YAML::Node scn = r.require(doc, "", "scenario");
  if (!scn.IsMap()) {
    if (scn.IsDefined()) r.issue(scn, "scenario", "expected a map with parties, settings, outcomes");
    throw ConfigError(r.issues());
  }
  r.allowed_keys(scn, "scenario", {"parties", "settings", "outcomes"});
  const auto parties = r.integer(r.require(scn, "scenario", "parties"), "scenario.parties");
  if (parties && (*parties < 1 || *parties > 16))
    r.issue(scn["parties"], "scenario.parties", "must be between 1 and 16");
  if (!parties || *parties < 1 || *parties > 16) throw ConfigError(r.issues());
  const int n = static_cast<int>(*parties);
  const auto S = per_party(r, r.require(scn, "scenario", "settings"), "scenario.settings", n);
  const auto O = per_party(r, r.require(scn, "scenario", "outcomes"), "scenario.outcomes", n);
  if (S.empty() || O.empty()) throw ConfigError(r.issues());
  protocol::Scenario sc;
  try {
    sc = protocol::Scenario(S, O);
  } catch (const std::exception& e) {
    r.issue(scn, "scenario", e.what());
    throw ConfigError(r.issues());
  }

  // Quantum part first: the orthogonality rule derives S_B from its vectors and bases.
  Quantum Q;
  const YAML::Node qn = doc["quantum"];
  if (qn.IsDefined()) {
    if (!qn.IsMap())
      r.issue(qn, "quantum", "expected a map");
    else
      Q = read_quantum(r, qn, sc);
  }

  // Expression.
  std::vector<std::int64_t> coef(sc.size(), 0);
  bool expression_ok = false;
  const YAML::Node ex = r.require(doc, "", "expression");
  if (ex.IsDefined() && !ex.IsMap()) r.issue(ex, "expression", "expected a map with a rule");
  if (ex.IsMap()) {
    const auto rule = r.string(r.require(ex, "expression", "rule"), "expression.rule");
    ineq.expression_rule = rule.value_or("");
    if (rule == "parity") {
      r.allowed_keys(ex, "expression", {"rule", "groups"});
      bool binary = std::all_of(O.begin(), O.end(), [](int o) { return o == 2; });
      if (!binary) r.issue(ex["rule"], "expression.rule", "parity needs two outcomes per party");
      const YAML::Node groups = r.require(ex, "expression", "groups");
      if (groups.IsDefined() && !groups.IsSequence()) r.issue(groups, "expression.groups", "expected a list");
      const std::size_t before = r.issues().size();
      std::vector<protocol::ParityGroup> parity_groups;
      if (groups.IsSequence() && binary)
        for (std::size_t g = 0; g < groups.size(); ++g) {
          const std::string k = Reader::idx("expression.groups", g);
          r.allowed_keys(groups[g], k, {"name", "settings", "parity"});
          const auto parity = r.integer(r.require(groups[g], k, "parity"), k + ".parity");
          if (parity && *parity != 0 && *parity != 1) r.issue(groups[g]["parity"], k + ".parity", "must be 0 or 1");
          const YAML::Node sets = r.require(groups[g], k, "settings");
          if (sets.IsDefined() && !sets.IsSequence()) r.issue(sets, k + ".settings", "expected a list of settings");
          if (!sets.IsSequence() || !parity) continue;
          protocol::ParityGroup pg;
          pg.parity = static_cast<int>(*parity);
          for (std::size_t i = 0; i < sets.size(); ++i)
            if (auto u = r.tuple(sets[i], Reader::idx(k + ".settings", i), S, "setting")) pg.settings.push_back(*u);
          parity_groups.push_back(std::move(pg));
        }
      expression_ok = groups.IsSequence() && binary && r.issues().size() == before;
      if (expression_ok) coef = protocol::parity_coefficients(sc, parity_groups);
    } else if (rule == "orthogonality" || rule == "hyperedge") {
      r.allowed_keys(ex, "expression", {"rule"});
      if (n != 2)
        r.issue(ex["rule"], "expression.rule", "'" + *rule + "' is defined for two parties");
      else if (!qn.IsDefined())
        r.issue(ex["rule"], "expression.rule", "'" + *rule + "' needs quantum.vectors, bases and setting_bases");
      else if (Q.usable) {
        coef = *rule == "orthogonality" ? protocol::orthogonality_coefficients(sc, Q, kTol)
                                        : protocol::hyperedge_coefficients(sc, Q);
        expression_ok = true;
      }
    } else if (rule == "terms") {
      r.allowed_keys(ex, "expression", {"rule", "terms"});
      const YAML::Node terms = r.require(ex, "expression", "terms");
      const std::size_t before = r.issues().size();
      if (terms.IsDefined() && !terms.IsSequence())
        r.issue(terms, "expression.terms", "expected a list of {setting, outcome, coefficient}");
      if (terms.IsSequence())
        for (std::size_t t = 0; t < terms.size(); ++t) {
          const std::string k = Reader::idx("expression.terms", t);
          r.allowed_keys(terms[t], k, {"setting", "outcome", "coefficient"});
          auto u = r.tuple(r.require(terms[t], k, "setting"), k + ".setting", S, "setting");
          auto x = r.tuple(r.require(terms[t], k, "outcome"), k + ".outcome", O, "outcome");
          auto c = terms[t]["coefficient"] ? r.integer(terms[t]["coefficient"], k + ".coefficient")
                                           : std::optional<long long>(1);
          if (u && x && c) coef[sc.index(*u, *x)] += *c;
        }
      expression_ok = terms.IsSequence() && r.issues().size() == before;
    } else if (rule) {
      r.issue(ex["rule"], "expression.rule",
              "unknown rule '" + *rule + "' (known: parity, orthogonality, hyperedge, terms)");
    }
  }
  if (expression_ok) ineq.expression = protocol::BellExpression(sc, coef);

  if (qn.IsDefined() && qn.IsMap()) ineq.quantum = realisation(r, qn, Q, sc);

  // Claims.
  if (const YAML::Node cl = r.section(doc, "", "claims", "local_bound:, ns_bound:, quantum_value:, terms:");
      cl.IsDefined()) {
    r.allowed_keys(cl, "claims", {"local_bound", "ns_bound", "quantum_value", "terms"});
    if (cl["local_bound"]) ineq.claims.local_bound = r.integer(cl["local_bound"], "claims.local_bound");
    if (cl["ns_bound"]) ineq.claims.ns_bound = r.integer(cl["ns_bound"], "claims.ns_bound");
    if (cl["quantum_value"]) ineq.claims.quantum_value = r.number(cl["quantum_value"], "claims.quantum_value");
    if (cl["terms"]) {
      auto t = r.integer(cl["terms"], "claims.terms");
      if (t) ineq.claims.terms = static_cast<std::size_t>(*t);
    }
  }

  // Randomness statements.
  if (const YAML::Node rn = r.section(doc, "", "randomness", "majority:, events:, event_table:"); rn.IsDefined()) {
    r.allowed_keys(rn, "randomness", {"majority", "events", "event_table"});
    if (rn["event_table"]) ineq.event_table = r.boolean(rn["event_table"], "randomness.event_table").value_or(false);
    if (const YAML::Node mj = rn["majority"]; mj.IsDefined()) {
      if (!mj.IsSequence())
        r.issue(mj, "randomness.majority", "expected a list");
      else
        for (std::size_t i = 0; i < mj.size(); ++i) {
          const std::string k = Reader::idx("randomness.majority", i);
          r.allowed_keys(mj[i], k, {"parties", "settings", "paper_bound"});
          protocol::MajorityRandomness m;
          const YAML::Node ps = r.require(mj[i], k, "parties");
          bool good = true;
          if (ps.IsDefined() && (!ps.IsSequence() || ps.size() % 2 == 0)) {
            r.issue(ps, k + ".parties", "expected a list of an odd number of parties");
            good = false;
          } else if (ps.IsSequence()) {
            for (std::size_t j = 0; j < ps.size(); ++j) {
              auto p = r.integer(ps[j], Reader::idx(k + ".parties", j));
              if (p && (*p < 0 || *p >= n)) {
                r.issue(ps[j], Reader::idx(k + ".parties", j),
                        "party " + std::to_string(*p) + " out of range (0.." + std::to_string(n - 1) + ", 0-based)");
                good = false;
              } else if (p)
                m.parties.push_back(static_cast<int>(*p));
              else
                good = false;
            }
            if (std::any_of(O.begin(), O.end(), [](int o) { return o != 2; })) {
              r.issue(ps, k + ".parties", "a majority needs binary outcomes");
              good = false;
            }
          }
          const YAML::Node ss = r.require(mj[i], k, "settings");
          if (ss.IsScalar() && ss.Scalar() == "expression") {
            if (expression_ok)
              for (std::size_t ui : ineq.expression.settings_in_expression()) m.settings.push_back(sc.setting_at(ui));
          } else if (ss.IsSequence()) {
            for (std::size_t j = 0; j < ss.size(); ++j) {
              auto u = r.tuple(ss[j], Reader::idx(k + ".settings", j), S, "setting");
              if (u)
                m.settings.push_back(*u);
              else
                good = false;
            }
          } else if (ss.IsDefined()) {
            r.issue(ss, k + ".settings", "expected 'expression' or a list of settings");
          }
          m.paper_bound = paper_bound(r, mj[i]["paper_bound"], k + ".paper_bound");
          if (good) ineq.majority.push_back(std::move(m));
        }
    }
    if (const YAML::Node evs = rn["events"]; evs.IsDefined()) {
      if (!evs.IsSequence())
        r.issue(evs, "randomness.events", "expected a list");
      else
        for (std::size_t i = 0; i < evs.size(); ++i) {
          const std::string k = Reader::idx("randomness.events", i);
          r.allowed_keys(evs[i], k, {"setting", "event", "paper_bound", "paper_quantum_probability"});
          auto u = r.tuple(r.require(evs[i], k, "setting"), k + ".setting", S, "setting");
          auto x = r.tuple(r.require(evs[i], k, "event"), k + ".event", O, "outcome");
          protocol::EventRandomness e;
          e.paper_bound = paper_bound(r, evs[i]["paper_bound"], k + ".paper_bound");
          if (evs[i]["paper_quantum_probability"])
            e.paper_quantum_probability =
                r.rational(evs[i]["paper_quantum_probability"], k + ".paper_quantum_probability");
          if (u && x) {
            e.setting = *u;
            e.event = *x;
            ineq.events.push_back(std::move(e));
          }
        }
    }
  }
  if (!r.ok()) throw ConfigError(r.issues());
  return ineq;
}

}  // namespace

protocol::Inequality load_inequality_file(const std::filesystem::path& path) {
  return load_inequality_text(conf::read_config_file(path), path.string());
}

std::vector<std::filesystem::path> config_search_path(const std::filesystem::path& override_dir) {
  return conf::config_search_path(override_dir);
}

std::vector<std::string> known_inequalities(const std::filesystem::path& override_dir) {
  return conf::known_configs("inequalities", override_dir);
}

std::filesystem::path resolve_inequality(const std::string& name, const std::filesystem::path& override_dir) {
  if (conf::names_a_path(name)) {
    // The error_code overload: a name the OS refuses (a component past NAME_MAX, found by
    // fuzz_experiment_yaml) is a config error, not a std::filesystem::filesystem_error.
    std::error_code ec;
    if (std::filesystem::exists(name, ec)) return name;
    throw ConfigError({ConfigIssue{name, 0, 0, "", ec ? "cannot use this path: " + ec.message() : "no such file"}});
  }
  if (auto p = conf::find_config("inequalities", name, override_dir)) return *p;
  throw UnknownInequality(name, known_inequalities(override_dir));
}

}  // namespace dira::app
