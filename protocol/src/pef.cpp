// Probability estimation factors for CHSH with one ε-SV settings stream.
// docs/protocol-c-security.md derives every step; section numbers below are that document's.
#include "dira/protocol/pef.hpp"

#include "mpfr_util.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>

namespace dira::protocol {

std::vector<SettingDistribution> SvSettingsModel::vertices() const {
  if (epsilon < 0 || epsilon >= Rational(1, 2)) throw std::invalid_argument("SvSettingsModel: need 0 <= epsilon < 1/2");
  const Rational lo = Rational(1, 2) - epsilon, hi = Rational(1, 2) + epsilon;
  std::vector<SettingDistribution> out;
  out.reserve(8);
  // §3.2: ν(x,y) = ν(x)·ν(y|x) with ν(x=0), ν(y=0|x=0), ν(y=0|x=1) each at an end of [½−ε, ½+ε].
  // Bob's bit is the stream's second bit, so its bias may depend on Alice's bit: three
  // independent parameters, 8 corners (not the 4 products of two independent sources).
  for (int c = 0; c < 8; ++c) {
    const Rational nx0 = (c & 4) ? hi : lo;
    const Rational ny0_x0 = (c & 2) ? hi : lo;
    const Rational ny0_x1 = (c & 1) ? hi : lo;
    SettingDistribution nu;
    nu[0] = nx0 * ny0_x0;              // x=0, y=0
    nu[1] = nx0 * (1 - ny0_x0);        // x=0, y=1
    nu[2] = (1 - nx0) * ny0_x1;        // x=1, y=0
    nu[3] = (1 - nx0) * (1 - ny0_x1);  // x=1, y=1
    out.push_back(nu);
  }
  return out;
}

const char* to_string(BehaviourModel model) {
  switch (model) {
    case BehaviourModel::no_signalling:
      return "no-signalling";
  }
  return "?";
}

std::vector<HalfIntegerBehaviour> no_signalling_vertices() {
  std::vector<HalfIntegerBehaviour> out;
  out.reserve(24);
  // 16 local deterministic boxes: a = α_x, b = β_y.
  for (int a0 = 0; a0 < 2; ++a0)
    for (int a1 = 0; a1 < 2; ++a1)
      for (int b0 = 0; b0 < 2; ++b0)
        for (int b1 = 0; b1 < 2; ++b1) {
          HalfIntegerBehaviour p{};
          for (int x = 0; x < 2; ++x)
            for (int y = 0; y < 2; ++y) p[chsh_cell(x ? a1 : a0, y ? b1 : b0, x, y)] = 2;
          out.push_back(p);
        }
  // 8 PR boxes (Barrett et al., PRA 71, 022101 (2005)): a ⊕ b = xy ⊕ rx ⊕ sy ⊕ t, uniform marginals.
  for (int r = 0; r < 2; ++r)
    for (int s = 0; s < 2; ++s)
      for (int t = 0; t < 2; ++t) {
        HalfIntegerBehaviour p{};
        for (int x = 0; x < 2; ++x)
          for (int y = 0; y < 2; ++y)
            for (int a = 0; a < 2; ++a) {
              const int b = a ^ (x & y) ^ (r & x) ^ (s & y) ^ t;
              p[chsh_cell(a, b, x, y)] = 1;
            }
        out.push_back(p);
      }
  return out;
}

std::array<double, kChshCells> joint_distribution(const std::array<double, kChshCells>& behaviour,
                                                  const std::array<double, 4>& nu) {
  std::array<double, kChshCells> out{};
  for (int k = 0; k < kChshCells; ++k) out[k] = nu[k & 3] * behaviour[k];
  return out;
}

// ---------------------------------------------------------------------------------------
// Optimisation (§4).

namespace {
struct GlpkDeleter {
  void operator()(glp_prob* lp) const { glp_delete_prob(lp); }
};

double log2_variance(const std::array<double, kChshCells>& w, const std::array<double, kChshCells>& F) {
  double m = 0, m2 = 0;
  for (int k = 0; k < kChshCells; ++k)
    if (w[k] > 0) {
      const double l = std::log2(F[k]);
      m += w[k] * l;
      m2 += w[k] * l * l;
    }
  return std::max(0.0, m2 - m * m);
}
}  // namespace

PefSolution optimise_pef(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference, double beta,
                         const PefOptions& options) {
  if (!(beta > 0)) throw std::invalid_argument("optimise_pef: beta must be > 0");
  const auto V = settings.vertices();
  const auto P = no_signalling_vertices();
  const double half_pow = std::exp2(-(1.0 + beta));  // (½)^{1+β}
  std::array<double, kChshCells> w = reference;
  double wsum = 0;
  for (double v : w) wsum += std::max(0.0, v);
  if (!(wsum > 0)) throw std::invalid_argument("optimise_pef: reference distribution is zero");
  for (double& v : w) v = std::max(0.0, v) / wsum;

  std::unique_ptr<glp_prob, GlpkDeleter> holder(glp_create_prob());
  glp_prob* lp = holder.get();
  glp_set_obj_dir(lp, GLP_MAX);
  // Columns 1..16: F_k ≥ 0. Columns 17..32: t_k, the epigraph variable of ln F_k (free when w_k > 0).
  glp_add_cols(lp, 2 * kChshCells);
  for (int k = 0; k < kChshCells; ++k) {
    glp_set_col_bnds(lp, k + 1, GLP_LO, 0.0, 0.0);
    if (w[k] > 0) {
      glp_set_col_bnds(lp, kChshCells + k + 1, GLP_FR, 0.0, 0.0);
      glp_set_obj_coef(lp, kChshCells + k + 1, w[k]);
    } else {
      glp_set_col_bnds(lp, kChshCells + k + 1, GLP_FX, 0.0, 0.0);
    }
  }
  // The 8 × 24 vertex-pair constraints Σ_k ν(z_k) p(c_k|z_k)^{1+β} F_k ≤ 1 (§3, eq. (3.1)).
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0.0};
  int row = 0;
  glp_add_rows(lp, static_cast<int>(V.size() * P.size()));
  for (const auto& nu : V) {
    std::array<double, 4> nud{};
    for (int z = 0; z < 4; ++z) nud[z] = to_double(nu[z]);
    for (const auto& p : P) {
      ++row;
      glp_set_row_bnds(lp, row, GLP_UP, 0.0, 1.0);
      for (int k = 0; k < kChshCells; ++k) {
        if (p[k] == 0) continue;
        ia.push_back(row);
        ja.push_back(k + 1);
        ar.push_back(nud[k & 3] * (p[k] == 2 ? 1.0 : half_pow));
      }
    }
  }
  glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  // Tangent of ln at F0: ln F ≤ ln F0 + (F − F0)/F0, i.e. t_k − F_k/F0 ≤ ln F0 − 1.
  auto add_tangent = [&](int k, double F0) {
    const int r = glp_add_rows(lp, 1);
    int ind[3] = {0, k + 1, kChshCells + k + 1};
    double val[3] = {0.0, -1.0 / F0, 1.0};
    glp_set_mat_row(lp, r, 2, ind, val);
    glp_set_row_bnds(lp, r, GLP_UP, 0.0, std::log(F0) - 1.0);
  };
  for (int k = 0; k < kChshCells; ++k)
    if (w[k] > 0)
      for (double F0 : {1e-4, 0.05, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0}) add_tangent(k, F0);

