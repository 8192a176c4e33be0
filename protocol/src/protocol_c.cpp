// Protocol C: streaming PEF scoring, outward-rounded accounting, and the planner.
// docs/protocol-c-security.md §5 (accounting), §9 (planner).
#include "dira/protocol/protocol_c.hpp"

#include "mpfr_util.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dira::protocol {

ProtocolC::ProtocolC(ProtocolCConfig config, CertifiedPef first_pef) : config_(config) {
  if (first_pef.beta <= 0) throw std::invalid_argument("ProtocolC: beta must be > 0");
  beta_ = to_double(first_pef.beta);
  // §5.3: T_n must reach 2^{β·h_target}/ε_est.
  threshold_ = beta_ * config_.target_min_entropy + config_.log2_inv_eps_est;
  PefSegment s;
  s.first = 0;
  s.last = 0;
  s.pef = std::move(first_pef);
  segments_.push_back(std::move(s));
  if (config_.max_trials == 0) done_ = true;
}

void ProtocolC::replace_pef(std::uint64_t first_trial, CertifiedPef pef) {
  // §5.2: a PEF may depend only on trials before the ones it scores.
  if (first_trial < trials_) throw std::logic_error("ProtocolC::replace_pef: PEF would score trials already seen");
  if (pef.beta != segments_.front().pef.beta) throw std::invalid_argument("ProtocolC::replace_pef: beta differs");
  if (pef.settings_epsilon != segments_.front().pef.settings_epsilon)
    throw std::invalid_argument("ProtocolC::replace_pef: settings model differs");
  if (!pending_.empty() && first_trial <= pending_.back().first)
    throw std::logic_error("ProtocolC::replace_pef: segments out of order");
  pending_.emplace_back(first_trial, std::move(pef));
}

std::size_t ProtocolC::score_block(const Trial* t, std::size_t n) {
  PefSegment& seg = segments_.back();
  std::array<std::uint64_t, kChshCells> local{};
  unsigned acc = 0;
  std::size_t taken = n;
  if (!config_.stop_when_certified) {
    // Hot loop (≥ 100 M trials/s, bench BM_ProtocolC_Score): one histogram increment per trial.
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned u0 = t[i].u[0], u1 = t[i].u[1], x0 = t[i].x[0], x1 = t[i].x[1];
      acc |= u0 | u1 | x0 | x1;
      // Masked so a value other than 0/1 cannot index past the histogram before the check
      // below refuses the block (found by ASan).
      ++local[((x0 << 3) | (x1 << 2) | (u0 << 1) | u1) & 15u];
    }
  } else {
    // Stopping time τ = first trial at which the running (rounded-down) log2 T reaches the
    // threshold; any rule that looks only at the past is a stopping time (§5.4).
    double running = log2_T_done_;
    for (int k = 0; k < kChshCells; ++k)
      if (seg.counts[k]) running += static_cast<double>(seg.counts[k]) * seg.pef.log2F_lower[k];
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned u0 = t[i].u[0], u1 = t[i].u[1], x0 = t[i].x[0], x1 = t[i].x[1];
      acc |= u0 | u1 | x0 | x1;
      const unsigned k = ((x0 << 3) | (x1 << 2) | (u0 << 1) | u1) & 15u;
      ++local[k];
      running += seg.pef.log2F_lower[k];
      if (running >= threshold_) {
        taken = i + 1;
        done_ = true;
        stopped_early_ = true;
        break;
      }
    }
  }
  if (acc > 1) throw std::invalid_argument("ProtocolC: settings and outcomes must be 0 or 1 (CHSH)");
  for (int k = 0; k < kChshCells; ++k) seg.counts[k] += local[k];
  trials_ += taken;
  seg.last = trials_ - 1;
  return taken;
}

