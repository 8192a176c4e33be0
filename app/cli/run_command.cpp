// `dira run` and `dira analyze`.
#include "commands.hpp"

#include "dira/app/experiment.hpp"
#include "dira/app/lab_units.hpp"
#include "dira/app/progress_line.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/run_limits.hpp"
#include "dira/app/session.hpp"
#include "dira/hal/device.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

namespace dira::cli {

namespace {
std::atomic<bool> g_interrupt{false};
extern "C" void on_signal(int) {
  g_interrupt.store(true);
}

struct RunArgs {
  std::string config, out, config_dir;
  std::optional<double> max_trials;
  std::optional<double> duration;
  bool json = false;
};

// Columns available for the status line: the terminal's width when stderr is one (ioctl),
// else $COLUMNS, else 80 — and never more than the terminal has.
std::size_t terminal_columns() {
  winsize w{};
  if (isatty(STDERR_FILENO) && ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long v = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && v >= 20 && v <= 1000) return static_cast<std::size_t>(v);
  }
  return 80;
}

int run(const RunArgs& a) {
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(a.config, a.config_dir);
  } catch (const app::ConfigError& e) {
    return report_error("dira run", std::string("invalid experiment file:\n") + e.what(), a.json);
  }
  const app::RunLimitsCheck limits = app::check_run_limits(cfg, {a.max_trials, a.duration});
  if (!limits.error.empty()) return report_error("dira run", limits.error, a.json);
  if (!limits.warning.empty()) std::cerr << "dira run: note: " << limits.warning << "\n";
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  app::RunOptions o;
  o.out = a.out;
  o.max_trials = limits.max_trials;
  o.duration_s = limits.duration_s;
  o.interrupt = &g_interrupt;
  const bool tty = isatty(STDERR_FILENO);
  o.warning = [tty](const std::string& w) {
    std::cerr << (tty ? "\r\033[K" : "") << "dira run: warning: " << w << "\n";
  };
  // A TTY gets one line rewritten in place, fitted to its width; anything else (a log file, a
  // pipe) gets plain lines.
  const std::size_t columns = terminal_columns();
  o.progress = [tty, columns](const app::Progress& p) {
    const std::string line = app::progress_line(p, columns);
    if (tty)
      std::cerr << "\r\033[K" << line << std::flush;
    else
      std::cerr << line << "\n";
  };
  app::RunResult r;
  try {
    r = app::run_experiment(cfg, o);
  } catch (const app::ConfigError& e) {
    if (tty) std::cerr << "\n";
    return report_error("dira run", e.what(), a.json);
  } catch (const app::RunFileError& e) {
    if (tty) std::cerr << "\n";
    return report_error("dira run", e.what(), a.json);
  } catch (const std::invalid_argument& e) {
    if (tty) std::cerr << "\n";
    return report_error("dira run", std::string("invalid setting: ") + e.what(), a.json);
  } catch (const hal::HardwareFault& e) {
    if (tty) std::cerr << "\n";
    return report_error("dira run", std::string("hardware fault before acquisition: ") + e.what(), a.json,
                        hardware_fault);
  }
  if (tty) std::cerr << "\n";
  if (a.json) {
    std::cout << r.report.dump(2) << "\n";
  } else {
    namespace lu = app::lab_units;
    const auto recorded = r.report.value("trials_recorded", std::uint64_t{0});
    std::cout << "run " << r.state << ", decision " << r.decision << " ("
              << lu::count(static_cast<double>(recorded), "trial") << " recorded); run directory "
              << r.directory.string() << "\n";
    if (r.decision == "incomplete")
      std::cout << "  " << r.report.value("decision_note", std::string("incomplete: certifies nothing")) << "\n";
    if (r.report.contains("analysis")) {
      const auto& an = r.report["analysis"];
      for (const auto& reason : an.value("reasons", nlohmann::json::array()))
        std::cout << "  - " << reason.get<std::string>() << "\n";
      if (an.contains("certification")) std::cout << "  " << an["certification"].get<std::string>() << "\n";
    }
    if (r.report.contains("fault")) std::cout << "  fault: " << r.report["fault"].get<std::string>() << "\n";
    std::cout << "  certified: " << lu::count(r.report.value("certified_bits", 0.0), "bit") << "\n";
    // The protocol's paper, once: authors, title, arXiv (report.json `reference`).
    if (const auto& ref = r.report.value("reference", nlohmann::json::object()); ref.contains("paper"))
      std::cout << "  protocol: " << ref.value("cited_as", "") << " = " << ref["paper"].get<std::string>()
                << ", arXiv:" << ref.value("arxiv", "") << "\n";
    if (r.report.contains("what_would_certify"))
      std::cout << "  what would certify (dira plan): " << r.report["what_would_certify"].value("verdict", "") << "\n";
  }
  return r.exit_code;
}