  glp_smcp parm;
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.tol_bnd = 1e-10;
  parm.tol_dj = 1e-10;

  PefSolution sol;
  sol.beta = beta;
  double best_lower = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= options.max_iterations; ++it) {
    sol.iterations = it;
    int rc = glp_simplex(lp, &parm);
    if (rc != 0 || glp_get_status(lp) != GLP_OPT) {
      glp_std_basis(lp);
      rc = glp_simplex(lp, &parm);
      if (rc != 0 || glp_get_status(lp) != GLP_OPT) throw std::runtime_error("optimise_pef: GLPK failed");
    }
    std::array<double, kChshCells> F{}, t{};
    double upper = 0, lower = 0;
    for (int k = 0; k < kChshCells; ++k) {
      F[k] = std::max(0.0, glp_get_col_prim(lp, k + 1));
      t[k] = glp_get_col_prim(lp, kChshCells + k + 1);
      if (w[k] > 0) {
        upper += w[k] * t[k];
        lower += w[k] * (F[k] > 0 ? std::log(F[k]) : -std::numeric_limits<double>::infinity());
      }
    }
    if (lower > best_lower) {
      best_lower = lower;
      sol.F = F;
      sol.log2_gain = lower / std::log(2.0);
    }
    sol.log2_gain_upper = upper / std::log(2.0);
    if (upper - best_lower <= options.tolerance) break;
    // New tangents where the relaxation is loose: they cut off the current LP point (Kelley).
    for (int k = 0; k < kChshCells; ++k) {
      if (w[k] <= 0) continue;
      const double Fk = std::max(F[k], 1e-12);
      if (t[k] - std::log(Fk) > options.tolerance * 0.1) add_tangent(k, Fk);
    }
  }
  sol.log2_gain_variance = log2_variance(w, sol.F);
  return sol;
}

