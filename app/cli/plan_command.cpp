// `dira plan`: hardware and trials needed for a target security.
#include "commands.hpp"

#include "dira/app/config_error.hpp"
#include "dira/app/lab_units.hpp"
#include "dira/app/plan_report.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {
struct Args {
  std::string protocol;
  app::PlanRequest request;
  bool json = false;
  std::string config_dir;
  std::string write_experiment;
};

int run(Args a) {
  a.request.protocol = a.protocol.empty() ? 'B' : a.protocol[0];
  a.request.config_dir = a.config_dir;
  const auto& r = a.request;
  nlohmann::json j;
  try {
    j = app::plan_report(r);
  } catch (const app::ConfigError& e) {
    return report_error("dira plan", e.what(), a.json);
  } catch (const std::invalid_argument& e) {
    return report_error("dira plan", e.what(), a.json);
  }
  if (!a.write_experiment.empty()) {
    // O_EXCL semantics: never overwrite an experiment a lab already has.
    std::string yaml;
    try {
      yaml = app::planned_experiment_yaml(r, j);
    } catch (const std::invalid_argument& e) {
      return report_error("dira plan", std::string("--write-experiment: ") + e.what(), a.json);
    }
    std::FILE* f = std::fopen(a.write_experiment.c_str(), "wx");
    if (!f)
      return report_error("dira plan",
                          "--write-experiment " + a.write_experiment + ": " + std::strerror(errno) +
                              (errno == EEXIST ? " (dira does not overwrite an experiment file)" : ""),
                          a.json);
    const bool written = std::fwrite(yaml.data(), 1, yaml.size(), f) == yaml.size();
    if (std::fclose(f) != 0 || !written)
      return report_error("dira plan", "--write-experiment " + a.write_experiment + ": write failed", a.json, failure);
    j["experiment_file"] = a.write_experiment;
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return ok;
  }
  if (j.contains("experiment_file"))
    std::cout << "wrote " << a.write_experiment << " (dira run " << a.write_experiment << " runs this plan)\n";
  namespace lu = app::lab_units;
  // What the lab can act on first; the numbers next; the planner's reasoning last.
  std::cout << j["headline"].get<std::string>() << "\n\n";
  std::cout << "Protocol " << a.protocol << " (" << j["inequality"].get<std::string>()
            << "), ε = " << lu::significant(r.epsilon, 3);
  if (a.protocol == "C")
    std::cout << ", " << lu::count(r.bits, "bit") << " at total error " << lu::significant(r.error, 2) << "\n";
  else
    std::cout << ", target distance from uniform " << lu::significant(r.target, 2) << "\n";
  std::cout << "hardware: visibility " << lu::significant(r.visibility, 4) << ", efficiency "
            << lu::significant(r.efficiency, 3) << ", dark-count probability " << lu::significant(r.dark_count, 2)
            << ", " << lu::trial_rate(r.trial_rate) << "\n";
  if (a.protocol == "C") {
    if (j["feasible"].get<bool>()) {
      std::cout << "  trials: " << lu::count(j["trials"].get<double>(), "trial") << " ("
                << lu::duration(j["seconds"].get<double>()) << ")\n";
      std::cout << "  beta = " << j["beta"].get<std::string>() << ", "
                << lu::significant(j["bits_per_trial"].get<double>(), 3) << " bits of min-entropy per trial, target "
                << lu::significant(j["min_entropy_target"].get<double>(), 4) << " bits\n";
      std::cout << "  state and angles (rad): theta " << j["model"]["state_theta"] << ", a0 "
                << j["model"]["alice_angle_0"] << ", a1 " << j["model"]["alice_angle_1"] << ", b0 "
                << j["model"]["bob_angle_0"] << ", b1 " << j["model"]["bob_angle_1"] << "\n";
    }
    if (j["lowest_efficiency"].is_number())
      std::cout << "  lowest efficiency that certifies anything at this V and ε: "
                << lu::significant(j["lowest_efficiency"].get<double>(), 3) << "\n";
  } else {
    // One Bell number, named once: B·P of the hardware box. The test statistic (L_n for B)
    // estimates its ε-SV-weighted version, whose worst case is stated beside it.
    std::cout << "  Bell value B·P of this hardware: " << lu::significant(j["honest"]["bell_value"].get<double>(), 4);
    if (j["honest"].contains("bell_statistic_max"))
      std::cout << " (the test statistic L_n estimates its ε-SV-weighted form, at most "
                << lu::significant(j["honest"]["bell_statistic_max"].get<double>(), 3) << " here)";
    std::cout << "\n";
    if (j["parameters"].is_object())
      for (auto& [k, v] : j["parameters"].items())
        std::cout << "  " << k << " = " << (v.is_number() ? lu::significant(v.get<double>(), 4) : v.dump()) << "\n";
    if (j["log10_honest_abort_probability"].is_number())
      std::cout << "  P(an honest device aborts) ≤ 10^"
                << lu::significant(j["log10_honest_abort_probability"].get<double>(), 3) << "\n";
    std::cout << "  feasible (dira certifies bits within a century): " << (j["feasible"].get<bool>() ? "yes" : "no")
              << "; on paper (the seed's proof): " << (j["feasible_on_paper"].get<bool>() ? "yes" : "no") << "\n";
  }
  std::cout << "\nWhy: " << j["why"].get<std::string>() << "\n";
  const auto& ref = j["reference"];
  if (ref.contains("paper"))
    std::cout << "\nProtocol " << a.protocol << ": " << ref["cited_as"].get<std::string>() << " = "
              << ref["paper"].get<std::string>() << ", arXiv:" << ref["arxiv"].get<std::string>() << "\n";
  else if (ref.contains("papers"))
    for (const auto& p : ref["papers"])
      std::cout << (&p == &ref["papers"][0] ? "\nProtocol C: " : "            ") << p["paper"].get<std::string>()
                << ", arXiv:" << p["arxiv"].get<std::string>() << "\n";
  return ok;
}
}  // namespace

std::function<int()> register_plan_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("plan", "Parameters, hardware quality and trials needed for a target security");
  c->add_option("--protocol", a->protocol, "A (guehne4), B (ks294) or C (chsh, probability estimation)")
      ->required()
      ->check(CLI::IsMember({"A", "B", "C"}));
  c->add_option("--bits", a->request.bits, "Protocol C: certified output bits wanted")->capture_default_str();
  c->add_option("--error", a->request.error, "Protocol C: total error (estimation + extractor)")->capture_default_str();
  c->add_option("--epsilon", a->request.epsilon, "SV parameter ε of the weak source")->capture_default_str();
  c->add_option("--target", a->request.target, "Target distance from uniform d_c")->capture_default_str();
  c->add_option("--visibility", a->request.visibility, "White-noise visibility V of the source")->capture_default_str();
  c->add_option("--efficiency", a->request.efficiency, "Detection efficiency η per party")->capture_default_str();
  c->add_option("--dark-count-probability", a->request.dark_count, "Dark-count probability per detector per trial")
      ->capture_default_str();
  c->add_option("--trial-rate", a->request.trial_rate, "Trials per second (for wall time)")->capture_default_str();
  c->add_flag("--json", a->json, "JSON output");
  c->add_option("--write-experiment", a->write_experiment,
                "Also write an experiment YAML that runs this plan on the simulator (never overwrites)");
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
