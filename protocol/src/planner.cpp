#include "dira/protocol/planner.hpp"

#include "dira/protocol/bounds.hpp"
#include "dira/protocol/ns_lp.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/protocol/security_a.hpp"
#include "dira/protocol/security_b.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace dira::protocol {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

/// K(o'|o) for one party with d detectors (row o, column o').
std::vector<double> detector_channel(int d, double eta, double p) {
  std::vector<double> k(static_cast<std::size_t>(d * d), 0.0);
  for (int o = 0; o < d; ++o) {
    std::vector<double> click(static_cast<std::size_t>(d), p);
    click[static_cast<std::size_t>(o)] = 1 - (1 - eta) * (1 - p);
    double none_before = 1;
    for (int j = 0; j < d; ++j) {
      k[static_cast<std::size_t>(o * d + j)] += none_before * click[static_cast<std::size_t>(j)];
      none_before *= 1 - click[static_cast<std::size_t>(j)];
    }
    k[static_cast<std::size_t>(o * d)] += none_before;  // no click at all → outcome 0
  }
  return k;
}

std::string fmt(double v, int prec = 3) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}
}  // namespace

Behaviour hardware_behaviour(const Inequality& ineq, const HardwareModel& hw) {
  if (!ineq.quantum) throw std::invalid_argument("the inequality has no quantum realisation to model");
  if (!(hw.visibility >= 0 && hw.visibility <= 1)) throw std::invalid_argument("visibility must be in [0, 1]");
  if (!(hw.efficiency >= 0 && hw.efficiency <= 1)) throw std::invalid_argument("efficiency must be in [0, 1]");
  if (!(hw.dark_count >= 0 && hw.dark_count <= 1)) throw std::invalid_argument("dark-count probability must be in [0, 1]");
  const Scenario& sc = ineq.expression.scenario();
  const Behaviour q = quantum_behaviour(sc, *ineq.quantum);
  Behaviour v(q.size());
  const double flat = 1.0 / static_cast<double>(sc.outcome_count());
  for (std::size_t i = 0; i < q.size(); ++i) v[i] = hw.visibility * q[i] + (1 - hw.visibility) * flat;
  // Local detector channels keep the behaviour no-signalling; apply them party by party.
  Behaviour out = v;
  for (int party = 0; party < sc.parties(); ++party) {
    const int d = sc.outcomes(party);
    const auto k = detector_channel(d, hw.efficiency, hw.dark_count);
    Behaviour next(out.size(), 0.0);
    for (std::size_t ui = 0; ui < sc.setting_count(); ++ui)
      for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
        const double pr = out[ui * sc.outcome_count() + xi];
        if (pr == 0) continue;
        Outcome x = sc.outcome_at(xi);
        const int o = x[static_cast<std::size_t>(party)];
        for (int o2 = 0; o2 < d; ++o2) {
          x[static_cast<std::size_t>(party)] = o2;
          next[ui * sc.outcome_count() + sc.outcome_index(x)] += pr * k[static_cast<std::size_t>(o * d + o2)];
        }
      }
    out = std::move(next);
  }
  return out;
}