// ---------------------------------------------------------------------------------------
// Certification (§6): decimals, MPFR with upward rounding, scaling.

namespace {
constexpr std::int64_t kDecimalScale = 1'000'000'000'000'000LL;  // 10^15

std::string decimal_string(std::int64_t m) {
  // m · 10^-15 as a finite decimal ("1.250000000000000").
  const std::int64_t ip = m / kDecimalScale, fp = m % kDecimalScale;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%015lld", static_cast<long long>(ip), static_cast<long long>(fp));
  return buf;
}
}  // namespace

namespace {
// Upward-rounded Σ_k ν(z_k)·p_k^{1+β}·F_k from pre-rounded (upward) factors.
double constraint_upper_mpfr(const std::array<detail::Mpfr, 4>& nu, const HalfIntegerBehaviour& p,
                             const detail::Mpfr& half_pow, const std::array<detail::Mpfr, kChshCells>& F) {
  detail::Mpfr term, sum;
  mpfr_set_zero(sum.x, 1);
  for (int k = 0; k < kChshCells; ++k) {
    if (p[k] == 0 || mpfr_zero_p(F[k].x)) continue;
    // Every factor is ≥ 0 and rounded up, so rounding each product and the sum up gives an upper bound.
    mpfr_mul(term.x, nu[k & 3].x, F[k].x, MPFR_RNDU);
    if (p[k] == 1) mpfr_mul(term.x, term.x, half_pow.x, MPFR_RNDU);
    mpfr_add(sum.x, sum.x, term.x, MPFR_RNDU);
  }
  return mpfr_get_d(sum.x, MPFR_RNDU);
}
}  // namespace

double constraint_upper(const SettingDistribution& nu, const HalfIntegerBehaviour& p, const Rational& beta,
                        const std::array<Rational, kChshCells>& F) {
  detail::Mpfr half_pow;
  detail::half_pow_upper(half_pow.x, beta);
  std::array<detail::Mpfr, 4> nuu;
  std::array<detail::Mpfr, kChshCells> Fu;
  for (int z = 0; z < 4; ++z) detail::set_rational(nuu[z].x, nu[z], MPFR_RNDU);
  for (int k = 0; k < kChshCells; ++k) detail::set_rational(Fu[k].x, F[k], MPFR_RNDU);
  return constraint_upper_mpfr(nuu, p, half_pow, Fu);
}