std::size_t ProtocolC::score(std::span<const Trial> trials) {
  std::size_t used = 0;
  while (used < trials.size() && !done_) {
    if (!pending_.empty() && pending_.front().first == trials_) {
      // Close the current segment (a segment with no trials is replaced outright).
      double closed = 0;
      PefSegment& cur = segments_.back();
      for (int k = 0; k < kChshCells; ++k)
        if (cur.counts[k]) closed += static_cast<double>(cur.counts[k]) * cur.pef.log2F_lower[k];
      log2_T_done_ += closed;
      PefSegment s;
      s.first = trials_;
      s.last = trials_;
      s.pef = std::move(pending_.front().second);
      pending_.erase(pending_.begin());
      if (cur.first == trials_ && trials_ > 0)
        segments_.back() = std::move(s);
      else if (trials_ == 0)
        segments_.back() = std::move(s);
      else
        segments_.push_back(std::move(s));
    }
    std::uint64_t limit = std::min<std::uint64_t>(trials.size() - used, config_.max_trials - trials_);
    if (!pending_.empty()) limit = std::min<std::uint64_t>(limit, pending_.front().first - trials_);
    used += score_block(trials.data() + used, static_cast<std::size_t>(limit));
    if (trials_ >= config_.max_trials) done_ = true;
  }
  return used;
}

ProtocolCStats ProtocolC::stats() const {
  ProtocolCStats s;
  s.trials = trials_;
  double lg = 0;
  for (const auto& seg : segments_)
    for (int k = 0; k < kChshCells; ++k)
      if (seg.counts[k]) lg += static_cast<double>(seg.counts[k]) * seg.pef.log2F_lower[k];
  s.log2_T = lg;
  s.target = config_.target_min_entropy;
  s.certified_min_entropy = std::max(0.0, (lg - config_.log2_inv_eps_est) / beta_);
  s.mean_log2_gain = trials_ ? lg / static_cast<double>(trials_) : 0;
  s.target_reached = lg >= threshold_;
  if (s.target_reached)
    s.projected_trials_to_target = 0;
  else if (s.mean_log2_gain > 0)
    s.projected_trials_to_target = (threshold_ - lg) / s.mean_log2_gain;
  else
    s.projected_trials_to_target = std::numeric_limits<double>::infinity();
  return s;
}

ProtocolCResult ProtocolC::finish() const {
  ProtocolCResult r;
  r.trials = trials_;
  r.stopped_early = stopped_early_;
  detail::Mpfr sum, term, lgF, b;
  mpfr_set_zero(sum.x, 1);
  for (const auto& seg : segments_)
    for (int k = 0; k < kChshCells; ++k) {
      if (!seg.counts[k]) continue;
      // count < 2^64 is exact at 128 bits; log2F_lower is a double, exact; the product and the sum
      // are rounded down, so the result is a lower bound on Σ count·log2 F (§5.1).
      mpfr_set_uj(term.x, seg.counts[k], MPFR_RNDD);
      mpfr_set_d(lgF.x, seg.pef.log2F_lower[k], MPFR_RNDD);
      mpfr_mul(term.x, term.x, lgF.x, MPFR_RNDD);
      mpfr_add(sum.x, sum.x, term.x, MPFR_RNDD);
    }
  r.log2_T_lower = mpfr_get_d(sum.x, MPFR_RNDD);
  // h = (log2 T − log2(1/ε_est))/β rounded down: divide a non-negative numerator by β rounded up,
  // a negative one by β rounded down.
  mpfr_sub_d(sum.x, sum.x, config_.log2_inv_eps_est, MPFR_RNDD);
  detail::set_rational(b.x, segments_.front().pef.beta, mpfr_sgn(sum.x) >= 0 ? MPFR_RNDU : MPFR_RNDD);
  mpfr_div(sum.x, sum.x, b.x, MPFR_RNDD);
  r.min_entropy_lower = mpfr_get_d(sum.x, MPFR_RNDD);
  r.passed = r.min_entropy_lower >= config_.target_min_entropy;
  return r;
}