PlanB plan_protocol_b(const Inequality& ineq, double eps, double target, const HardwareModel& hw, double rate) {
  PlanB plan;
  const Scenario& sc = ineq.expression.scenario();
  if (sc.parties() != 2 || ineq.events.empty()) throw std::invalid_argument("Protocol B plans need ks294");
  const Setting ustar = ineq.events[0].setting;
  const Outcome xstar = ineq.events[0].event;
  const Behaviour p = hardware_behaviour(ineq, hw);
  plan.honest_bell_value = ineq.expression.value(p);
  plan.honest_pxstar = p[sc.index(ustar, xstar)];
  const auto nu = rejection_sampling_bounds(eps, sc.settings(0));
  // Worst case over SV settings: E[L_n] = Σ_u ν(u) Σ_x B P ≤ max_u Σ_x B P(x|u) weighted by ν_max.
  double worst_l = 0;
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    double bu = 0;
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) bu += static_cast<double>(ineq.expression.coefficient(ui * sc.outcome_count() + xi)) * p[ui * sc.outcome_count() + xi];
    const Setting u = sc.setting_at(ui);
    worst_l += nu.nu_max[static_cast<std::size_t>(u[0])] * nu.nu_max[static_cast<std::size_t>(u[1])] * bu;
  }
  plan.honest_bell_statistic = std::min(1.0, worst_l);
  plan.honest_ustar_rate = nu.nu_min[static_cast<std::size_t>(ustar[0])] * nu.nu_min[static_cast<std::size_t>(ustar[1])] * plan.honest_pxstar;

  const double log2_target = std::log2(target);
  const double log10_fail = -2;  // honest device aborts with probability ≤ 1 %
  double best_log10_n = kInf;
  // Parameters: μ1 below the honest u* rate; κ = μ1/100; τ at δ̃ = 1.9 (Lemma 4 with a free
  // threshold, docs/protocol-b-security.md §2.4); δ above the honest Bell statistic; δ_Az fills
  // the rest of μ4 > 0 (δ + δ_Az < μ3·τ).
  ProtocolBSecurityInput in;
  in.epsilon = eps;
  in.u_star = ustar;
  in.settings_per_party = sc.settings(0);
  in.setting_bounds = &nu;  // the same ε and settings: solved once above
  for (double f_mu : {0.5, 0.7, 0.9}) {
    const double mu1 = f_mu * plan.honest_ustar_rate;
    const double kappa = mu1 / 100;
    const double mu3 = (mu1 - 2 * kappa) / (2 * (1 - kappa));
    const double tau = 1.9 * nu.nu_min_all * nu.nu_min_all;
    const double cap = 0.95 * mu3 * tau;  // δ + δ_Az < μ3·τ
    for (double f_delta : {0.1, 0.3, 0.5, 0.7}) {
      const double delta = plan.honest_bell_statistic + f_delta * (cap - plan.honest_bell_statistic) / 2;
      const double delta_az = cap - delta;
      if (!(delta > plan.honest_bell_statistic) || !(delta_az > 0)) continue;
      in.delta = delta;
      in.mu1 = mu1;
      in.kappa = kappa;
      in.delta_az = delta_az;
      in.tau = tau;
      auto bits_at = [&](double log10_n, bool nonexplicit, double* explicit_bits, std::string* why) {
        in.trials = std::pow(10.0, log10_n);
        const auto c = protocol_b_constants(in);
        if (!c.valid()) return 0.0;
        if (explicit_bits) {
          const auto e = plan_protocol_b_output_circulant(c, log2_target, eps);
          *explicit_bits = e.bits;
          if (why) *why = e.reason;
        }
        return nonexplicit ? plan_protocol_b_output_nonexplicit(c, log2_target).bits : 0.0;
      };
      // Completeness: P(L_n > δ) ≤ exp(−2n(δ − E L)²), P(S_n < μ1) ≤ exp(−2n(E S − μ1)²).
      const double s1 = delta - plan.honest_bell_statistic, s2 = plan.honest_ustar_rate - mu1;
      const double s = std::min(s1, s2);
      const double log10_n_complete = std::log10(-log10_fail * std::log(10.0) / (2 * s * s));
      if (bits_at(30, true, nullptr, nullptr) < 1) continue;
      double lo = 0, hi = 30;
      for (int it = 0; it < 60; ++it) {
        const double mid = (lo + hi) / 2;
        (bits_at(mid, true, nullptr, nullptr) >= 1 ? hi : lo) = mid;
      }
      const double log10_n = std::max(hi, log10_n_complete);
      if (log10_n < best_log10_n) {
        best_log10_n = log10_n;
        plan.feasible = true;
        plan.delta = delta;
        plan.delta_az = delta_az;
        plan.mu1 = mu1;
        plan.kappa = kappa;
        plan.tau = tau;
        plan.log10_trials = log10_n;
        const double n = std::pow(10.0, log10_n);
        plan.log10_reject_honest = std::log10(std::exp(-2 * n * s1 * s1) + std::exp(-2 * n * s2 * s2));
        bits_at(log10_n, false, &plan.explicit_bits, &plan.explicit_reason);
        double lo2 = log10_n, hi2 = 40;
        for (int it = 0; it < 60; ++it) {
          const double mid = (lo2 + hi2) / 2;
          (bits_at(mid, true, nullptr, nullptr) >= 256 ? hi2 : lo2) = mid;
        }
        plan.log10_trials_256 = hi2;
      }
    }
  }
  // Largest admissible noise: the honest statistic must stay below the cap μ3·τ/2.
  {
    const double mu1 = 0.9 * nu.nu_min[static_cast<std::size_t>(ustar[0])] * nu.nu_min[static_cast<std::size_t>(ustar[1])] / 16;
    const double mu3 = (mu1 - mu1 / 50) / (2 * (1 - mu1 / 100));
    const double cap = 0.95 * mu3 * 1.9 * nu.nu_min_all * nu.nu_min_all / 2;
    // White noise adds (1−V)·504/16 to B·P; the SV-weighted statistic is at most 81·ν_max² of the average.
    const double per_unit = 504.0 / 16 * nu.nu_max_all * nu.nu_max_all;
    plan.max_one_minus_visibility = cap / per_unit;
  }
  plan.log10_seconds = plan.log10_trials - std::log10(rate);
  std::ostringstream os;
  if (!plan.feasible) {
    os << "No parameters work: the honest Bell statistic E[L_n] ≤ " << fmt(plan.honest_bell_statistic)
       << " must stay below the largest δ the security proof admits (about " << fmt(plan.max_one_minus_visibility * 504.0 / 16 * nu.nu_max_all * nu.nu_max_all)
       << "), which needs 1 − V ≲ " << fmt(plan.max_one_minus_visibility) << " with perfect detectors.";
  } else {
    os << "One certified bit needs about 10^" << fmt(plan.log10_trials, 4) << " trials (10^" << fmt(plan.log10_seconds, 4)
       << " s at " << fmt(rate) << " trials/s; 256 bits: 10^" << fmt(plan.log10_trials_256, 4)
       << " trials), under the seed's non-explicit extractor. dira's explicit extractors certify "
       << plan.explicit_bits << " bits at that size: " << plan.explicit_reason << ".";
  }
  plan.verdict = os.str();
  return plan;
}