CertifiedPef certify_pef(const SvSettingsModel& settings, const Rational& beta, const std::array<double, kChshCells>& F,
                         double margin, const std::array<double, kChshCells>* reference) {
  if (beta <= 0) throw std::invalid_argument("certify_pef: beta must be > 0");
  const auto V = settings.vertices();
  const auto P = no_signalling_vertices();
  CertifiedPef out;
  out.settings_epsilon = to_string(settings.epsilon);
  out.beta = beta;
  out.beta_exact = to_string(beta);
  out.margin = margin;

  detail::Mpfr half_pow;
  detail::half_pow_upper(half_pow.x, beta);
  std::vector<std::array<detail::Mpfr, 4>> Vu(V.size());
  for (std::size_t v = 0; v < V.size(); ++v)
    for (int z = 0; z < 4; ++z) detail::set_rational(Vu[v][z].x, V[v][z], MPFR_RNDU);
  // 10^15·F rounded down; F ≤ 1/min ν(z) < 10^3 for ε ≤ 0.49, so the mantissa fits in int64.
  std::array<std::int64_t, kChshCells> m{};
  for (int k = 0; k < kChshCells; ++k) {
    const long double v = std::max(0.0L, static_cast<long double>(F[k])) * static_cast<long double>(kDecimalScale);
    if (!(v < 9.0e18L)) throw std::invalid_argument("certify_pef: F out of range");
    m[k] = static_cast<std::int64_t>(std::floor(v));
  }
  double scale = 1;
  for (int round = 0; round < 60; ++round) {
    for (int k = 0; k < kChshCells; ++k) out.F_exact[k] = Rational(m[k]) / Rational(kDecimalScale);
    std::array<detail::Mpfr, kChshCells> Fu;
    for (int k = 0; k < kChshCells; ++k) mpfr_set_str(Fu[k].x, decimal_string(m[k]).c_str(), 10, MPFR_RNDU);
    double worst = 0;
    for (const auto& nu : Vu)
      for (const auto& p : P) worst = std::max(worst, constraint_upper_mpfr(nu, p, half_pow, Fu));
    out.max_constraint_upper = worst;
    if (worst <= 1.0 - margin) break;
    // Scale down by (1 − 2·margin)/worst (§6 step 3); the constraints are linear in F, and the
    // truncation to 15 places only lowers F further. A second round is rare (rounding of worst).
    const long double s = (1.0L - 2.0L * static_cast<long double>(margin)) / static_cast<long double>(worst);
    scale *= static_cast<double>(s);
    for (auto& mk : m) mk = static_cast<std::int64_t>(std::floor(static_cast<long double>(mk) * s));
    if (round == 59) throw std::runtime_error("certify_pef: could not certify");
  }
  out.scale = scale;
  for (int k = 0; k < kChshCells; ++k) {
    out.F_decimal[k] = decimal_string(m[k]);
    detail::Mpfr f;
    mpfr_set_str(f.x, out.F_decimal[k].c_str(), 10, MPFR_RNDD);
    mpfr_log2(f.x, f.x, MPFR_RNDD);  // log2 0 = −∞, which is what a zero factor scores
    out.log2F_lower[k] = mpfr_get_d(f.x, MPFR_RNDD);
  }
  if (reference) {
    double g = 0;
    for (int k = 0; k < kChshCells; ++k)
      if ((*reference)[k] > 0) g += (*reference)[k] * out.log2F_lower[k];
    out.log2_gain = g;
  }
  return out;
}

CertifiedPef make_certified_pef(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference,
                                const Rational& beta, const PefOptions& options) {
  const PefSolution sol = optimise_pef(settings, reference, to_double(beta), options);
  return certify_pef(settings, beta, sol.F, 1e-9, &reference);
}

std::vector<Rational> beta_grid() {
  std::vector<Rational> g;
  for (int num : {1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500}) g.emplace_back(num, 1000);
  return g;
}

BetaChoice choose_beta(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference,
                       double planned_trials, double log2_inv_eps_est, const PefOptions& options) {
  BetaChoice best;
  best.net_rate = -std::numeric_limits<double>::infinity();
  for (const Rational& b : beta_grid()) {
    const double beta = to_double(b);
    PefSolution s = optimise_pef(settings, reference, beta, options);
    // §5: h = (log2 T_n − log2(1/ε_est))/β with log2 T_n ≈ n·E[log2 F].
    const double net = (s.log2_gain - log2_inv_eps_est / planned_trials) / beta;
    if (net > best.net_rate) {
      best.net_rate = net;
      best.beta_exact = b;
      best.solution = s;
    }
  }
  return best;
}

}  // namespace dira::protocol
