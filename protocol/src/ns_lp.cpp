#include "dira/protocol/ns_lp.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dira::protocol {

std::vector<ConstraintRow> no_signalling_rows(const Scenario& sc) {
  std::vector<ConstraintRow> rows;
  const std::size_t nx = sc.outcome_count();
  // Normalisation: Σ_x P(x|u) = 1 for every u.
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    ConstraintRow r;
    r.kind = ConstraintRow::Kind::equal;
    r.rhs = 1;
    r.label = "norm u=" + format_tuple(sc.setting_at(ui));
    for (std::size_t xi = 0; xi < nx; ++xi) r.terms.emplace_back(ui * nx + xi, 1);
    rows.push_back(std::move(r));
  }
  // No-signalling: the marginal of the other parties does not depend on party i's setting.
  for (int party = 0; party < sc.parties(); ++party) {
    const auto pi = static_cast<std::size_t>(party);
    for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
      const Setting u = sc.setting_at(ui);
      if (u[pi] == 0) continue;
      Setting u0 = u;
      u0[pi] = 0;
      for (std::size_t xi = 0; xi < nx; ++xi) {
        Outcome x = sc.outcome_at(xi);
        if (x[pi] != 0) continue;  // one row per outcome tuple of the others
        ConstraintRow r;
        r.kind = ConstraintRow::Kind::equal;
        r.rhs = 0;
        Outcome rest;
        for (std::size_t q = 0; q < x.size(); ++q)
          if (q != pi) rest.push_back(x[q]);
        r.label = "ns party " + std::to_string(party) + " u=" + format_tuple(u) + " x_rest=" + format_tuple(rest);
        for (int o = 0; o < sc.outcomes(party); ++o) {
          x[pi] = o;
          r.terms.emplace_back(sc.index(u, x), 1);
          r.terms.emplace_back(sc.index(u0, x), -1);
        }
        rows.push_back(std::move(r));
      }
    }
  }
  return rows;
}

namespace {
/// r = c − Σ_i λ_i a_i, exactly.
std::vector<Rational> reduced_costs(const Scenario& sc, const std::vector<ConstraintRow>& rows,
                                    const LinearObjective& objective, const std::vector<Rational>& lambda) {
  std::vector<Rational> reduced(sc.size());
  for (const auto& [j, c] : objective.terms) reduced.at(j) += c;
  for (std::size_t i = 0; i < rows.size() && i < lambda.size(); ++i) {
    if (lambda[i] == 0) continue;
    for (const auto& [j, a] : rows[i].terms) reduced.at(j) -= lambda[i] * a;
  }
  return reduced;
}
}  // namespace

std::optional<Rational> verify_certificate(const Scenario& sc, const std::vector<ConstraintRow>& rows,
                                           const LinearObjective& objective, const std::vector<Rational>& lambda,
                                           std::string* why) {
  auto fail = [&](std::string msg) -> std::optional<Rational> {
    if (why) *why = std::move(msg);
    return std::nullopt;
  };
  if (lambda.size() != rows.size()) return fail("certificate has " + std::to_string(lambda.size()) + " multipliers for " + std::to_string(rows.size()) + " rows");
  std::vector<Rational> reduced(sc.size());
  for (const auto& [j, c] : objective.terms) {
    if (j >= sc.size()) return fail("objective index out of range");
    reduced[j] += c;
  }
  Rational bound = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (lambda[i] == 0) continue;
    if (rows[i].kind == ConstraintRow::Kind::at_most && lambda[i] < 0)
      return fail("negative multiplier on inequality row '" + rows[i].label + "'");
    bound += lambda[i] * rows[i].rhs;
    for (const auto& [j, a] : rows[i].terms) {
      if (j >= sc.size()) return fail("row index out of range in '" + rows[i].label + "'");
      reduced[j] -= lambda[i] * Rational(a);
    }
  }
  // Positive reduced costs are paid for with P ≤ 1 per setting: Σ_x P(x|u) = 1, P ≥ 0.
  Rational slack = 0;
  const std::size_t nx = sc.outcome_count();
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    Rational worst = 0;
    for (std::size_t xi = 0; xi < nx; ++xi) worst = std::max(worst, reduced[ui * nx + xi]);
    slack += worst;
  }
  if (why) why->clear();
  return bound + slack;
}

