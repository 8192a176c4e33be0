#include "dira/protocol/security_b.hpp"

#include "dira/protocol/settings_rule.hpp"

#include "log_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace dira::protocol {

namespace {
using detail::kLn2;
double lse(std::initializer_list<double> xs) { return detail::log_sum_exp(xs); }
double log2_sum(double a, double b) { return lse({a * kLn2, b * kLn2}) / kLn2; }  // log₂(2^a + 2^b)
std::string num(double v) {
  std::ostringstream os;
  os.precision(4);
  os << v;
  return os.str();
}
}  // namespace

ProtocolBConstants protocol_b_constants(const ProtocolBSecurityInput& in) {
  ProtocolBConstants c;
  const double eps = in.epsilon;
  if (in.seed_setting_bound) {
    c.nu_pair_min = c.nu_ustar_min = std::pow(0.5 - eps, 8);
    c.nu_ustar_max = std::pow(0.5 + eps, 8);
  } else {
    const auto& b = in.setting_bounds ? *in.setting_bounds : rejection_sampling_bounds(eps, in.settings_per_party);
    c.nu_pair_min = b.nu_min_all * b.nu_min_all;
    c.nu_ustar_min = b.nu_min.at(static_cast<std::size_t>(in.u_star.at(0))) * b.nu_min.at(static_cast<std::size_t>(in.u_star.at(1)));
    c.nu_ustar_max = b.nu_max.at(static_cast<std::size_t>(in.u_star.at(0))) * b.nu_max.at(static_cast<std::size_t>(in.u_star.at(1)));
  }
  const double n = in.trials;
  c.delta_az = in.delta_az.value_or(in.delta);
  c.tau = in.tau.value_or(std::sqrt(in.delta + c.delta_az));  // Lemma 4 (eq. 71): seed's √(2δ)
  c.delta_tilde = c.tau / c.nu_pair_min;                        // eq. 72
  c.f_seed = std::min(1.0, (3 + 2 * c.delta_tilde) / 4);        // eq. 38
  const double f_cert = std::min({0.75 + c.delta_tilde / 6, 7.0 / 9 + c.delta_tilde / 9, 1.0});  // docs/seed-notes.md
  c.f = in.seed_lemma2 ? c.f_seed : f_cert;
  c.kappa = in.kappa > 0 ? in.kappa : in.mu1 / 100;
  c.mu2 = 1 - (in.delta + c.delta_az) / c.tau;                  // Lemma 4 (Markov with threshold τ)
  c.mu3 = (in.mu1 - 2 * c.kappa) / (2 * (1 - c.kappa));         // Lemma 5, eq. 47
  c.mu4 = c.mu2 + c.mu3 - 1;                                    // eq. 76
  c.ln_gamma = std::max(std::log1p(-c.kappa), std::log(c.f));   // eq. 77
  c.ln_eps_az1 = std::log(2.0) - n * c.delta_az * c.delta_az / 4;  // eq. 52
  c.ln_eps_az2 = std::log(2.0) - n * in.mu1 * in.mu1 / 16;         // eq. 54
  const double ln_gamma_term = c.mu4 > 0 ? c.mu4 * n * c.ln_gamma : 0.0;  // γ^{μ4 n} (Lemma 6)
  c.log2_delta1 = lse({std::log(2.0) + c.ln_eps_az1, std::log(2.0) + c.ln_eps_az2, ln_gamma_term}) / kLn2;  // eq. 85
  c.n_x = 2 * 2 * n;  // two parties, four outcomes = 2 bits each (§1.1 step 7)
  c.n_t = in.extractor_bits_per_trial * n;
  c.k_t = c.n_t * -std::log2(0.5 + eps);
  c.honest_ustar_rate_min = c.nu_ustar_min / 16;

  auto& v = c.violations;
  if (!(c.kappa > 0 && c.kappa < in.mu1 / 2)) v.push_back("κ = " + num(c.kappa) + " is not in (0, μ1/2) (Theorem 9)");
  if (!(c.mu4 > 0))
    v.push_back("μ4 = μ2 + μ3 − 1 = " + num(c.mu4) + " ≤ 0 (eq. 78/87: δ too large for μ1; μ2 = " + num(c.mu2) +
                ", μ3 = " + num(c.mu3) + ")");
  if (!(c.f < 1))
    v.push_back("Lemma 2 gives no randomness at δ̃ = τ/ν_min = " + num(c.delta_tilde) + " (f = 1; eq. 73/87: δ too large)");
  if (!(in.mu1 < c.honest_ustar_rate_min))
    v.push_back("μ1 = " + num(in.mu1) + " ≥ ν_min(u*)/16 = " + num(c.honest_ustar_rate_min) +
                ": an honest quantum device fails the u* test (completeness)");
  if (!(n > 0)) v.push_back("no trials");
  return c;
}

