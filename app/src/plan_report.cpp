// `dira plan` as JSON and words (plan_report.hpp).
#include "dira/app/plan_report.hpp"

#include "dira/app/inequality_loader.hpp"
#include "dira/app/lab_units.hpp"
#include "dira/app/protocol_c_run.hpp"
#include "dira/app/references.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/protocol_c_plan.hpp"
#include "run_report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace dira::app {

namespace {
namespace lu = lab_units;
using nlohmann::json;

json finite(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}
constexpr double kLog10Century = 9.5;  // log10 of 100 years in seconds

// 10^x as a person reads it: "1.41e13" (x finite and modest), else "10^x".
std::string power_of_ten(double log10_x) {
  if (!std::isfinite(log10_x)) return "more than 10^308";
  if (log10_x < 300) return lu::significant(std::pow(10.0, log10_x), 3);
  return "10^" + lu::significant(log10_x, 4);
}

std::string duration_from_log10(double log10_seconds) {
  if (!std::isfinite(log10_seconds)) return "longer than any lab runs";
  if (log10_seconds < 17) return lu::duration(std::pow(10.0, log10_seconds));
  return "10^" + lu::significant(log10_seconds - std::log10(365.25 * 86400), 3) + " years";
}

json hardware_json(const PlanRequest& r) {
  return {{"visibility", r.visibility}, {"efficiency", r.efficiency}, {"dark_count_probability", r.dark_count}};
}

json plan_b(const PlanRequest& r, const protocol::HardwareModel& hw) {
  const auto ineq = load_inequality_file(resolve_inequality("ks294", r.config_dir));
  const auto p = protocol::plan_protocol_b(ineq, r.epsilon, r.target, hw, r.trial_rate);
  const bool runnable = p.feasible && p.log10_seconds < kLog10Century;
  const bool certifies = runnable && p.explicit_bits > 0;
  json j = {{"protocol", "B"},
            {"inequality", "ks294"},
            {"feasible", certifies},
            {"feasible_on_paper", p.feasible},
            {"why", p.verdict},
            {"verdict", p.verdict},
            {"hardware", hardware_json(r)},
            // One Bell number: B·P of the hardware box; the test statistic L_n estimates the
            // ε-SV-weighted version of it, whose worst case over the source is bell_statistic_max.
            {"honest",
             {{"bell_value", p.honest_bell_value},
              {"bell_statistic_max", p.honest_bell_statistic},
              {"ustar_rate_min", p.honest_ustar_rate},
              {"p_xstar_given_ustar", p.honest_pxstar}}},
            {"parameters",
             {{"epsilon", r.epsilon},
              {"delta", p.delta},
              {"delta_az", p.delta_az},
              {"mu1", p.mu1},
              {"kappa", p.kappa},
              {"tau", p.tau}}},
            {"trials", finite(std::pow(10.0, p.log10_trials))},
            {"seconds", finite(std::pow(10.0, p.log10_seconds))},
            {"log10_trials", finite(p.log10_trials)},
            {"log10_trials_256_bits", finite(p.log10_trials_256)},
            {"log10_seconds", finite(p.log10_seconds)},
            {"log10_honest_abort_probability", p.log10_reject_honest},
            {"explicit_extractor_bits", p.explicit_bits},
            {"max_one_minus_visibility", p.max_one_minus_visibility},
            {"runnable", runnable},
            {"target", r.target}};
  std::string h;
  if (!p.feasible) {
    h = "Not feasible with this hardware: Protocol B needs 1 − V ≲ " + lu::significant(p.max_one_minus_visibility, 2) +
        " with perfect detectors (this hardware: 1 − V = " + lu::significant(1 - r.visibility, 2) + ").";
    for (const char* k : {"parameters", "trials", "seconds", "log10_trials", "log10_trials_256_bits", "log10_seconds",
                          "log10_honest_abort_probability", "explicit_extractor_bits"})
      j[k] = nullptr;
  } else {
    h = "Needs ≈ " + power_of_ten(p.log10_trials) + " trials ≈ " + duration_from_log10(p.log10_seconds) + " at " +
        lu::trial_rate(r.trial_rate) + " for 1 bit (256 bits: ≈ " + power_of_ten(p.log10_trials_256) +
        " trials), with δ = " + lu::significant(p.delta, 2) + ", i.e. 1 − V ≲ " +
        lu::significant(p.max_one_minus_visibility, 2) + ". ";
    h += certifies ? "dira's explicit extractors certify " + lu::count(p.explicit_bits, "bit") + " at that size."
                   : "Not feasible for dira: its explicit extractors certify 0 bits at that size (the seed's "
                     "non-explicit extractor would)" +
                         std::string(runnable ? "" : ", and the run would take over a century") + ".";
  }
  j["headline"] = h;
  return j;
}

json plan_a(const PlanRequest& r, const protocol::HardwareModel& hw) {
  const auto ineq = load_inequality_file(resolve_inequality("guehne4", r.config_dir));
  const auto p = protocol::plan_protocol_a(ineq, r.epsilon, r.target, hw, r.trial_rate);
  const bool runnable =
      p.feasible && std::isfinite(p.log10_trials) && p.log10_trials - std::log10(r.trial_rate) < kLog10Century;
  json j = {{"protocol", "A"},
            {"inequality", "guehne4"},
            {"feasible", runnable},
            {"feasible_on_paper", p.feasible},
            {"why", p.verdict},
            {"verdict", p.verdict},
            {"hardware", hardware_json(r)},
            {"honest", {{"bell_value", p.honest_bell_value}, {"chosen_box_failure_probability", p.honest_run_rate}}},
            {"parameters",
             {{"epsilon", r.epsilon},
              {"delta", p.delta},
              {"mu", p.mu},
              {"k", p.devices},
              {"t", p.t},
              {"threshold", p.threshold}}},
            {"log10_bound", p.log10_bound},
            {"log10_trials", finite(p.log10_trials)},
            {"log10_log10_trials", p.log10_log10_trials},
            {"log10_log10_seconds", p.log10_log10_seconds},
            {"log2_first_blocks", p.log2_first_blocks},
            {"log10_honest_abort_probability", p.log10_reject_honest},
            {"runnable", runnable},
            {"target", r.target}};
  std::string h;
  if (!p.feasible) {
    h = "Not feasible with this hardware: a chosen box fails the Bell test with probability " +
        lu::significant(p.honest_run_rate, 3) + ", above every threshold the planner tried; better visibility or " +
        "efficiency is needed.";
    for (const char* k : {"parameters", "log10_bound", "log10_trials", "log10_log10_trials", "log10_log10_seconds",
                          "log2_first_blocks", "log10_honest_abort_probability"})
      j[k] = nullptr;
  } else {
    h = "Not feasible in any lab: the seed's Protocol A needs about 10^(10^" +
        lu::significant(p.log10_log10_trials, 3) + ") trials at ε = " + lu::significant(r.epsilon, 2) +
        " (k = " + lu::count(static_cast<double>(p.devices), "device") + "); it is a proof of principle.";
  }
  j["headline"] = h;
  return j;
}

json plan_c(const PlanRequest& r) {
  // Protocol C (docs/protocol-c-security.md §8): model — one pair per trial, white noise V,
  // symmetric η, dark counts, no click → outcome 0, state and angles optimised.
  protocol::HardwareC hw_c;
  hw_c.visibility = r.visibility;
  hw_c.efficiency = r.efficiency;
  hw_c.dark_count = r.dark_count;
  const auto eps = exact_sv_epsilon(r.epsilon);
  const auto p = protocol::plan_protocol_c_extracted(hw_c, eps, r.bits, r.error, r.trial_rate);
  const double eta_min = protocol::lowest_efficiency(r.visibility, eps, r.dark_count, 2e-3);
  json j = {
      {"protocol", "C"},
      {"inequality", "chsh"},
      {"feasible", p.feasible},
      {"feasible_on_paper", p.feasible},
      {"trials", p.feasible ? json(p.trials) : json(nullptr)},
      {"seconds", p.feasible ? finite(p.seconds) : json(nullptr)},
      {"beta", p.beta_exact},
      {"bits_per_trial", p.bits_per_trial},
      {"log2_gain_per_trial", p.log2_gain},
      {"min_entropy_target", p.min_entropy_target},
      {"extractor", p.extractor},
      {"bits", r.bits},
      {"error", r.error},
      {"lowest_efficiency", finite(eta_min)},
      {"hardware", hardware_json(r)},
      {"model",
       {{"state_theta", p.model.theta},
        {"alice_angle_0", p.model.a0},
        {"alice_angle_1", p.model.a1},
        {"bob_angle_0", p.model.b0},
        {"bob_angle_1", p.model.b1}}},
      {"verdict", p.feasible ? "feasible: " + std::to_string(static_cast<long long>(p.trials)) + " trials certify " +
                                   std::to_string(static_cast<long long>(r.bits)) + " bits at total error " +
                                   json(r.error).dump() + " (" + p.extractor + " extractor)"
                             : "not feasible: " + p.reason}};
  std::string h;
  if (p.feasible)
    h = "Certifies " + lu::count(r.bits, "bit") + " at total error " + lu::significant(r.error, 2) + " in ≈ " +
        lu::count(p.trials, "trial") + " ≈ " + lu::duration(p.seconds) + " at " + lu::trial_rate(r.trial_rate) + " (" +
        p.extractor + " extractor); it needs efficiency η ≥ " + lu::significant(eta_min, 3) + " at this V.";
  else
    h = "Not feasible with this hardware: " + p.reason +
        (std::isfinite(eta_min) ? "; at this V it needs efficiency η ≥ " + lu::significant(eta_min, 3)
                                : std::string()) +
        ".";
  j["headline"] = h;
  j["why"] = j["verdict"];
  return j;
}
}  // namespace