struct NoSignallingLp::Glpk {
  glp_prob* lp = nullptr;
  int bell_row = 0;                       // 1-based GLPK row of B·P ≤ δ
  std::vector<std::size_t> objective_set;  // columns with a non-zero objective now
  bool has_basis = false;
  bool zero_cut = false;                  // columns with B > 0 fixed at 0 (the cut B·P ≤ 0)
  ~Glpk() {
    if (lp) glp_delete_prob(lp);
  }
};

NoSignallingLp::NoSignallingLp(BellExpression expression)
    : expression_(std::move(expression)), base_rows_(no_signalling_rows(expression_.scenario())), glpk_(std::make_unique<Glpk>()) {
  const Scenario& sc = expression_.scenario();
  glp_prob* lp = glpk_->lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MAX);
  const int n = static_cast<int>(sc.size());
  glp_add_cols(lp, n);
  for (int j = 1; j <= n; ++j) glp_set_col_bnds(lp, j, GLP_LO, 0.0, 0.0);
  const int m = static_cast<int>(base_rows_.size()) + 1;
  glp_add_rows(lp, m);
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0.0};
  for (int i = 0; i < m - 1; ++i) {
    const auto& r = base_rows_[static_cast<std::size_t>(i)];
    glp_set_row_bnds(lp, i + 1, GLP_FX, to_double(r.rhs), to_double(r.rhs));
    // Merge duplicate indices (a row may name a column twice with opposite signs only
    // if u = u0, which cannot happen; still, GLPK rejects duplicates, so be safe).
    std::vector<std::pair<std::size_t, std::int64_t>> t = r.terms;
    std::sort(t.begin(), t.end());
    for (std::size_t k = 0; k < t.size(); ++k) {
      std::int64_t a = t[k].second;
      while (k + 1 < t.size() && t[k + 1].first == t[k].first) a += t[++k].second;
      if (a == 0) continue;
      ia.push_back(i + 1);
      ja.push_back(static_cast<int>(t[k].first) + 1);
      ar.push_back(static_cast<double>(a));
    }
  }
  glpk_->bell_row = m;
  glp_set_row_bnds(lp, m, GLP_FR, 0.0, 0.0);
  for (std::size_t j = 0; j < sc.size(); ++j)
    if (expression_.coefficient(j) != 0) {
      ia.push_back(m);
      ja.push_back(static_cast<int>(j) + 1);
      ar.push_back(static_cast<double>(expression_.coefficient(j)));
    }
  glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());
}

NoSignallingLp::~NoSignallingLp() = default;

std::vector<ConstraintRow> NoSignallingLp::rows(const std::optional<Rational>& bell_at_most) const {
  return bounded_bell_rows(expression_, bell_at_most);
}

std::vector<ConstraintRow> bounded_bell_rows(const BellExpression& expression_, const std::optional<Rational>& bell_at_most) {
  std::vector<ConstraintRow> r = no_signalling_rows(expression_.scenario());
  if (bell_at_most) {
    ConstraintRow b;
    b.kind = ConstraintRow::Kind::at_most;
    b.rhs = *bell_at_most;
    b.label = "bell";
    for (std::size_t j = 0; j < expression_.scenario().size(); ++j)
      if (expression_.coefficient(j) != 0) b.terms.emplace_back(j, expression_.coefficient(j));
    r.push_back(std::move(b));
  }
  return r;
}

