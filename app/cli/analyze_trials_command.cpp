// `dira analyze-trials`: run a protocol on recorded trials (CSV) and weak-source bits.
#include "commands.hpp"

#include "../src/run_directory.hpp"
#include "dira/app/run_file.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/experiment.hpp"
#include "dira/app/references.hpp"
#include "dira/app/trials_csv.hpp"
#include "dira/protocol/protocol_b.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

namespace dira::cli {

namespace {
struct Args {
  std::string config, trials, sv_bits, output, config_dir, pef;
  bool json = false;
};

int run(const Args& a) {
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(a.config, a.config_dir);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira analyze-trials: invalid experiment file:\n" << e.what() << "\n";
    return usage_error;
  }
  std::unique_ptr<protocol::BufferSvSource> bits;
  if (!a.sv_bits.empty()) {
    std::vector<std::uint8_t> bytes;
    try {
      bytes = app::read_sv_bits_file(a.sv_bits);  // bounded: /dev/zero is refused, not read forever
    } catch (const app::ConfigError& e) {
      std::cerr << "dira analyze-trials: --sv-bits " << e.what() << "\n";
      return usage_error;
    }
    const double eps = cfg.epsilon;
    bits = std::make_unique<protocol::BufferSvSource>(
        protocol::BufferSvSource::from_bytes(bytes, "file " + a.sv_bits, eps));
  }
  app::AnalysisOptions opt;
  opt.weak_bits = bits.get();
  // Protocol C scores trials with PEFs fixed before them: a run's pef.json (--pef), or the
  // plan `dira run` would fix for this experiment (its devices' model of the apparatus).
  std::optional<app::ProtocolCRunPlan> plan_c;
  if (cfg.protocol == 'C') {
    try {
      if (!a.pef.empty()) {
        std::ifstream in(a.pef);
        if (!in) {
          std::cerr << "dira analyze-trials: cannot read --pef " << a.pef << "\n";
          return usage_error;
        }
        plan_c = app::read_pef_json(nlohmann::json::parse(in), cfg);
      } else {
        plan_c = app::plan_protocol_c_for_experiment(cfg);
      }
    } catch (const app::ConfigError& e) {
      std::cerr << "dira analyze-trials: " << e.what() << "\n";
      return usage_error;
    } catch (const std::exception& e) {
      std::cerr << "dira analyze-trials: --pef " << a.pef << ": " << e.what() << "\n";
      return usage_error;
    }
    opt.protocol_c = &*plan_c;
  }
  const auto& sc = cfg.inequality.expression.scenario();
  opt.trials = [&](const std::function<void(std::span<const protocol::Trial>)>& sink) {
    app::for_each_trial_csv(a.trials, sc, [&](const protocol::Trial& t) { sink(std::span(&t, 1)); });
  };
  app::AnalysisResult res;
  try {
    res = app::analyze(cfg, opt);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira analyze-trials: invalid trials file:\n" << e.what() << "\n";
    return usage_error;
  } catch (const protocol::InvalidTrial& e) {
    std::cerr << "dira analyze-trials: " << a.trials << ": " << e.what() << "\n";
    return usage_error;
  } catch (const protocol::SourceExhausted& e) {
    std::cerr << "dira analyze-trials: --sv-bits: " << e.what() << "\n";
    return usage_error;
  }
  res.report["config"] = a.config;
  res.report["trials_file"] = a.trials;
  if (!a.output.empty()) {
    if (res.output_bits > 0) {
      // Certified output only on acceptance, mode 0600 (docs/architecture.md) whatever the umask
      // and even over an existing file (a stream kept that file's mode), never through a
      // symlink, whole or not at all (write_file_atomically), and the process umask untouched.
      try {
        app::write_file_atomically(a.output, std::string(res.output.begin(), res.output.end()));
      } catch (const app::RunFileError& e) {
        return report_error("dira analyze-trials", std::string("--output: ") + e.what(), a.json, failure);
      }
      res.report["output_file"] = a.output;
    } else {
      res.report["output_file"] = nullptr;
    }
  }
  res.report["reference"] = app::protocol_reference(cfg.protocol);
  if (a.json) {
    std::cout << res.report.dump(2) << "\n";
  } else {
    const auto& r = res.report;
    std::cout << "protocol " << r["protocol"].get<std::string>() << " on " << r["inequality"].get<std::string>() << ": "
              << r["decision"].get<std::string>() << " after " << r["trials_used"] << " trials\n";
    if (r.contains("bell_statistic")) std::cout << "  Bell statistic " << r["bell_statistic"] << "\n";
    if (r.contains("ustar_statistic")) std::cout << "  u* statistic   " << r["ustar_statistic"] << "\n";
    if (r.contains("min_entropy"))
      std::cout << "  certified smooth min-entropy " << r["min_entropy"] << " bits (target " << r["target_min_entropy"]
                << ")\n";
    if (r.contains("z_k")) std::cout << "  Z_k " << r["z_k"] << " (threshold " << r["threshold"] << ")\n";
    for (const auto& reason : r["reasons"]) std::cout << "  - " << reason.get<std::string>() << "\n";
    std::cout << "  certified bits: " << r["certified_bits"] << "\n";
    if (r["reference"].contains("paper"))
      std::cout << "  protocol: " << r["reference"]["cited_as"].get<std::string>() << " = "
                << r["reference"]["paper"].get<std::string>()
                << ", arXiv:" << r["reference"]["arxiv"].get<std::string>() << "\n";
    if (r.contains("certification")) std::cout << "  " << r["certification"].get<std::string>() << "\n";
    if (r.contains("security") && r["security"].contains("violations"))
      for (const auto& v : r["security"]["violations"])
        std::cout << "  condition violated: " << v.get<std::string>() << "\n";
  }
  const std::string decision = res.report["decision"].get<std::string>();
  if (decision == "undecided")
    std::cerr << "dira analyze-trials: no decision: " << res.report["reasons"][0].get<std::string>() << "\n";
  return decision == "accept" ? ok : decision == "abort" ? protocol_abort : usage_error;
}
}  // namespace

std::function<int()> register_analyze_trials_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("analyze-trials", "Run Protocol A or B on recorded trials (CSV) and weak-source bits");
  c->add_option("--config", a->config, "Experiment YAML (protocol, parameters; config/experiments/)")->required();
  c->add_option("--trials", a->trials, "CSV: trial,u0,..,x0,.. [,device] (0-based; docs/cli.md)")->required();
  c->add_option("--sv-bits", a->sv_bits, "Binary file of weak-source bits (MSB first) for box choice / extraction");
  c->add_option("--output", a->output, "Write certified bits here (only on acceptance, mode 0600)");
  c->add_option("--pef", a->pef,
                "Protocol C: a run's pef.json (default: the plan dira run would fix for this experiment)");
  c->add_flag("--json", a->json, "Print the report as JSON");
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
