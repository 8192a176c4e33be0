// `dira simulate-trials`: the trials of an experiment as CSV (and the weak-source bits that
// follow the settings), for `dira analyze-trials`. It acquires them the way `dira run` does
// (issue 10, item 4): devices opened through the driver registry (the simulator bound through
// hal::SimulatedApparatus like any apparatus), settings drawn through one BitLedger over the
// experiment's weak source with the protocol's setting rule and pushed ahead by a
// SettingScheduler, trials assembled from the tag stream by a TrialAssembler, in acquire()'s
// loop. So for the same experiment and --trials / --max-trials, the CSV holds exactly the trials
// `dira run` records in run.h5.
#include "commands.hpp"

#include "../src/acquisition.hpp"
#include "../src/device_set.hpp"
#include "../src/setting_rule.hpp"

#include "dira/app/devices.hpp"
#include "dira/app/experiment.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

namespace dira::cli {

namespace {

constexpr int kHardwareFault = 4;  // as `dira run`

struct Args {
  std::string config, out, sv_bits_out, box = "quantum", config_dir;
  double visibility = 1;
  std::uint64_t trials = 0, seed = 7, extra_bytes = 4096;
  // Options that override the simulator's settings only when given.
  CLI::Option *box_opt = nullptr, *visibility_opt = nullptr, *seed_opt = nullptr;
};

/// --box, --visibility and --seed are the simulator's settings `source`, `visibility` and
/// `seed` (docs/simulator.md); not given, the experiment's own settings stand.
bool apply_simulator_options(const Args& a, app::ExperimentConfig& cfg) {
  const bool box = a.box_opt && a.box_opt->count() > 0;
  const bool vis = a.visibility_opt && a.visibility_opt->count() > 0;
  const bool seed = a.seed_opt && a.seed_opt->count() > 0;
  if ((box || vis || seed) && !cfg.simulator.present) {
    std::cerr << "dira simulate-trials: --box, --visibility and --seed set the simulator's settings; " << cfg.file
              << " has no simulator: section\n";
    return false;
  }
  auto& s = cfg.simulator.settings;
  if (box) {
    if (a.box != "quantum" && a.box != "local") {
      std::cerr << "dira simulate-trials: --box must be quantum or local\n";
      return false;
    }
    s["source"] = a.box;
  }
  if (vis) {
    if (!(a.visibility >= 0 && a.visibility <= 1)) {
      std::cerr << "dira simulate-trials: --visibility must be in [0, 1]\n";
      return false;
    }
    s["visibility"] = a.visibility;
  }
  if (seed) s["seed"] = static_cast<std::int64_t>(a.seed);
  return true;
}

int run(const Args& a) {
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(a.config, a.config_dir);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira simulate-trials: invalid experiment file:\n" << e.what() << "\n";
    return usage_error;
  }
  if (!apply_simulator_options(a, cfg)) return usage_error;
  const auto& sc = cfg.inequality.expression.scenario();
  const std::uint64_t planned = app::planned_trials(cfg, a.trials);

  // The devices of the experiment, exactly as `dira run` opens them (nothing is written first).
  app::DeviceSet devices;
  try {
    devices = app::open_devices(cfg, app::driver_registry(), planned);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira simulate-trials: invalid experiment file:\n" << e.what() << "\n";
    return usage_error;
  }

  // One ledger over the weak source; the scheduler draws each trial's settings with the
  // protocol's rule and pushes them to the modulators ahead of the trials. With
  // hardware-chosen settings the echo carries them, and the ledger records them as observed.
  protocol::BitLedger ledger(*devices.weak_source);
  const bool hardware_chosen = cfg.devices.present && cfg.devices.hardware_chosen_settings;
  hal::SchedulerConfig sched;
  sched.planned = planned;
  sched.lookahead = cfg.devices.scheduler.lookahead;
  sched.batch = cfg.devices.scheduler.batch;
  sched.segment_trials = cfg.devices.scheduler.segment_trials;
  std::optional<hal::SettingScheduler> scheduler;
  if (!hardware_chosen) try {
      scheduler.emplace(app::setting_rule(cfg, ledger), devices.modulators, sched);
    } catch (const std::invalid_argument& e) {
      std::cerr << "dira simulate-trials: devices.modulators: " << e.what() << "\n";
      return usage_error;
    }
  hal::TrialAssemblyConfig layout = devices.layout;
  if (hardware_chosen) layout.settings_from_echo = true;
  hal::TrialAssembler assembler(layout, scheduler ? &*scheduler : nullptr);

  std::ofstream csv(a.out);
  if (!csv) {
    std::cerr << "dira simulate-trials: cannot write " << a.out << "\n";
    return failure;
  }
  csv << "trial";
  for (int p = 0; p < sc.parties(); ++p) csv << ",u" << p;
  for (int p = 0; p < sc.parties(); ++p) csv << ",x" << p;
  if (cfg.protocol == 'A') csv << ",device";
  csv << "\n";

