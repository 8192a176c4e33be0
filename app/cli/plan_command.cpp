// `dira plan`: hardware and trials needed for a target security.
#include "commands.hpp"

#include "dira/app/inequality_loader.hpp"
#include "dira/app/protocol_c_run.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/protocol_c_plan.hpp"
#include "dira/protocol/rational.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {
struct Args {
  std::string protocol;
  double epsilon = 0.01, target = 1e-6, visibility = 1, efficiency = 1, dark = 0, rate = 1e6;
  double bits = 256, error = 1e-9;  // Protocol C
  bool json = false;
  std::string config_dir;
};

/// A number, or null when it is not finite (e.g. a trial count that overflows a double).
nlohmann::json finite(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
constexpr double kLog10Century = 9.5;  // log10 of 100 years in seconds

int run(const Args& a) {
  if (!(a.epsilon >= 0 && a.epsilon < 0.5) || !(a.target > 0 && a.target < 1) || !(a.rate > 0)) {
    std::cerr << "dira plan: need 0 ≤ ε < 1/2, 0 < target < 1, trial rate > 0\n";
    return usage_error;
  }
  protocol::HardwareModel hw{a.visibility, a.efficiency, a.dark};
  nlohmann::json j;
  try {
    if (a.protocol == "B") {
      const auto ineq = app::load_inequality_file(app::resolve_inequality("ks294", a.config_dir));
      const auto p = protocol::plan_protocol_b(ineq, a.epsilon, a.target, hw, a.rate);
      j = {{"protocol", "B"},
           {"inequality", "ks294"},
           {"feasible", p.feasible},
           {"verdict", p.verdict},
           {"hardware",
            {{"visibility", a.visibility}, {"efficiency", a.efficiency}, {"dark_count_probability", a.dark}}},
           {"honest",
            {{"bell_value", p.honest_bell_value},
             {"bell_statistic_max", p.honest_bell_statistic},
             {"ustar_rate_min", p.honest_ustar_rate},
             {"p_xstar_given_ustar", p.honest_pxstar}}},
           {"parameters",
            {{"epsilon", a.epsilon},
             {"delta", p.delta},
             {"delta_az", p.delta_az},
             {"mu1", p.mu1},
             {"kappa", p.kappa},
             {"tau", p.tau}}},
           {"log10_trials", finite(p.log10_trials)},
           {"log10_trials_256_bits", finite(p.log10_trials_256)},
           {"log10_seconds", finite(p.log10_seconds)},
           {"log10_honest_abort_probability", p.log10_reject_honest},
           {"explicit_extractor_bits", p.explicit_bits},
           {"max_one_minus_visibility", p.max_one_minus_visibility},
           {"runnable", p.feasible && p.log10_seconds < kLog10Century},
           {"target", a.target}};
      if (!p.feasible)
        for (const char* k : {"parameters", "log10_trials", "log10_trials_256_bits", "log10_seconds",
                              "log10_honest_abort_probability", "explicit_extractor_bits"})
          j[k] = nullptr;
    } else if (a.protocol == "A") {
      const auto ineq = app::load_inequality_file(app::resolve_inequality("guehne4", a.config_dir));
      const auto p = protocol::plan_protocol_a(ineq, a.epsilon, a.target, hw, a.rate);
      j = {{"protocol", "A"},
           {"inequality", "guehne4"},
           {"feasible", p.feasible},
           {"verdict", p.verdict},
           {"hardware",
            {{"visibility", a.visibility}, {"efficiency", a.efficiency}, {"dark_count_probability", a.dark}}},
           {"honest", {{"bell_value", p.honest_bell_value}, {"chosen_box_failure_probability", p.honest_run_rate}}},
           {"parameters",
            {{"epsilon", a.epsilon},
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
           {"runnable",
            p.feasible && std::isfinite(p.log10_trials) && p.log10_trials - std::log10(a.rate) < kLog10Century},
           {"target", a.target}};
      if (!p.feasible)
        for (const char* k : {"parameters", "log10_bound", "log10_trials", "log10_log10_trials", "log10_log10_seconds",
                              "log2_first_blocks", "log10_honest_abort_probability"})
          j[k] = nullptr;
    } else if (a.protocol == "C") {
      // Protocol C (docs/protocol-c-security.md §8): model — one pair per trial, white noise V,
      // symmetric η, dark counts, no click → outcome 0, state and angles optimised.
      protocol::HardwareC hw_c;
      hw_c.visibility = a.visibility;
      hw_c.efficiency = a.efficiency;
      hw_c.dark_count = a.dark;
      const auto eps = app::exact_sv_epsilon(a.epsilon);
      const auto p = protocol::plan_protocol_c_extracted(hw_c, eps, a.bits, a.error, a.rate);
      const double eta_min = protocol::lowest_efficiency(a.visibility, eps, a.dark, 2e-3);
      j = {{"protocol", "C"},
           {"inequality", "chsh"},
           {"feasible", p.feasible},
           {"trials", p.feasible ? nlohmann::json(p.trials) : nlohmann::json(nullptr)},
           {"seconds", p.feasible ? finite(p.seconds) : nlohmann::json(nullptr)},
           {"beta", p.beta_exact},
           {"bits_per_trial", p.bits_per_trial},
           {"log2_gain_per_trial", p.log2_gain},
           {"min_entropy_target", p.min_entropy_target},
           {"extractor", p.extractor},
           {"bits", a.bits},
           {"error", a.error},
           {"lowest_efficiency", finite(eta_min)},
           {"hardware",
            {{"visibility", a.visibility}, {"efficiency", a.efficiency}, {"dark_count_probability", a.dark}}},
           {"model",
            {{"state_theta", p.model.theta},
             {"alice_angle_0", p.model.a0},
             {"alice_angle_1", p.model.a1},
             {"bob_angle_0", p.model.b0},
             {"bob_angle_1", p.model.b1}}},
           {"verdict", p.feasible
                           ? "feasible: " + std::to_string(static_cast<long long>(p.trials)) + " trials certify " +
                                 std::to_string(static_cast<long long>(a.bits)) + " bits at total error " +
                                 nlohmann::json(a.error).dump() + " (" + p.extractor + " extractor)"
                           : "not feasible: " + p.reason}};
    } else {
      std::cerr << "dira plan: --protocol must be A, B or C\n";
      return usage_error;
    }
  } catch (const app::ConfigError& e) {
    std::cerr << "dira plan: " << e.what() << "\n";
    return usage_error;
  } catch (const std::invalid_argument& e) {
    std::cerr << "dira plan: " << e.what() << "\n";
    return usage_error;
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return ok;
  }
  if (a.protocol == "C") {
    std::cout << "Protocol C (chsh, probability estimation), ε = " << a.epsilon << ", " << a.bits
              << " bits at total error " << a.error << "\n";
    std::cout << "hardware: visibility " << a.visibility << ", efficiency " << a.efficiency
              << ", dark-count probability " << a.dark << "\n";
    if (j["feasible"].get<bool>()) {
      std::cout << "  trials = " << j["trials"] << " (" << j["seconds"] << " s at " << a.rate << " trials/s)\n";
      std::cout << "  beta = " << j["beta"].get<std::string>() << ", " << j["bits_per_trial"]
                << " bits of min-entropy per trial, target " << j["min_entropy_target"] << " bits\n";
      std::cout << "  state and angles (rad): theta " << j["model"]["state_theta"] << ", a0 "
                << j["model"]["alice_angle_0"] << ", a1 " << j["model"]["alice_angle_1"] << ", b0 "
                << j["model"]["bob_angle_0"] << ", b1 " << j["model"]["bob_angle_1"] << "\n";
    }
    std::cout << "  lowest efficiency that certifies anything at this V and ε: " << j["lowest_efficiency"] << "\n\n";
    std::cout << j["verdict"].get<std::string>() << "\n";
    return ok;
  }
  std::cout << "Protocol " << a.protocol << " (" << j["inequality"].get<std::string>() << "), ε = " << a.epsilon
            << ", target distance from uniform " << a.target << "\n";
  std::cout << "hardware: visibility " << a.visibility << ", efficiency " << a.efficiency << ", dark-count probability "
            << a.dark << " → Bell value " << j["honest"]["bell_value"].get<double>() << "\n";
  if (j["parameters"].is_object())
    for (auto& [k, v] : j["parameters"].items()) std::cout << "  " << k << " = " << v << "\n";
  if (j["log10_trials"].is_number()) std::cout << "  log10(trials) = " << j["log10_trials"] << "\n";
  if (j.contains("log10_log10_trials") && j["log10_log10_trials"].is_number())
    std::cout << "  log10(log10(trials)) = " << j["log10_log10_trials"] << "\n";
  if (j["log10_honest_abort_probability"].is_number())
    std::cout << "  log10 P(honest device aborts) ≤ " << j["log10_honest_abort_probability"] << "\n";
  std::cout << "  runnable (under 100 years at the trial rate): " << (j["runnable"].get<bool>() ? "yes" : "no")
            << "\n\n";
  std::cout << j["verdict"].get<std::string>() << "\n";
  return ok;
}
}  // namespace

std::function<int()> register_plan_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("plan", "Parameters, hardware quality and trials needed for a target security");
  c->add_option("--protocol", a->protocol, "A (guehne4), B (ks294) or C (chsh, probability estimation)")
      ->required()
      ->check(CLI::IsMember({"A", "B", "C"}));
  c->add_option("--bits", a->bits, "Protocol C: certified output bits wanted")->capture_default_str();
  c->add_option("--error", a->error, "Protocol C: total error (estimation + extractor)")->capture_default_str();
  c->add_option("--epsilon", a->epsilon, "SV parameter ε of the weak source")->capture_default_str();
  c->add_option("--target", a->target, "Target distance from uniform d_c")->capture_default_str();
  c->add_option("--visibility", a->visibility, "White-noise visibility V of the source")->capture_default_str();
  c->add_option("--efficiency", a->efficiency, "Detection efficiency η per party")->capture_default_str();
  c->add_option("--dark-count-probability", a->dark, "Dark-count probability per detector per trial")
      ->capture_default_str();
  c->add_option("--trial-rate", a->rate, "Trials per second (for wall time)")->capture_default_str();
  c->add_flag("--json", a->json, "JSON output");
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