LpSolution NoSignallingLp::maximize(const LinearObjective& objective, const std::optional<Rational>& bell_at_most,
                                    bool certify) {
  glp_prob* lp = glpk_->lp;
  const Scenario& sc = expression_.scenario();
  for (std::size_t j : glpk_->objective_set) glp_set_obj_coef(lp, static_cast<int>(j) + 1, 0.0);
  glpk_->objective_set.clear();
  std::vector<double> c(sc.size(), 0.0);
  for (const auto& [j, v] : objective.terms) {
    if (j >= sc.size()) throw std::out_of_range("objective index out of range");
    c[j] += to_double(v);
  }
  for (std::size_t j = 0; j < c.size(); ++j)
    if (c[j] != 0) {
      glp_set_obj_coef(lp, static_cast<int>(j) + 1, c[j]);
      glpk_->objective_set.push_back(j);
    }
  // B·P ≤ 0 with B ≥ 0 forces every P(x|u) with B(x,u) > 0 to zero. Fixing those columns
  // instead of keeping the (very degenerate) row makes the δ = 0 LPs several times faster;
  // the certificate still uses the row (see the repair step below).
  const bool nonnegative = std::all_of(expression_.coefficients().begin(), expression_.coefficients().end(),
                                       [](std::int64_t b) { return b >= 0; });
  const bool zero_cut = bell_at_most && *bell_at_most == 0 && nonnegative;
  if (zero_cut != glpk_->zero_cut) {
    for (std::size_t j = 0; j < sc.size(); ++j)
      if (expression_.coefficient(j) > 0)
        glp_set_col_bnds(lp, static_cast<int>(j) + 1, zero_cut ? GLP_FX : GLP_LO, 0.0, 0.0);
    glpk_->zero_cut = zero_cut;
  }
  if (bell_at_most && !zero_cut) {
    const double d = to_double(*bell_at_most);
    glp_set_row_bnds(lp, glpk_->bell_row, GLP_UP, 0.0, d);
  } else {
    glp_set_row_bnds(lp, glpk_->bell_row, GLP_FR, 0.0, 0.0);
  }

  glp_smcp parm;
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.presolve = GLP_OFF;  // keep the basis so the next solve warm-starts
  if (!glpk_->has_basis) {
    glp_term_out(GLP_OFF);  // glp_adv_basis reports on stdout otherwise
    glp_adv_basis(lp, 0);
  }
  int rc = glp_simplex(lp, &parm);
  if (rc != 0 || glp_get_status(lp) != GLP_OPT) {
    glp_std_basis(lp);  // a stale basis can be singular after a bound change: restart once
    rc = glp_simplex(lp, &parm);
  }
  if (rc != 0) throw std::runtime_error("GLPK simplex failed (code " + std::to_string(rc) + ")");
  const int status = glp_get_status(lp);
  if (status == GLP_NOFEAS) throw std::domain_error("LP infeasible: no no-signalling behaviour has this Bell value");
  if (status != GLP_OPT) throw std::runtime_error("GLPK simplex: no optimal solution (status " + std::to_string(status) + ")");
  glpk_->has_basis = true;

  LpSolution sol;
  sol.value = glp_get_obj_val(lp);
  sol.primal.resize(sc.size());
  for (std::size_t j = 0; j < sc.size(); ++j) sol.primal[j] = glp_get_col_prim(lp, static_cast<int>(j) + 1);
  if (!certify) return sol;

  // Exact (rational) simplex warm-started from the floating-point basis: it proves the
  // basis optimal and leaves its duals, rounded to double, in the problem object.
  glp_smcp xparm;
  glp_init_smcp(&xparm);
  xparm.msg_lev = GLP_MSG_OFF;
  if (glp_exact(lp, &xparm) == 0 && glp_get_status(lp) == GLP_OPT) sol.exact_simplex_optimal = true;

  std::vector<ConstraintRow> rows_now = base_rows_;
  if (bell_at_most) rows_now.push_back(bounded_bell_rows(expression_, bell_at_most).back());
  std::vector<Rational> lambda(rows_now.size());
  for (std::size_t i = 0; i < base_rows_.size(); ++i) lambda[i] = rationalize(glp_get_row_dual(lp, static_cast<int>(i) + 1));
  if (bell_at_most && !zero_cut) {
    Rational t = rationalize(glp_get_row_dual(lp, glpk_->bell_row));
    lambda.back() = t < 0 ? Rational(0) : t;  // a ≤ row of a maximisation takes λ ≥ 0
  } else if (zero_cut) {
    // The solver fixed the B > 0 columns instead of using the row, so their reduced costs
    // may be positive. A Bell multiplier t = max_j r_j / B_j absorbs them at no cost,
    // since it enters the bound as t·δ = 0.
    const auto r = reduced_costs(sc, rows_now, objective, lambda);
    Rational t = 0;
    for (std::size_t j = 0; j < sc.size(); ++j)
      if (expression_.coefficient(j) > 0 && r[j] > 0) t = std::max(t, Rational(r[j] / expression_.coefficient(j)));
    lambda.back() = t;
  }
  std::string why;
  const auto bound = verify_certificate(sc, rows_now, objective, lambda, &why);
  if (bound) {
    DualCertificate cert;
    cert.multipliers = std::move(lambda);
    cert.bound = *bound;
    // Recompute the slack part for display: bound − Σ λ rhs.
    Rational main = 0;
    for (std::size_t i = 0; i < rows_now.size(); ++i) main += cert.multipliers[i] * rows_now[i].rhs;
    cert.slack = cert.bound - main;
    sol.certified = std::fabs(to_double(cert.bound) - sol.value) <= 1e-9;
    sol.certificate = std::move(cert);
  }
  return sol;
}

void release_thread_lp_environment() { glp_free_env(); }

}  // namespace dira::protocol