  std::uint64_t written = 0;
  std::string line;
  auto consume = [&](const app::AcquiredBlock& b) -> std::optional<app::RunStatus> {
    if (hardware_chosen)  // one bit per party and trial, as the session records them
      for (const auto& t : b.trials) ledger.observe(static_cast<std::uint64_t>(sc.parties()), t.index);
    std::ostringstream os;
    for (const auto& t : b.trials) {
      os << t.index;
      for (int p = 0; p < sc.parties(); ++p) os << ',' << int(t.u[static_cast<std::size_t>(p)]);
      for (int p = 0; p < sc.parties(); ++p) os << ',' << int(t.x[static_cast<std::size_t>(p)]);
      if (cfg.protocol == 'A') os << ',' << t.device;
      os << '\n';
    }
    csv << os.str();
    written += b.trials.size();
    if (!csv) return app::RunStatus::storage_error;
    return std::nullopt;
  };
  app::AcquisitionControl ctl;
  ctl.planned = planned;
  ctl.duration_s = cfg.stop.duration_s;
  if (hardware_chosen) ctl.label = app::device_labels(cfg);
  app::AcquisitionResult acq;
  try {
    acq = app::acquire(*devices.tagger, devices.station, assembler, scheduler ? &*scheduler : nullptr, ledger, ctl,
                       consume, [](bool) {});
  } catch (const std::exception& e) {
    std::cerr << "dira simulate-trials: " << e.what() << "\n";
    return failure;
  }
  csv.flush();
  if (acq.status == app::RunStatus::storage_error || !csv) {
    std::cerr << "dira simulate-trials: cannot write " << a.out << "\n";
    return failure;
  }
  if (acq.status == app::RunStatus::hardware_fault || acq.status == app::RunStatus::source_exhausted) {
    std::cerr << "dira simulate-trials: " << acq.fault << " (" << written << " trials written)\n";
    // A weak source too short for the settings is a data error, as before the pipeline.
    return acq.status == app::RunStatus::source_exhausted ? usage_error : kHardwareFault;
  }

  if (!a.sv_bits_out.empty()) {
    // The continuation of the same weak-source stream: the bits after every setting bit the
    // scheduler drew (what `dira run` keeps in sv_bits.bin). They are not consumed here: the
    // reader (analyze-trials) draws them through its own ledger, for box choice or extraction.
    // Secret bits (box choice, extractor): readable by the owner only whatever the umask, and
    // never written through a symlink planted at the path (issue 12).
    std::string bits;
    std::uint64_t b = 0;
    try {
      for (; b < a.extra_bytes; ++b) {
        std::uint8_t byte = 0;
        for (int k = 0; k < 8; ++k)
          byte = static_cast<std::uint8_t>((byte << 1) | (devices.weak_source->next_bit() ? 1 : 0));
        bits.push_back(static_cast<char>(byte));
      }
    } catch (const protocol::SourceExhausted& e) {
      std::cerr << "dira simulate-trials: warning: " << e.what() << ": " << b << " of " << a.extra_bytes
                << " bytes written to " << a.sv_bits_out << "\n";
    }
    const int fd = ::open(a.sv_bits_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool written_ok = fd >= 0 && ::fchmod(fd, 0600) == 0;
    for (std::size_t at = 0; written_ok && at < bits.size();) {
      const ssize_t w = ::write(fd, bits.data() + at, bits.size() - at);
      if (w < 0 && errno == EINTR) continue;
      written_ok = w > 0;
      if (written_ok) at += static_cast<std::size_t>(w);
    }
    if (fd >= 0 && ::close(fd) != 0) written_ok = false;
    if (!written_ok) {
      std::cerr << "dira simulate-trials: cannot write " << a.sv_bits_out << ": " << std::strerror(errno)
                << (errno == ELOOP ? " (a symlink: secret bits are never written through one)" : "") << "\n";
      return failure;
    }
  }
  std::cerr << "simulate-trials: " << written << " trials from " << devices.tagger->identity() << ", "
            << (hardware_chosen ? ledger.bits_observed() : ledger.bits_drawn()) << " setting bits "
            << (hardware_chosen ? "observed on the setting echo" : "from " + devices.weak_source->describe()) << "\n";
  return ok;
}
}  // namespace

std::function<int()> register_simulate_trials_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("simulate-trials",
                               "Trials of an experiment (CSV) and the weak-source bits after the settings, acquired as "
                               "`dira run` acquires them");
  c->add_option("--config", a->config, "Experiment YAML")->required();
  c->add_option("--out", a->out, "CSV file to write")->required();
  c->add_option("--sv-bits-out", a->sv_bits_out,
                "Write the weak-source bits that follow the settings (box choice, extractor)");
  a->box_opt = c->add_option("--box", a->box,
                             "Simulator source: quantum (the inequality's realisation) or local (best deterministic "
                             "strategy); default: the experiment's simulator.source");
  a->visibility_opt =
      c->add_option("--visibility", a->visibility,
                    "Simulator visibility (white noise); default: the experiment's simulator.visibility");
  c->add_option("--trials,--max-trials", a->trials,
                "At most this many trials (as `dira run --max-trials`; default: the protocol's own size)");
  a->seed_opt = c->add_option("--seed", a->seed, "Simulator seed; default: the experiment's simulator.seed");
  c->add_option("--sv-bytes", a->extra_bytes, "Bytes of weak-source bits to write")->capture_default_str();
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