PlanA plan_protocol_a(const Inequality& ineq, double eps, double target, const HardwareModel& hw, double rate) {
  PlanA plan;
  if (ineq.expression.scenario().parties() != 4) throw std::invalid_argument("Protocol A plans need guehne4");
  const Behaviour p = hardware_behaviour(ineq, hw);
  plan.honest_bell_value = ineq.expression.value(p);
  // P(B = 1) of a chosen box, worst case over the valid settings the SV source may favour.
  const auto& sc = ineq.expression.scenario();
  double worst = 0;
  for (std::size_t ui : ineq.expression.settings_in_expression()) {
    double bu = 0;
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) bu += static_cast<double>(ineq.expression.coefficient(ui * sc.outcome_count() + xi)) * p[ui * sc.outcome_count() + xi];
    worst = std::max(worst, bu);
  }
  plan.honest_run_rate = worst;
  NoSignallingLp lp(ineq.expression);
  double best_log = kInf;
  for (double delta : {0.01, 0.02, 0.05, 0.1, 0.15, 0.2}) {
    // β(δ): the certified per-box majority bias (seed-notes: 1/4 + 5δ/8 for δ ≤ 1/5).
    const auto s = lp.maximize(majority_objective(sc, {0, 1, 2}, sc.setting_at(ineq.expression.settings_in_expression()[0]), 0),
                               rationalize(delta), false);
    const double two_beta = 2 * s.value;
    for (double mu : {0.3, 0.5, 0.7, 0.9}) {
      const double thr = std::pow(0.5 - eps, 4) * (delta / 2) * (1 - mu);
      if (!(worst < thr)) continue;
      // Smallest k with paper bias + test ≤ target/2 (corrected eq. 17; docs/protocol-a-security.md §5).
      const double a = std::pow(0.5 - eps, 8) * (1 - mu) * (1 - mu) * delta * delta / 8;
      const double paper_base = (11 + 7 * delta) / 16;
      auto log10_terms = [&](double k) {
        const double lb = mu * k * std::log10(paper_base);
        const double lt = std::log10(2.0) - k * a / std::log(10.0);
        return std::max(lb, lt) + std::log10(2.0);
      };
      double lo = 1, hi = 1e18;
      if (log10_terms(hi) > std::log10(target / 2)) continue;
      for (int it = 0; it < 200 && hi - lo > 0.5; ++it) {
        const double mid = std::floor((lo + hi) / 2);
        (log10_terms(mid) <= std::log10(target / 2) ? hi : lo) = mid;
      }
      const double k = hi;
      // de Finetti: 4/√t + 2/t ≤ target/2.
      const double t = std::pow((4 + std::sqrt(16 + 4 * target)) / target, 2);  // root of x²·(target/2) = 4x + 2 with x = √t
      const auto blocks = protocol_a_blocks(eps, static_cast<int>(std::min(k, 2e9)), t);
      const double rank = blocks.log10_log10_trials;
      if (rank < best_log) {
        best_log = rank;
        plan.feasible = true;
        plan.delta = delta;
        plan.mu = mu;
        plan.t = t;
        plan.devices = static_cast<long long>(k);
        plan.threshold = thr;
        plan.log10_log10_trials = blocks.log10_log10_trials;
        plan.log10_trials = blocks.log10_trials;
        plan.log2_first_blocks = blocks.log2_blocks;
        plan.log10_reject_honest = protocol_a_log10_reject(static_cast<int>(std::min(k, 2e9)), thr, worst);
        plan.log10_bound = std::log10(std::pow(10.0, log10_terms(k)) + 4 / std::sqrt(t) + 2 / t);
        (void)two_beta;
      }
    }
  }
  plan.log10_log10_seconds = std::isfinite(plan.log10_trials)
                                 ? std::log10(std::max(plan.log10_trials - std::log10(rate), 1e-300))
                                 : plan.log10_log10_trials;  // dividing by a rate does not move log10 log10
  std::ostringstream os;
  if (!plan.feasible) {
    os << "No parameters work: a chosen box of this hardware fails the Bell test with probability " << fmt(worst)
       << ", above every threshold (½−ε)^4·(δ/2)·(1−μ) the planner tried (at most " << fmt(std::pow(0.5 - eps, 4) * 0.1 * 0.7)
       << "). Better visibility or efficiency is needed.";
  } else {
    os << "k = " << plan.devices << " devices, t = " << fmt(plan.t) << "; the runs number about 10^(10^"
       << fmt(plan.log10_log10_trials, 5) << ") trials"
       << (std::isfinite(plan.log10_trials) && plan.log10_trials < 80 ? "" : " — more than the ~10^80 atoms in the observable universe")
       << ". The seed's Protocol A cannot be run at this ε and target; it is a proof of principle.";
  }
  plan.verdict = os.str();
  return plan;
}

}  // namespace dira::protocol