double protocol_b_log2_error(const ProtocolBConstants& c, double m, double k_x, double log2_xi) {
  return m + log2_sum(1 + c.log2_delta1 + k_x, log2_xi);
}

double random_function_log2_xi(double kx, double kt, double nx, double nt, double m) {
  kx = std::floor(kx);
  kt = std::floor(kt);
  const double log2e = 1 / kLn2;
  const double t = lse({(m - kx - kt) * kLn2, -kt * kLn2 + std::log(std::max(nx - kx + log2e, 1.0)),
                        -kx * kLn2 + std::log(std::max(nt - kt + log2e, 1.0)), (-kx - kt) * kLn2});
  return 0.5 * (std::log(2 * kLn2) + t) / kLn2;
}

ProtocolBOutputPlan plan_protocol_b_output(const ProtocolBConstants& c, double log2_target,
                                           const std::function<double(double, double)>& extractor_bits,
                                           const std::string& name) {
  ProtocolBOutputPlan best;
  best.extractor = name;
  best.log2_error = std::numeric_limits<double>::infinity();
  if (!c.valid()) {
    best.reason = "parameters violate the protocol's conditions: " + c.violations.front();
    return best;
  }
  // Entropy term 2^{1+log₂δ1+k_x} and extractor term ξ each get half the budget:
  // 2^m·(2^A + 2^A) ≤ 2^T with A = 1 + log₂δ1 + k_x requires m ≤ T − A − 1.
  const double kmax = std::max(1.0, std::min(c.n_x, -c.log2_delta1));
  for (int i = 0; i <= 400; ++i) {
    const double kx = std::floor(kmax * i / 400.0);
    const double a = 1 + c.log2_delta1 + kx;
    const double m_entropy = std::floor(log2_target - a - 1);
    if (m_entropy < 1) continue;
    const double m = std::min(m_entropy, std::floor(extractor_bits(kx, a)));
    if (m > best.bits) {
      best.bits = m;
      best.k_x = kx;
      best.log2_error = m + a + 1;
    }
  }
  std::ostringstream os;
  if (best.bits >= 1) {
    os << name << ": " << best.bits << " bits with d_c·p(ACC) ≤ 2^" << num(best.log2_error) << " (device min-entropy k_x = "
       << best.k_x << " of " << num(c.n_x) << " bits)";
  } else {
    os << "no certified bits: Lemma 7 gives at most about " << num(std::max(0.0, -c.log2_delta1 - 1))
       << " bits of min-entropy (log₂δ1 = " << num(c.log2_delta1) << ") in " << num(c.n_x) << " output bits, and " << name
       << " cannot turn that into any output at the target 2^" << num(log2_target) << " together with the "
       << num(c.n_t) << " weak-source bits (min-entropy " << num(c.k_t) << ")";
    best.log2_error = 0;
  }
  best.reason = os.str();
  return best;
}

ProtocolBOutputPlan plan_protocol_b_output_circulant(const ProtocolBConstants& c, double log2_target, double epsilon) {
  const double n = c.n_x;
  const double k_t = n * -std::log2(0.5 + epsilon);
  return plan_protocol_b_output(
      c, log2_target, [&](double kx, double budget) { return kx + k_t - n + 2 * (budget - 1); },
      "explicit circulant two-source extractor (Foreman et al. 2025; docs/extractors.md)");
}

ProtocolBOutputPlan plan_protocol_b_output_nonexplicit(const ProtocolBConstants& c, double log2_target) {
  return plan_protocol_b_output(
      c, log2_target,
      [&](double kx, double budget) {
        // Largest m whose random-function error is within budget (ξ grows with m only
        // through 2^{m−kx−kt}); bisection on m.
        double lo = 0, hi = std::max(0.0, kx + c.k_t);
        if (random_function_log2_xi(kx, c.k_t, c.n_x, c.n_t, 1) > budget) return 0.0;
        for (int it = 0; it < 80; ++it) {
          const double mid = std::floor((lo + hi) / 2);
          if (mid <= lo) break;
          if (random_function_log2_xi(kx, c.k_t, c.n_x, c.n_t, mid) <= budget) lo = mid;
          else hi = mid;
        }
        return lo;
      },
      "random-function two-source extractor (the seed's non-explicit assumption; not implementable)");
}

}  // namespace dira::protocol