PefCertificateData ProtocolC::certificate_data() const {
  PefCertificateData d;
  d.epsilon = segments_.front().pef.settings_epsilon;
  d.behaviour_model = to_string(segments_.front().pef.behaviour);
  for (const auto& seg : segments_) {
    PefCertificateData::Segment s;
    s.first = seg.first;
    s.last = seg.last;
    s.beta = seg.pef.beta_exact;
    s.F = seg.pef.F_decimal;
    d.pefs.push_back(std::move(s));
  }
  return d;
}

// ---------------------------------------------------------------------------------------
// Planner (§9).

double default_extraction_cost(double bits, double log2_error) {
  return bits + 2.0 * (-log2_error);
}

double trials_for_min_entropy(double min_entropy, double beta, double log2_gain, double log2_gain_variance,
                              double log2_inv_eps_est, double z) {
  if (!(log2_gain > 0)) return std::numeric_limits<double>::infinity();
  // Solve g·n − zσ√n − c = 0 for √n (c = β·h + log2(1/ε_est)): the quantile of log2 T_n under
  // the honest i.i.d. model (normal approximation) must reach the threshold.
  const double c = beta * min_entropy + log2_inv_eps_est;
  const double sigma = std::sqrt(std::max(0.0, log2_gain_variance));
  const double r = (z * sigma + std::sqrt(z * z * sigma * sigma + 4 * log2_gain * c)) / (2 * log2_gain);
  return std::ceil(r * r);
}

PlanC plan_protocol_c(const HardwareC& hw, const Rational& sv_epsilon, double bits, double total_error,
                      double trial_rate_hz, const ExtractionCost& extraction_cost) {
  PlanC plan;
  if (!(total_error > 0 && total_error < 1)) throw std::invalid_argument("plan_protocol_c: total error in (0, 1)");
  // §5.5 error budget: ε_est (= smoothing) and ε_ext, half each.
  const double log2_half_err = std::log2(total_error / 2);
  plan.log2_inv_eps_est = -log2_half_err;
  plan.min_entropy_target = extraction_cost(bits, log2_half_err);
  const SvSettingsModel settings{sv_epsilon};
  // State and angles at a representative β, then β by minimising n over the grid.
  const PhotonicSettingsChoice choice =
      optimise_photonic_settings(hw.visibility, hw.efficiency, hw.dark_count, sv_epsilon, 0.01, hw.pair_probability);
  plan.model = choice.model;
  const auto ref = joint_distribution(choice.model.behaviour());
  double best_n = std::numeric_limits<double>::infinity();
  for (const Rational& b : beta_grid()) {
    const double beta = to_double(b);
    const PefSolution s = optimise_pef(settings, ref, beta);
    const double n =
        trials_for_min_entropy(plan.min_entropy_target, beta, s.log2_gain, s.log2_gain_variance, plan.log2_inv_eps_est);
    if (n < best_n) {
      best_n = n;
      plan.beta = beta;
      plan.beta_exact = to_string(b);
      plan.log2_gain = s.log2_gain;
      plan.bits_per_trial = s.log2_gain / beta;
    }
  }
  plan.feasible = std::isfinite(best_n);
  plan.trials = best_n;
  plan.seconds = trial_rate_hz > 0 ? best_n / trial_rate_hz : std::numeric_limits<double>::infinity();
  if (!plan.feasible)
    plan.reason = "the optimal PEF has no positive log-gain at this visibility, efficiency and epsilon";
  return plan;
}

double lowest_efficiency(double visibility, const Rational& sv_epsilon, double dark_count, double tolerance) {
  auto certifies = [&](double eta) {
    const PhotonicSettingsChoice c = optimise_photonic_settings(visibility, eta, dark_count, sv_epsilon, 0.01);
    return c.rate > 1e-7;  // numerically positive rate (the LP tolerance is ~1e-10 in log gain)
  };
  double lo = 0.5, hi = 1.0;
  if (!certifies(hi)) return std::numeric_limits<double>::quiet_NaN();
  if (certifies(lo)) return lo;
  while (hi - lo > tolerance) {
    const double mid = 0.5 * (lo + hi);
    (certifies(mid) ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace dira::protocol
