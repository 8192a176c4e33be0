#include "dira/app/protocol_c_run.hpp"

#include "device_set.hpp"

#include "dira/app/config_error.hpp"
#include "dira/app/devices.hpp"
#include "dira/protocol/pef_verify.hpp"
#include "dira/protocol/protocol_c_plan.hpp"
#include "dira/protocol/rational.hpp"

#include <cmath>

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

P::Rational exact_sv_epsilon(double epsilon) {
  return P::rationalize(epsilon, 1e-15, 1'000'000'000'000LL);
}

P::PhotonicChshModel apparatus_model(const ExperimentConfig& c, const DeviceSet& d, std::string& source) {
  P::PhotonicChshModel m;
  if (!d.hardware)
    throw ConfigError({ConfigIssue{c.file, 0, 0, "hardware",
                                   "Protocol C chooses its PEF from a model of the apparatus: give a hardware: section "
                                   "(visibility, efficiency, dark_count_probability)"}});
  m.visibility = d.hardware->visibility;
  m.efficiency = d.hardware->efficiency;
  m.dark_count = d.hardware->dark_count;
  bool angles = false;
  auto real = [&](const char* key, double& out) {
    for (const auto& cap : d.tagger->capabilities())
      if (cap.key == key)
        if (const auto v = d.tagger->get(key); std::holds_alternative<double>(v)) {
          out = std::get<double>(v);
          angles = true;
        }
  };
  real("state_theta", m.theta);
  real("alice_angle_0", m.a0);
  real("alice_angle_1", m.a1);
  real("bob_angle_0", m.b0);
  real("bob_angle_1", m.b1);
  if (angles) {
    source = "the simulator's settings (visibility, efficiency, dark counts, state and angles)";
    return m;
  }
  const auto choice =
      P::optimise_photonic_settings(m.visibility, m.efficiency, m.dark_count, exact_sv_epsilon(c.epsilon), 0.01);
  source = "the hardware: section, with the state and angles the planner finds best";
  return choice.model;
}

ProtocolCRunPlan plan_protocol_c_run(const ExperimentConfig& c, const P::PhotonicChshModel& model,
                                     const std::string& source) {
  ProtocolCRunPlan plan;
  plan.model = model;
  plan.model_source = source;
  // §5.5: the total error is split evenly between estimation (= smoothing) and extraction.
  const double log2_half = std::log2(c.c.error / 2);
  plan.log2_extractor_error = log2_half;
  plan.scoring.log2_inv_eps_est = -log2_half;
  plan.scoring.max_trials = c.c.trials;
  plan.scoring.stop_when_certified = c.c.stop_when_certified;
  const P::SvSettingsModel settings{exact_sv_epsilon(c.epsilon)};
  const auto reference = P::joint_distribution(model.behaviour());
  const P::BetaChoice beta =
      P::choose_beta(settings, reference, static_cast<double>(c.c.trials), plan.scoring.log2_inv_eps_est);
  P::CertifiedPef pef = P::make_certified_pef(settings, reference, beta.beta_exact);
  plan.expected_log2_gain = pef.log2_gain;
  // The target: what the extraction step needs for `bits` output bits from 2·n device bits.
  plan.scoring.target_min_entropy =
      P::min_entropy_for_output(c.c.trials, static_cast<double>(c.c.bits), c.epsilon, log2_half);
  if (!std::isfinite(plan.scoring.target_min_entropy))
    throw ConfigError({ConfigIssue{c.file, 0, 0, "protocol.bits",
                                   "no extractor outputs " + std::to_string(c.c.bits) + " bits from " +
                                       std::to_string(2 * c.c.trials) + " device bits at this ε"}});
  plan.pefs.emplace_back(0, std::move(pef));
  return plan;
}

json pef_json(const ExperimentConfig& c, const ProtocolCRunPlan& plan, const std::vector<P::PefSegment>* scored) {
  json j;
  const auto& first = plan.pefs.front().second;
  j["settings_model"] = {{"kind", "santha-vazirani"}, {"epsilon", first.settings_epsilon}};
  j["behaviour_model"] = "no-signalling";
  j["pefs"] = json::array();
  if (scored) {
    for (const auto& s : *scored)
      j["pefs"].push_back({{"trials", {s.first, s.last}}, {"beta", s.pef.beta_exact}, {"F", s.pef.F_decimal}});
  } else {
    for (std::size_t i = 0; i < plan.pefs.size(); ++i) {
      const std::uint64_t last = i + 1 < plan.pefs.size() ? plan.pefs[i + 1].first - 1 : plan.scoring.max_trials - 1;
      j["pefs"].push_back({{"trials", {plan.pefs[i].first, last}},
                           {"beta", plan.pefs[i].second.beta_exact},
                           {"F", plan.pefs[i].second.F_decimal}});
    }
  }
  // Fixed before the first trial (§5.3); the checker ignores what it does not need.
  j["run"] = {{"trial_budget", plan.scoring.max_trials},
              {"log2_inv_eps_est", plan.scoring.log2_inv_eps_est},
              {"target_min_entropy", plan.scoring.target_min_entropy},
              {"stop_when_certified", plan.scoring.stop_when_certified},
              {"log2_extractor_error", plan.log2_extractor_error},
              {"output_bits_requested", c.c.bits},
              {"total_error", c.c.error},
              {"model",
               {{"source", plan.model_source},
                {"visibility", plan.model.visibility},
                {"efficiency", plan.model.efficiency},
                {"dark_count", plan.model.dark_count},
                {"theta", plan.model.theta},
                {"angles", {plan.model.a0, plan.model.a1, plan.model.b0, plan.model.b1}},
                {"expected_log2_gain_per_trial", plan.expected_log2_gain}}}};
  return j;
}

ProtocolCRunPlan plan_protocol_c_for_experiment(const ExperimentConfig& c) {
  const DeviceSet devices = open_devices(c, driver_registry(), c.c.trials);
  std::string source;
  const auto model = apparatus_model(c, devices, source);
  return plan_protocol_c_run(c, model, source);
}

ProtocolCRunPlan read_pef_json(const json& j, const ExperimentConfig& c) {
  ProtocolCRunPlan plan;
  try {
    const P::SvSettingsModel settings{P::parse_rational(j.at("settings_model").at("epsilon").get<std::string>())};
    const auto& run = j.at("run");
    plan.scoring.max_trials = run.at("trial_budget").get<std::uint64_t>();
    plan.scoring.log2_inv_eps_est = run.at("log2_inv_eps_est").get<double>();
    plan.scoring.target_min_entropy = run.at("target_min_entropy").get<double>();
    plan.scoring.stop_when_certified = run.at("stop_when_certified").get<bool>();
    plan.log2_extractor_error = run.at("log2_extractor_error").get<double>();
    plan.model_source = run.at("model").at("source").get<std::string>();
    for (const auto& s : j.at("pefs")) {
      std::array<std::string, P::kChshCells> F;
      const auto& f = s.at("F");
      if (f.size() != F.size()) throw std::invalid_argument("a PEF needs 16 factors");
      for (std::size_t k = 0; k < F.size(); ++k) F[k] = f[k].get<std::string>();
      plan.pefs.emplace_back(s.at("trials").at(0).get<std::uint64_t>(),
                             P::verify_published_pef(settings, s.at("beta").get<std::string>(), F));
    }
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("pef.json: ") + e.what());
  }
  if (plan.pefs.empty()) throw std::invalid_argument("pef.json: no PEF");
  (void)c;
  return plan;
}

}  // namespace dira::app
