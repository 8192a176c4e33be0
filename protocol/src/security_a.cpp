#include "dira/protocol/security_a.hpp"

#include "log_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dira::protocol {

using detail::kLn10;
using detail::kLn2;
using detail::log10_sum;

double sv_lambda(double eps) { return std::log2(1 + 2 * eps); }

double box_choice_acceptance(double n, double eps) {
  if (n < 1) throw std::invalid_argument("box choice needs n ≥ 1");
  if (n <= 1) return 1;
  const int b = static_cast<int>(std::ceil(std::log2(n) - 1e-12));
  if (std::ldexp(1.0, b) == n) return 1;  // power of two: never rejects
  if (b > 60) return 0.5 - eps;            // bits of n unavailable in a double: the top-bit bound
  const auto nn = static_cast<std::uint64_t>(n);
  double m = 0;
  for (int i = 0; i < b; ++i) {  // LSB first
    const bool bit = (nn >> i) & 1u;
    m = bit ? (0.5 - eps) + (0.5 + eps) * m : (0.5 - eps) * m;
  }
  return m;
}

double log2_box_choice_kappa(double n, double eps) {
  if (n <= 1) return 0;
  const double b = std::ceil(std::log2(n) - 1e-12);
  return std::log2(n) + b * std::log2(0.5 + eps) - std::log2(box_choice_acceptance(n, eps));
}

ProtocolASecurity protocol_a_security(const ProtocolASecurityInput& in) {
  ProtocolASecurity s;
  const double eps = in.epsilon, k = in.devices;
  s.threshold = std::pow(0.5 - eps, 4) * (in.delta / 2) * (1 - in.mu);
  s.lambda = sv_lambda(eps);
  // Test term (Lemma 7): 2·exp(−k(½−ε)^8(1−μ)²δ²/8).
  const double a = std::pow(0.5 - eps, 8) * (1 - in.mu) * (1 - in.mu) * in.delta * in.delta / 8;
  const double l_test = std::log10(2.0) - k * a / kLn10;
  // De Finetti term for the actual blocks: 6·C^{2/3}, C = Σ_{i≥2} (8 ln2 κ_i S_{i−1}/n_i)^{1/4}.
  double log10_c = -std::numeric_limits<double>::infinity();
  double s_prev = 0;  // S_{i−1}
  for (std::size_t i = 0; i < in.valid_runs.size(); ++i) {
    const double n = in.valid_runs[i];
    if (i > 0 && n > 0) {
      const double l2 = std::log2(8 * kLn2) + log2_box_choice_kappa(n, eps) + std::log2(s_prev) - std::log2(n);
      log10_c = log10_sum({log10_c, 0.25 * l2 * std::log10(2.0)});
    }
    s_prev += in.post_discard ? n / (0.5 - eps) : n;  // discarded runs were measured (§2.2)
  }
  s.log10_de_finetti_actual = std::isfinite(log10_c) ? std::log10(6.0) + (2.0 / 3) * log10_c : -std::numeric_limits<double>::infinity();

  const double mu_k = in.mu * k;
  const double paper_base = (11 + 7 * in.delta) / 16;
  auto bound = [&](std::string name, std::string formula, double base, double l_df) {
    ProtocolABound b;
    b.name = std::move(name);
    b.formula = std::move(formula);
    b.log10_bias = base >= 1 ? 0 : mu_k * std::log10(base);
    b.log10_test = std::min(0.0, l_test);
    b.log10_de_finetti = l_df;
    b.log10_total = std::min(0.0, log10_sum({b.log10_bias, b.log10_test, b.log10_de_finetti}));
    s.bounds.push_back(b);
  };
  const double l_df_planned = in.planned_t ? std::log10(4 / std::sqrt(*in.planned_t)) : s.log10_de_finetti_actual;
  const double l_df_planned_corr =
      in.planned_t ? std::log10(4 / std::sqrt(*in.planned_t) + 2 / *in.planned_t) : s.log10_de_finetti_actual;
  bound("paper", "((11+7δ)/16)^{μk} + 2e^{−k(½−ε)^8(1−μ)²δ²/8} + 4/√t (eq. 17 as printed)", paper_base, l_df_planned);
  bound("paper_corrected",
        "((11+7δ)/16)^{μk} + 2e^{−k(½−ε)^8(1−μ)²δ²/8} + de Finetti term of the actual blocks (6·C^{2/3}; 4/√t + 2/t when planned)",
        paper_base, in.planned_t ? std::max(l_df_planned_corr, s.log10_de_finetti_actual) : s.log10_de_finetti_actual);
  if (in.tight_bias)
    bound("tight", "(2β(δ))^{μk} + test + de Finetti, with β(δ) the certified LP bias (dira bounds guehne4)",
          2 * *in.tight_bias, in.planned_t ? std::max(l_df_planned_corr, s.log10_de_finetti_actual) : s.log10_de_finetti_actual);
  s.assumptions = {
      "A1: the weak source is ε-SV and independent of the devices given the adversary (seed 000, Sec. II B)",
      "A2: the chosen box's setting is bounded below by (½−ε)^4 given the past (used by eqs. 57 and 68; "
      "docs/protocol-a-security.md F6)",
      "no-signalling between the 4k boxes and time-ordered no-signalling within each device"};
  if (in.valid_runs.size() != static_cast<std::size_t>(in.devices))
    s.notes.push_back("block sizes given for " + std::to_string(in.valid_runs.size()) + " of " + std::to_string(in.devices) + " devices");
  return s;
}