json plan_report(const PlanRequest& r) {
  if (!(r.epsilon >= 0 && r.epsilon < 0.5) || !(r.target > 0 && r.target < 1) || !(r.trial_rate > 0) ||
      !(r.visibility >= 0 && r.visibility <= 1) || !(r.efficiency > 0 && r.efficiency <= 1) ||
      !(r.dark_count >= 0 && r.dark_count < 1))
    throw std::invalid_argument(
        "need 0 ≤ ε < 1/2, 0 < target < 1, trial rate > 0, 0 ≤ V ≤ 1, 0 < η ≤ 1, 0 ≤ dark-count probability < 1");
  const protocol::HardwareModel hw{r.visibility, r.efficiency, r.dark_count};
  json j;
  if (r.protocol == 'B')
    j = plan_b(r, hw);
  else if (r.protocol == 'A')
    j = plan_a(r, hw);
  else if (r.protocol == 'C')
    j = plan_c(r);
  else
    throw std::invalid_argument("--protocol must be A, B or C");
  j["reference"] = protocol_reference(r.protocol);  // the paper the plan's lemmas are from, once
  return j;
}

std::string planned_experiment_yaml(const PlanRequest& r, const json& plan) {
  if (!plan.value("feasible_on_paper", false))
    throw std::invalid_argument("the plan is not feasible, so there is no experiment to write: " +
                                plan.value("headline", std::string()));
  // Full precision: these numbers are read back as the run's parameters.
  auto num = [](double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  std::ostringstream y;
  const char kind = r.protocol;
  y << "# Written by `dira plan --protocol " << kind << " --write-experiment` (" << software_name() << ").\n"
    << "# " << plan.value("headline", std::string()) << "\n"
    << "name: planned-" << plan.value("inequality", std::string()) << "\n"
    << "inequality: " << plan.value("inequality", std::string()) << "\n";
  if (kind == 'B') {
    const auto& p = plan["parameters"];
    const double log10_n = plan["log10_trials"].get<double>();
    if (!(log10_n <= 15))
      throw std::invalid_argument("the planned n ≈ 10^" + lab_units::significant(log10_n, 4) +
                                  " trials is more than an experiment file holds (protocol.trials ≤ 1e15)");
    y << "security_target: " << num(r.target) << "\n"
      << "protocol:\n"
      << "  kind: B\n"
      << "  epsilon: " << num(r.epsilon) << "\n"
      << "  trials: " << static_cast<std::uint64_t>(std::ceil(std::pow(10.0, log10_n))) << "\n"
      << "  delta: " << num(p["delta"].get<double>()) << "          # accept iff L_n ≤ δ (seed 001 eq. 39)\n"
      << "  mu1: " << num(p["mu1"].get<double>()) << "            # accept iff S_n ≥ μ1 (eq. 44)\n"
      << "  kappa: " << num(p["kappa"].get<double>()) << "          # Lemma 5's κ\n"
      << "  delta_az: " << num(p["delta_az"].get<double>()) << "       # Azuma deviation of the Bell test\n"
      << "  tau: " << num(p["tau"].get<double>()) << "            # Lemma 4 threshold\n";
  } else if (kind == 'C') {
    y << "protocol:\n"
      << "  kind: C\n"
      << "  epsilon: " << num(r.epsilon) << "\n"
      << "  bits: " << static_cast<std::uint64_t>(r.bits) << "\n"
      << "  error: " << num(r.error) << "\n"
      << "  trials: " << static_cast<std::uint64_t>(std::ceil(plan["trials"].get<double>()))
      << "   # the planned budget n\n"
      << "  stop_when_certified: true\n";
  } else {
    throw std::invalid_argument("Protocol A's planned run (about 10^(10^" +
                                lab_units::significant(plan.value("log10_log10_trials", 0.0), 3) +
                                ") trials) cannot be written as an experiment file");
  }
  // ε-SV source with bias ε: the weakest source the security statement allows.
  y << "weak_source:\n"
    << "  driver: iid\n"
    << "  settings: {bias: " << num(r.epsilon) << ", seed: 1}\n"
    << "simulator:\n"
    << "  seed: 1\n"
    << "  visibility: " << num(r.visibility) << "\n"
    << "  efficiency: " << num(r.efficiency) << "\n";
  if (kind == 'C') {
    const auto& m = plan["model"];
    y << "  state_theta: " << num(m["state_theta"].get<double>()) << "\n"
      << "  alice_angle_0: " << num(m["alice_angle_0"].get<double>()) << "\n"
      << "  alice_angle_1: " << num(m["alice_angle_1"].get<double>()) << "\n"
      << "  bob_angle_0: " << num(m["bob_angle_0"].get<double>()) << "\n"
      << "  bob_angle_1: " << num(m["bob_angle_1"].get<double>()) << "\n";
  }
  if (r.dark_count > 0)
    y << "  # the plan's dark-count probability per trial (" << num(r.dark_count)
      << ") has no simulator key: set dark_count_rate_hz for your trial period\n";
  y << "outputs:\n  directory: runs\n";
  return y.str();
}

}  // namespace dira::app
