#include "dira/protocol/protocol_c_plan.hpp"

#include <cmath>
#include <limits>

namespace dira::protocol {

double min_entropy_for_output(std::uint64_t trials, double bits, double sv_epsilon, double log2_error,
                              std::size_t max_weak_bits) {
  const std::size_t device_bits = static_cast<std::size_t>(2 * trials);
  if (max_weak_bits == 0) max_weak_bits = device_bits + 1;
  auto enough = [&](double h) {
    return static_cast<double>(plan_extraction_c(device_bits, h, sv_epsilon, log2_error, max_weak_bits).output_bits) >=
           bits;
  };
  double hi = static_cast<double>(device_bits);
  if (!enough(hi)) return std::numeric_limits<double>::infinity();
  double lo = bits;  // an extractor never outputs more than its input's min-entropy
  if (enough(lo)) return lo;
  while (hi - lo > 1) {
    const double mid = std::floor(0.5 * (lo + hi));
    (enough(mid) ? hi : lo) = mid;
  }
  return hi;
}

PlanC plan_protocol_c_extracted(const HardwareC& hw, const Rational& sv_epsilon, double bits, double total_error,
                                double trial_rate_hz) {
  PlanC plan = plan_protocol_c(hw, sv_epsilon, bits, total_error, trial_rate_hz);
  if (!plan.feasible) return plan;
  const double eps = to_double(sv_epsilon);
  const double log2_ext = std::log2(total_error / 2);  // §5.5: half estimation, half extractor
  const auto ref = joint_distribution(plan.model.behaviour());
  const PefSolution s = optimise_pef(SvSettingsModel{sv_epsilon}, ref, plan.beta);
  double n = plan.trials;
  for (int round = 0; round < 8; ++round) {
    const double h = min_entropy_for_output(static_cast<std::uint64_t>(std::ceil(n)), bits, eps, log2_ext);
    const double next = trials_for_min_entropy(h, plan.beta, s.log2_gain, s.log2_gain_variance, plan.log2_inv_eps_est);
    plan.min_entropy_target = h;
    if (!std::isfinite(next)) {
      plan.feasible = false;
      plan.reason = "the extraction step needs more min-entropy than the device string can hold";
      return plan;
    }
    const bool settled = std::fabs(next - n) <= 0.002 * n;
    n = next;
    if (settled) break;
  }
  plan.trials = std::ceil(n);
  plan.seconds = trial_rate_hz > 0 ? plan.trials / trial_rate_hz : std::numeric_limits<double>::infinity();
  const auto ext = plan_extraction_c(static_cast<std::size_t>(2 * plan.trials), plan.min_entropy_target, eps, log2_ext,
                                     static_cast<std::size_t>(2 * plan.trials + 1));
  plan.extractor = to_string(ext.kind);
  return plan;
}

}  // namespace dira::protocol