struct AnalyzeArgs {
  std::string dir, experiment, out, config_dir;
  std::vector<std::string> stations;
  bool json = false;
};

// `dira analyze [RUN_DIR] --stations FILE...|DIR`: the run rebuilt from the stations' local
// records after a coordinator crash (docs/stations.md, "Rebuilding a run"). The experiment is
// the crashed run's config.yaml (or --experiment); the session runs on the `station_records`
// tagger, which merges the records exactly as the coordinator merges the live streams, and
// the scheduler draws the settings from the experiment's weak source as the coordinator did
// (the setting echo, where the layout has one, checks every trial's setting against what the
// station applied). The result is an ordinary run directory, then re-decided like
// `dira analyze RUN_DIR`.
int rebuild_from_stations(const AnalyzeArgs& a) {
  namespace fs = std::filesystem;
  const char* cmd = "dira analyze";
  fs::path exp = a.experiment;
  if (exp.empty() && !a.dir.empty()) exp = fs::path(a.dir) / "config.yaml";
  if (exp.empty())
    return report_error(cmd,
                        "--stations needs the experiment: the crashed run's directory (dira analyze RUN_DIR --stations "
                        "…, its config.yaml) or --experiment FILE",
                        a.json);
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(exp, a.config_dir);
  } catch (const app::ConfigError& e) {
    return report_error(cmd, std::string("invalid experiment file:\n") + e.what(), a.json);
  }
  if (!cfg.stations.present)
    return report_error(cmd, exp.string() + " has no stations: section: which record is which station is unknown",
                        a.json);
  std::vector<std::string> files;
  std::error_code ec;
  if (a.stations.size() == 1 && fs::is_directory(a.stations[0], ec)) {
    // A directory: each member's record is NAME.tags in it (the shipped station files' `record:`).
    for (const auto& m : cfg.stations.members) {
      const fs::path f = fs::path(a.stations[0]) / (m.name + ".tags");
      if (!fs::is_regular_file(f, ec))
        return report_error(cmd, "no record of station " + m.name + ": " + f.string() + " is missing", a.json);
      files.push_back(f.string());
    }
  } else {
    if (a.stations.size() != cfg.stations.members.size())
      return report_error(cmd,
                          "--stations: " + std::to_string(a.stations.size()) + " records for the experiment's " +
                              std::to_string(cfg.stations.members.size()) +
                              " stations (give one per station, in the order of stations.members, or a directory)",
                          a.json);
    for (const auto& f : a.stations) {
      if (!fs::is_regular_file(f, ec)) return report_error(cmd, "--stations: " + f + " is not a file", a.json);
      if (f.find(',') != std::string::npos) return report_error(cmd, "--stations: " + f + ": a ',' in a path", a.json);
      files.push_back(f);
    }
  }
  std::string list;
  for (const auto& f : files) list += (list.empty() ? "" : ",") + f;
  cfg.devices.tagger = app::DeviceConfig{"station_records",
                                         {{"files", list},
                                          {"sync_channel", std::int64_t{cfg.stations.sync_channel}},
                                          {"channel_stride", std::int64_t{app::StationsConfig::channel_stride}}}};
  cfg.devices.modulators.clear();  // the stations applied the settings; the records hold what they measured
  app::RunOptions o;
  o.out = a.out;
  app::RunResult r;
  try {
    r = app::run_experiment(cfg, o);
  } catch (const app::ConfigError& e) {
    return report_error(cmd, e.what(), a.json);
  } catch (const app::RunFileError& e) {
    return report_error(cmd, e.what(), a.json, failure);
  } catch (const std::invalid_argument& e) {
    return report_error(cmd, e.what(), a.json);
  } catch (const hal::HardwareFault& e) {
    return report_error(cmd, std::string("the records cannot be merged: ") + e.what(), a.json, hardware_fault);
  }
  nlohmann::json out = r.report;
  out["rebuilt_from_stations"] = files;
  out["experiment_file"] = exp.string();
  // Decided again from the rebuilt run directory, as `dira analyze RUN_DIR` decides any run.
  try {
    const nlohmann::json again = app::analyze_run_directory(r.directory);
    out["analyze"] = {{"decision", again.value("decision", "")},
                      {"reproduces_live_decision", again.value("reproduces_live_decision", false)}};
  } catch (const std::exception& e) {
    out["analyze"] = {{"error", e.what()}};
  }
  if (a.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "rebuilt from " << files.size() << " station records: run " << r.state << ", decision " << r.decision
              << " (" << app::lab_units::count(out.value("trials_recorded", 0.0), "trial")
              << " recorded); run directory " << r.directory.string() << "\n";
    if (out.contains("fault")) std::cout << "  fault: " << out["fault"].get<std::string>() << "\n";
    if (out["analyze"].contains("decision"))
      std::cout << "  dira analyze of it: " << out["analyze"]["decision"].get<std::string>() << "\n";
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
  c->add_option("--max-trials", a->max_trials,
                "Stop after N trials (≤ the protocol's n; below n the run ends incomplete and certifies nothing)");
  c->add_option("--duration", a->duration, "Stop after SECONDS (a run stopped before n trials is incomplete)");
  c->add_flag("--json", a->json, "Print the final report as JSON");
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");

  auto aa = std::make_shared<AnalyzeArgs>();
  auto* an = app.add_subcommand(
      "analyze",
      "Re-run the protocol from a run directory; reproduces the decision and output hash. With --stations: rebuild "
      "the run from the stations' records after a coordinator crash");
  an->add_option("run_dir", aa->dir,
                 "Run directory written by dira run (with --stations: the crashed run's, for its "
                 "config.yaml; give it before --stations)");
  an->add_option("--stations", aa->stations,
                 "The stations' records (dira station's record: files) in station order, or a directory holding "
                 "NAME.tags per station: rebuild the run from them (docs/stations.md)");
  an->add_option("--experiment", aa->experiment,
                 "With --stations: the coordinator's experiment file (default: RUN_DIR/config.yaml)");
  an->add_option("--out", aa->out,
                 "With --stations: parent directory of the rebuilt run directory (default: "
                 "outputs.directory)");
  an->add_option("--config-dir", aa->config_dir, "Directory holding inequalities/");
  an->add_flag("--json", aa->json, "JSON output");
  return [=]() -> int {
    if (*c) return run(*a);
    if (!*an) return -1;
    if (!aa->stations.empty()) return rebuild_from_stations(*aa);
    if (aa->dir.empty()) return report_error("dira analyze", "give a run directory (or --stations …)", aa->json);
    const std::string* dir = &aa->dir;
    const bool* json = &aa->json;
    nlohmann::json r;
    try {
      r = app::analyze_run_directory(*dir);
    } catch (const std::exception& e) {
      return report_error("dira analyze", e.what(), *json);
    }
    if (*json) {
      std::cout << r.dump(2) << "\n";
    } else {
      std::cout << "decision " << r["decision"].get<std::string>() << " over "
                << app::lab_units::count(r.value("trials_recorded", 0.0), "trial")
                << "; live run: " << r.value("live_state", "") << "\n";
      if (r["decision"] == "incomplete")
        std::cout << "  incomplete: fewer trials than the protocol's n; the statistics over them say "
                  << r.value("decision_over_recorded_trials", "") << "\n";
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
    return d == "accept" ? ok : d == "abort" ? protocol_abort : d == "incomplete" ? incomplete_run : usage_error;
  };
}

}  // namespace dira::cli
