// `dira run` and `dira analyze`.
#include "commands.hpp"

#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/hal/device.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace dira::cli {

namespace {
std::atomic<bool> g_interrupt{false};
extern "C" void on_signal(int) {
  g_interrupt.store(true);
}

struct RunArgs {
  std::string config, out, config_dir;
  std::uint64_t max_trials = 0;
  double duration = 0;
  bool json = false;
};

std::string eta(double s) {
  if (!(s >= 0) || s > 1e7) return "--";
  std::ostringstream os;
  const auto t = static_cast<long long>(s);
  os << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":" << std::setw(2) << t % 60;
  return os.str();
}

int run(const RunArgs& a) {
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(a.config, a.config_dir);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira run: invalid experiment file:\n" << e.what() << "\n";
    return usage_error;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  app::RunOptions o;
  o.out = a.out;
  o.max_trials = a.max_trials;
  o.duration_s = a.duration;
  o.interrupt = &g_interrupt;
  const bool tty = isatty(STDERR_FILENO);
  o.warning = [tty](const std::string& w) {
    std::cerr << (tty ? "\r\033[K" : "") << "dira run: warning: " << w << "\n";
  };
  o.progress = [tty](const app::Progress& p) {
    std::ostringstream os;
    os << std::setprecision(4) << p.trials << "/" << p.planned << " trials, " << p.rate / 1e6 << " M/s, ";
    if (p.protocol_c) {
      // Protocol C: what is certified so far against what the run needs, and when it will be.
      os << "certified min-entropy " << std::fixed << std::setprecision(1) << p.min_entropy << " / "
         << p.min_entropy_target << " bits, log2-gain " << std::defaultfloat << std::setprecision(3)
         << p.log2_gain_per_trial << " per trial, " << eta(p.elapsed_s) << " elapsed, target in "
         << eta(p.eta_to_target_s);
    } else {
      os << "Bell " << p.bell << " ± " << p.bell_half_width << " (≤ " << p.bell_threshold << ")";
      if (p.has_ustar) os << ", u* " << p.ustar << " ± " << p.ustar_half_width << " (≥ " << p.ustar_threshold << ")";
      os << ", projected " << p.projected << ", " << eta(p.elapsed_s) << " elapsed, ETA "
         << eta(p.rate > 0 ? static_cast<double>(p.planned - p.trials) / p.rate : -1);
    }
    if (tty)
      std::cerr << "\r\033[K" << os.str() << std::flush;
    else
      std::cerr << os.str() << "\n";
  };
  app::RunResult r;
  try {
    r = app::run_experiment(cfg, o);
  } catch (const app::ConfigError& e) {
    std::cerr << (tty ? "\n" : "") << "dira run: " << e.what() << "\n";
    return usage_error;
  } catch (const app::RunFileError& e) {
    std::cerr << (tty ? "\n" : "") << "dira run: " << e.what() << "\n";
    return usage_error;
  } catch (const std::invalid_argument& e) {
    std::cerr << (tty ? "\n" : "") << "dira run: invalid setting: " << e.what() << "\n";
    return usage_error;
  } catch (const hal::HardwareFault& e) {
    std::cerr << (tty ? "\n" : "") << "dira run: hardware fault before acquisition: " << e.what() << "\n";
    return 4;
  }
  if (tty) std::cerr << "\n";
  if (a.json) {
    std::cout << r.report.dump(2) << "\n";
  } else {
    std::cout << "run " << r.status << " (" << r.report.value("decision", "") << "), " << r.report["trials_recorded"]
              << " trials; run directory " << r.directory.string() << "\n";
    if (r.report.contains("analysis")) {
      const auto& an = r.report["analysis"];
      for (const auto& reason : an.value("reasons", nlohmann::json::array()))
        std::cout << "  - " << reason.get<std::string>() << "\n";
      if (an.contains("certification")) std::cout << "  " << an["certification"].get<std::string>() << "\n";
    }
    if (r.report.contains("fault")) std::cout << "  fault: " << r.report["fault"].get<std::string>() << "\n";
    std::cout << "  certified bits: " << r.report["certified_bits"] << "\n";
    if (r.report.contains("what_would_certify"))
      std::cout << "  what would certify (dira plan): " << r.report["what_would_certify"].value("verdict", "") << "\n";
  }
  return r.exit_code;
}
}  // namespace

std::function<int()> register_run_commands(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* c = app.add_subcommand(
      "run", "Acquire: drive the (simulated) apparatus from weak-source bits, decide, record, extract");
  c->add_option("experiment", a->config, "Experiment YAML (config/experiments/)")->required();
  c->add_option("--out", a->out, "Parent directory for the run directory (default: outputs.directory)");
  c->add_option("--max-trials", a->max_trials, "Stop after N trials");
  c->add_option("--duration", a->duration, "Stop after SECONDS");
  c->add_flag("--json", a->json, "Print the final report as JSON");
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");

  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* an = app.add_subcommand("analyze",
                                "Re-run the protocol from a run directory; reproduces the decision and output hash");
  an->add_option("run_dir", *dir, "Run directory written by dira run")->required();
  an->add_flag("--json", *json, "JSON output");
  return [=]() -> int {
    if (*c) return run(*a);
    if (!*an) return -1;
    nlohmann::json r;
    try {
      r = app::analyze_run_directory(*dir);
    } catch (const std::exception& e) {
      std::cerr << "dira analyze: " << e.what() << "\n";
      return usage_error;
    }
    if (*json) {
      std::cout << r.dump(2) << "\n";
    } else {
      std::cout << "decision " << r["decision"].get<std::string>() << " over " << r["trials_recorded"]
                << " trials; live run: " << r.value("live_status", "") << "\n";
      for (const auto& reason : r["analysis"].value("reasons", nlohmann::json::array()))
        if (reason.is_string()) std::cout << "  - " << reason.get<std::string>() << "\n";
      for (const auto& note : r.value("notes", nlohmann::json::array()))
        std::cout << "  note: " << note.get<std::string>() << "\n";
      if (r.contains("reproduces_live_decision"))
        std::cout << "  reproduces the live decision: " << (r["reproduces_live_decision"].get<bool>() ? "yes" : "NO")
                  << "\n";
      if (r.contains("reproduces_output"))
        std::cout << "  reproduces the output hash: " << (r["reproduces_output"].get<bool>() ? "yes" : "NO") << "\n";
    }
    const std::string d = r["decision"].get<std::string>();
    return d == "accept" ? ok : d == "abort" ? protocol_abort : usage_error;
  };
}

}  // namespace dira::cli