double protocol_a_log10_reject(int devices, double thr, double p) {
  if (!(p < thr)) return 0;
  if (p <= 0) return -std::numeric_limits<double>::infinity();  // B = 1 never happens: never rejected
  const double kl = thr * std::log(thr / p) + (1 - thr) * std::log((1 - thr) / (1 - p));
  return -devices * kl / kLn10;
}

ProtocolABlockPlan protocol_a_blocks(double eps, int k, double t) {
  ProtocolABlockPlan plan;
  const double lambda = sv_lambda(eps);
  const double gamma = 1 / (1 - lambda);
  const double lg_c = std::log2(8 * kLn2) + 4 * std::log2(static_cast<double>(k)) + 4 * std::log2(t);
  double lg_s = 0;   // lg S_{i−1}, S_1 = n_1 = 1
  double lg_n = 0;   // lg n_1 = 0
  plan.log2_blocks.push_back(0);
  bool exact = true;
  for (int i = 2; i <= k; ++i) {
    const double li = std::ceil(gamma * (lg_c + lg_s));
    if (!std::isfinite(li) || li > 1e300) {
      exact = false;
      break;
    }
    lg_s = li + std::log2(1 + std::exp2(lg_s - li));
    lg_n = li;
    if (plan.log2_blocks.size() < 64) plan.log2_blocks.push_back(li);
    if (i == k) break;
  }
  if (exact) {
    plan.log10_last_block = lg_n * std::log10(2.0);
    plan.log10_log10_last_block = std::log10(std::max(plan.log10_last_block, 1e-300));
    plan.log10_trials = lg_s * std::log10(2.0) - std::log10(0.5 - eps);  // E[M] ≤ Σ n_j/(½−ε)
    plan.log10_log10_trials = std::log10(plan.log10_trials);
    plan.fits_in_double = plan.log10_trials < 308;
  } else {
    // Closed form (§2.6): lg n_k ≤ B(γ^{k−1} − 1)/(γ − 1), B = γ·lg(C+1) + 1.
    const double b = gamma * (lg_c + std::log2(1 + std::exp2(-lg_c))) + 1;
    const double ll = std::log10(b) + (k - 1) * std::log10(gamma) - std::log10(gamma - 1) + std::log10(std::log10(2.0));
    plan.log10_log10_last_block = ll;
    plan.log10_log10_trials = ll;  // + log10(1 + …) is negligible at this scale
    plan.log10_last_block = plan.log10_trials = std::numeric_limits<double>::infinity();
    plan.fits_in_double = false;
  }
  return plan;
}

}  // namespace dira::protocol
