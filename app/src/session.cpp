#include "dira/app/session.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/devices.hpp"
#include "dira/app/run_file.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/settings_rule.hpp"
#include "dira/protocol/trial_index.hpp"
#include "dira/sim/physical.hpp"
#include "dira/sim/sv_sources.hpp"

#include "sha256.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <ctime>
#include <deque>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#ifndef DIRA_VERSION
#define DIRA_VERSION "0.1.0"
#endif

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

namespace {

/// Hands out the wrapped source's bits and, once `record` is on, keeps a copy: the bits
/// after the settings (box choice, extractor) go to sv_bits.bin so `dira analyze` can replay.
class RecordingSource final : public P::SvSource {
 public:
  explicit RecordingSource(P::SvSource& inner) : inner_(&inner) {}
  bool next_bit() override {
    const bool b = inner_->next_bit();
    if (record_) bits_.push_back(b);
    return b;
  }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    const std::uint64_t v = inner_->next_bits(count, taken);
    if (record_)
      for (unsigned i = count; i-- > 0;) bits_.push_back((v >> i) & 1u);
    return v;
  }
  std::optional<double> declared_epsilon() const override { return inner_->declared_epsilon(); }
  std::string describe() const override { return inner_->describe(); }
  void start_recording() { record_ = true; }
  const std::vector<bool>& recorded() const { return bits_; }

 private:
  P::SvSource* inner_;
  bool record_ = false;
  std::vector<bool> bits_;
};

std::unique_ptr<P::SvSource> make_source(const ExperimentConfig& c) {
  const double eps = c.protocol == 'A' ? c.a.epsilon : c.b.epsilon;
  const auto& w = c.weak_source;
  if (w.kind == "adversarial") {
    if (w.avoid_setting.empty())
      throw ConfigError(
          {ConfigIssue{c.file, 0, 0, "weak_source.avoid_setting", "an adversarial source needs the setting to avoid"}});
    const unsigned bits = c.protocol == 'A' ? 1 : 4;  // A: one bit per party; B: 4-bit attempts
    return std::make_unique<sim::AdversarialSvSource>(
        eps, sim::AdversarialSvSource::steer(bits, static_cast<std::uint64_t>(w.avoid_setting[0]), true),
        "avoid setting " + std::to_string(w.avoid_setting[0]), w.seed);
  }
  if (w.kind == "file") {
    std::ifstream in(w.path, std::ios::binary);
    if (!in) throw ConfigError({ConfigIssue{c.file, 0, 0, "weak_source.path", "cannot read " + w.path}});
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::make_unique<P::BufferSvSource>(P::BufferSvSource::from_bytes(bytes, "file " + w.path, eps));
  }
  return std::make_unique<sim::IidSvSource>(w.bias, w.seed);
}

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y%m%dT%H%M%SZ");
  return os.str();
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_private(const std::filesystem::path& p, const std::string& bytes) {
  const mode_t old = umask(077);
  std::ofstream f(p, std::ios::binary);
  umask(old);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string pack_bits(const std::vector<bool>& bits) {
  std::string s((bits.size() + 7) / 8, '\0');
  for (std::size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) s[i / 8] = static_cast<char>(static_cast<unsigned char>(s[i / 8]) | (0x80u >> (i % 8)));
  return s;
}

/// HDF5 marks a file open for SWMR writing in its superblock; after a kill -9 that flag
/// stays and standard tools (h5dump, HDFView, h5py without swmr=True) refuse the file until
/// `h5clear -s` clears it. This watchdog is a shell started before run.h5 is opened, in its
/// own session (so a Ctrl-C to the terminal's process group does not reach it), reading a
/// pipe whose only writer is this process: if the pipe reaches end-of-file while the run is
/// still open, dira died, and the watchdog runs the standard `h5clear -s` on run.h5. On a
/// clean close dira kills the watchdog first. Power loss or killing the watchdog too still
/// needs `h5clear -s` by hand (docs/run-file.md).
class CrashFlagWatchdog {
 public:
  CrashFlagWatchdog(const std::filesystem::path& h5, const std::filesystem::path& log) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    const std::string script =
        "read -r _; sleep 0.3; command -v h5clear >/dev/null || exit 0; "
        "h5clear -s \"$1\" && echo \"watchdog: dira ended without closing $1; h5clear -s applied\"";
    const std::string file = h5.string();
    const char* argv[] = {"sh", "-c", script.c_str(), "dira-watchdog", file.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), ::environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(fds[0]);
    if (pid_ > 0)
      write_end_ = fds[1];
    else
      ::close(fds[1]);
  }
  ~CrashFlagWatchdog() { disarm(); }
  CrashFlagWatchdog(const CrashFlagWatchdog&) = delete;
  CrashFlagWatchdog& operator=(const CrashFlagWatchdog&) = delete;
  bool armed() const { return pid_ > 0; }
  /// The file could not be closed: let the watchdog act now (h5clear -s) and wait for it.
  void fire() {
    if (pid_ <= 0) return;
    ::close(write_end_);
    write_end_ = -1;
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  /// The file is closed cleanly: stop the watchdog without letting it act.
  void disarm() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    ::close(write_end_);
    write_end_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int write_end_ = -1;
};

/// Bytes run.h5 can still grow by: free space in `dir` for this user, and the file-size limit
/// (ulimit -f) less the file's size. 1e300 when neither can be read.
double room_for_run_file(const std::filesystem::path& dir, const std::filesystem::path& file) {
  double room = 1e300;
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) room = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    room = std::min(room, static_cast<double>(rl.rlim_cur) - static_cast<double>(ec ? 0 : size));
  }
  return room;
}

/// The settings of every trial, drawn from the ledger in trial order and kept in a ring
/// while the simulator and the assembler (which ask in increasing order, the assembler
/// behind) need them. Draws run ahead in small batches, never past the planned trial count,
/// so the bits the ledger accounts to settings are those of trials the run can perform.
class SettingCache {
 public:
  SettingCache(std::function<void(std::uint64_t, P::Trial&)> draw, std::size_t keep, std::uint64_t limit)
      : draw_(std::move(draw)), limit_(limit) {
    std::size_t cap = 1024;
    while (cap < keep + kBatch) cap *= 2;
    ring_.resize(cap);
    mask_ = cap - 1;
  }
  /// Called with each batch of trials as soon as their settings are drawn (modulators).
  void on_drawn(std::function<void(std::uint64_t, std::span<const P::Trial>)> f) { on_drawn_ = std::move(f); }
  const P::Trial& operator()(std::uint64_t i) {
    if (i >= end_) fill(i);
    if (end_ > i + ring_.size())
      throw std::logic_error("setting schedule: trial " + std::to_string(i) + " no longer cached");
    return ring_[static_cast<std::size_t>(i) & mask_];
  }

 private:
  static constexpr std::size_t kBatch = 256;
  void fill(std::uint64_t i) {
    std::uint64_t to = std::max<std::uint64_t>(i + 1, std::min<std::uint64_t>(end_ + kBatch, limit_));
    const std::uint64_t first = end_;
    if (on_drawn_) drawn_.clear();
    for (; end_ < to; ++end_) {
      P::Trial& t = ring_[static_cast<std::size_t>(end_) & mask_];
      t = P::Trial{};
      draw_(end_, t);
      if (on_drawn_) drawn_.push_back(t);
    }
    if (on_drawn_) on_drawn_(first, drawn_);
  }
  std::function<void(std::uint64_t, std::span<const P::Trial>)> on_drawn_;
  std::vector<P::Trial> drawn_;
  std::function<void(std::uint64_t, P::Trial&)> draw_;
  std::uint64_t limit_;
  std::vector<P::Trial> ring_;
  std::size_t mask_ = 0;
  std::uint64_t end_ = 0;  // trials [0, end_) drawn
};

}  // namespace

std::pair<double, double> setting_probability_band(const ExperimentConfig& c) {
  const auto& sc = c.inequality.expression.scenario();
  double lo = 1, hi = 1;
  const double eps = c.protocol == 'A' ? c.a.epsilon : c.b.epsilon;
  for (int p = 0; p < sc.parties(); ++p) {
    if (c.protocol == 'A') {  // one SV bit per party (seed 000 Fig. 2 step 1)
      lo *= 0.5 - eps;
      hi *= 0.5 + eps;
    } else {
      const auto nb = P::rejection_sampling_bounds(eps, sc.settings(p));
      lo *= nb.nu_min_all;
      hi *= nb.nu_max_all;
    }
  }
  return {lo, hi};
}

RunResult run_experiment(const ExperimentConfig& c, const RunOptions& o) {
  RunResult res;
  if (!c.simulator.present && !c.devices.present)
    throw ConfigError({ConfigIssue{
        c.file, 0, 0, "simulator",
        "nothing to drive: add a simulator: section (driver sim) or a devices: section (docs/experiment-yaml.md)"}});
  const auto t_start = std::chrono::steady_clock::now();
  // Devices are opened before the run directory exists, so a refusal leaves nothing behind.
  // Modulators (devices.modulators, one per party) get each batch of settings as soon as it
  // is drawn, ahead of the trials that use them.
  std::vector<std::unique_ptr<hal::Modulator>> modulators;
  for (std::size_t p = 0; p < c.devices.modulators.size(); ++p) {
    const auto& d = c.devices.modulators[p];
    const auto* info = driver_registry().find(d.driver, hal::DeviceKind::modulator);
    if (!info) throw ConfigError({ConfigIssue{c.file, 0, 0, "devices.modulators", "no modulator driver " + d.driver}});
    std::unique_ptr<hal::Device> dev;
    try {
      dev = info->create(d.settings);
    } catch (const std::exception& e) {
      throw hal::HardwareFault("modulator of party " + std::to_string(p) + " (" + d.driver + "): " + e.what());
    }
    auto* m = dynamic_cast<hal::Modulator*>(dev.get());
    if (!m) throw ConfigError({ConfigIssue{c.file, 0, 0, "devices.modulators", d.driver + " is not a modulator"}});
    for (const auto& cap : m->capabilities())
      if (cap.key == "settings") {
        const auto v = m->get("settings");
        if (const auto* n = std::get_if<std::int64_t>(&v);
            n && *n < c.inequality.expression.scenario().settings(static_cast<int>(p)))
          throw ConfigError({ConfigIssue{
              c.file, 0, 0, "devices.modulators[" + std::to_string(p) + "]",
              "its profile maps " + std::to_string(*n) + " settings, party " + std::to_string(p) + " needs " +
                  std::to_string(c.inequality.expression.scenario().settings(static_cast<int>(p)))}});
      }
    dev.release();
    modulators.emplace_back(m);
  }

  // --- run directory (errors before any device opens)
  std::filesystem::path parent = o.out.empty() ? std::filesystem::path(c.outputs.directory) : o.out;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw RunFileError("cannot create output directory " + parent.string() + ": " + ec.message());
  std::filesystem::path dir = parent / ((c.name.empty() ? "run" : c.name) + "-" + utc_stamp());
  for (int k = 2; std::filesystem::exists(dir); ++k)
    dir = parent / ((c.name.empty() ? "run" : c.name) + "-" + utc_stamp() + "-" + std::to_string(k));
  if (!std::filesystem::create_directory(dir, ec) || ec)
    throw RunFileError("cannot create run directory " + dir.string() + " (not writable?)");
  res.directory = dir;
  if (o.on_directory) o.on_directory(dir);
  std::ofstream log(dir / "dira.log");
  if (!log) throw RunFileError("cannot write " + (dir / "dira.log").string());
  auto say = [&](const std::string& s) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    log << std::fixed << std::setprecision(3) << t << " " << s << std::endl;
  };
  {
    std::ofstream cy(dir / "config.yaml");
    cy << c.text;
  }

  // --- weak source, ledger, schedule
  auto inner = make_source(c);
  RecordingSource source(*inner);
  // Setting bits come straight from the source (nothing records them: `dira analyze` reads
  // the settings from run.h5); the bits after them go through `source`, which keeps a copy.
  P::BitLedger ledger(*inner);
  const auto& sc = c.inequality.expression.scenario();
  std::uint64_t planned = 0;
  auto settings = c.simulator.settings;
  if (c.protocol == 'A') {
    if (c.uses_per_device.empty())
      throw ConfigError(
          {ConfigIssue{c.file, 0, 0, "protocol.uses_per_device", "needed for a simulated Protocol A run"}});
    for (auto m : c.uses_per_device) {
      if (m != c.uses_per_device[0])
        throw ConfigError({ConfigIssue{c.file, 0, 0, "protocol.uses_per_device",
                                       "the simulator assigns equal blocks: give one number"}});
      planned += m;
    }
    settings["logical_devices"] = static_cast<std::int64_t>(c.a.devices);
    settings["device_assignment"] = std::string("blocks");
    settings["device_block_trials"] = static_cast<std::int64_t>(c.uses_per_device[0]);
  } else {
    planned = c.b.trials;
  }
  if (const auto m = o.max_trials ? o.max_trials : c.stop.max_trials; m && m < planned) planned = m;
  settings["trials"] = static_cast<std::int64_t>(planned);
  const double duration = o.duration_s > 0 ? o.duration_s : c.stop.duration_s;

  std::function<void(std::uint64_t, P::Trial&)> draw;
  if (c.protocol == 'A')
    draw = [&](std::uint64_t i, P::Trial& t) { P::draw_setting_guehne(ledger, i, t); };
  else
    draw = [&, parties = sc.parties(), s0 = sc.settings(0)](std::uint64_t i, P::Trial& t) {
      P::draw_setting_rejection(ledger, i, parties, s0, t);
    };
  const auto phys = sim::PhysicalSettings::from(settings);
  auto cache = std::make_shared<SettingCache>(draw, static_cast<std::size_t>(8 * phys.block_trials + 1024), planned);
  if (!modulators.empty())
    cache->on_drawn([&modulators](std::uint64_t first, std::span<const P::Trial> batch) {
      std::vector<std::uint8_t> party_settings(batch.size());
      for (std::size_t p = 0; p < modulators.size(); ++p) {
        for (std::size_t i = 0; i < batch.size(); ++i) party_settings[i] = batch[i].u[p];
        modulators[p]->schedule(first, party_settings);
      }
    });
  sim::SettingSchedule schedule = sim::with_logical_devices([cache](std::uint64_t i) { return (*cache)(i); }, phys);

  // The tagger: driver `sim` bound to this run's inequality and schedule, or any tagger driver
  // with the channel layout the experiment file gives (devices.layout).
  std::unique_ptr<hal::TimeTagger> tagger_owned;
  hal::TrialAssemblyConfig tagger_layout;
  int station = 0;
  if (c.simulator.present) {
    auto simulator = std::make_unique<sim::PhysicalSimulator>(settings, c.inequality, schedule);
    tagger_layout = simulator->layout();
    station = phys.station;
    tagger_owned = std::move(simulator);
  } else {
    const auto* info = driver_registry().find(c.devices.tagger.driver, hal::DeviceKind::time_tagger);
    if (!info)
      throw ConfigError(
          {ConfigIssue{c.file, 0, 0, "devices.tagger.driver", "no time tagger driver " + c.devices.tagger.driver}});
    std::unique_ptr<hal::Device> dev;
    try {
      dev = info->create(c.devices.tagger.settings);
    } catch (const std::exception& e) {
      throw ConfigError({ConfigIssue{c.file, 0, 0, "devices.tagger", c.devices.tagger.driver + ": " + e.what()}});
    }
    auto* t = dynamic_cast<hal::TimeTagger*>(dev.get());
    if (!t)
      throw ConfigError(
          {ConfigIssue{c.file, 0, 0, "devices.tagger", c.devices.tagger.driver + " is not a time tagger"}});
    dev.release();
    tagger_owned.reset(t);
    tagger_layout = c.devices.layout;
  }
  hal::TimeTagger& tagger = *tagger_owned;
  hal::TrialAssembler assembler(tagger_layout, schedule);
  CrashFlagWatchdog watchdog(dir / "run.h5", dir / "dira.log");
  // Storage: a run that cannot start is refused before acquisition; one that may not fit is
  // warned about, and stops cleanly (status storage-full) before the disk or the file-size
  // limit is reached. Exceeding a file-size limit (ulimit -f) must be a write error, not
  // SIGXFSZ killing the process before the data are flushed.
  ::signal(SIGXFSZ, SIG_IGN);
  const auto run_h5_path = dir / "run.h5";
  // run.h5 rows per trial; with raw tags also the tags (a sync and up to 3 clicks per party).
  const double bytes_per_trial = 32.0 + (c.outputs.raw_tags ? 16.0 * (3 * sc.parties() + 1) : 0.0);
  std::string storage_warning;
  {
    const double need = static_cast<double>(planned) * bytes_per_trial * 1.05 + 4e6;
    if (const double free_bytes = room_for_run_file(dir, run_h5_path); free_bytes < 1e300) {
      auto mb = [](double b) {
        std::ostringstream os;
        os << std::fixed << std::setprecision(1) << b / 1e6 << " MB";
        return os.str();
      };
      if (free_bytes < 16e6)
        throw RunFileError("only " + mb(free_bytes) + " free in " + parent.string() +
                           ": dira run needs at least 16 MB to start");
      if (free_bytes < need) {
        storage_warning = "the run may need " + mb(need) + " for " + std::to_string(planned) + " trials but only " +
                          mb(free_bytes) + " is free in " + parent.string() +
                          "; it will stop cleanly (status storage-full) before the disk is full";
        say("warning: " + storage_warning);
        if (o.warning) o.warning(storage_warning);
      }
    }
  }
  RunFileWriter recorder(dir / "run.h5", c.text,
                         json{{"software", std::string("dira ") + DIRA_VERSION},
                              {"tagger", tagger.identity()},
                              {"weak_source", source.describe()}}
                             .dump(),
                         c.outputs.raw_tags);
  say("run directory " + dir.string());
  say("tagger: " + tagger.identity());
  say("weak source: " + source.describe());

  std::unique_ptr<P::ProtocolB> pb;
  std::unique_ptr<P::ProtocolA> pa;
  if (c.protocol == 'B')
    pb = std::make_unique<P::ProtocolB>(c.inequality.expression, c.b);
  else
    pa = std::make_unique<P::ProtocolA>(c.inequality.expression, c.a);

  // --- live snapshot state for progress displays (GUI plots, terminal line)
  const P::TrialIndexer indexer(sc);
  std::vector<std::string> channel_names;
  std::vector<int> channel_of_slot;  // hardware channel per (party, outcome) slot
  const auto& layout = tagger_layout;
  for (std::size_t p = 0; p < layout.parties.size(); ++p)
    for (std::size_t k = 0; k < layout.parties[p].detector_channels.size(); ++k) {
      channel_names.push_back(std::string(1, static_cast<char>('A' + p)) + ":" + std::to_string(k) + " (ch " +
                              std::to_string(layout.parties[p].detector_channels[k]) + ")");
      channel_of_slot.push_back(layout.parties[p].detector_channels[k]);
    }
  channel_names.push_back("no click (party-trials)");
  std::vector<std::uint64_t> tags_by_channel(4096, 0);
  std::size_t joint_settings = 1;
  for (int p = 0; p < sc.parties(); ++p) joint_settings *= static_cast<std::size_t>(sc.settings(p));
  std::vector<std::uint64_t> setting_counts(joint_settings, 0);
  std::vector<std::string> setting_labels(joint_settings);
  for (std::size_t j = 0; j < joint_settings; ++j) {
    std::size_t r = j;
    std::string label;
    for (int p = sc.parties() - 1; p >= 0; --p) {  // TrialIndexer: party 0 is the most significant digit
      label.insert(0, (p > 0 ? "," : "") + std::to_string(r % static_cast<std::size_t>(sc.settings(p))));
      r /= static_cast<std::size_t>(sc.settings(p));
    }
    setting_labels[j] = label;
  }
  const auto [nu_lo, nu_hi] = setting_probability_band(c);
  const double progress_interval = o.progress_interval_s > 0 ? o.progress_interval_s : 1.0;
  auto last_progress = std::chrono::steady_clock::now();

  std::string status = "complete";
  std::string fault;
  std::uint64_t trials = 0;
  std::size_t ledger_written = 0;
  auto last_flush = std::chrono::steady_clock::now();
  std::vector<P::Trial> batch;
  auto report_progress = [&](const std::string& stage) {
    if (!o.progress) return;
    const auto now = std::chrono::steady_clock::now();
    last_progress = now;
    const P::LiveStatistics s = pb ? pb->live() : pa->live();
    const double el = std::chrono::duration<double>(now - t_start).count();
    Progress p;
    p.trials = trials;
    p.planned = planned;
    p.elapsed_s = el;
    p.rate = el > 0 ? static_cast<double>(trials) / el : 0;
    p.bell = s.bell_mean;
    p.bell_half_width = s.bell_half_width;
    p.bell_threshold = s.bell_threshold;
    p.ustar = s.ustar_mean;
    p.ustar_half_width = s.ustar_half_width;
    p.ustar_threshold = s.ustar_threshold;
    p.has_ustar = s.has_ustar;
    p.protocol_a = pa != nullptr;
    p.projected = P::to_string(s.projected);
    p.stage = stage;
    p.trials_in_test = s.trials_in_test;
    if (p.rate > 0 && planned > trials) p.eta_s = static_cast<double>(planned - trials) / p.rate;
    if (duration > 0) p.eta_s = p.eta_s < 0 ? duration - el : std::min(p.eta_s, duration - el);
    if (planned <= trials) p.eta_s = 0;
    p.channel_names = channel_names;
    p.channel_counts.reserve(channel_names.size());
    for (int ch : channel_of_slot)
      p.channel_counts.push_back(ch >= 0 && ch < 4096 ? tags_by_channel[static_cast<std::size_t>(ch)] : 0);
    p.channel_counts.push_back(assembler.counters().no_click);
    p.setting_labels = setting_labels;
    p.setting_counts = setting_counts;
    p.setting_probability_min = nu_lo;
    p.setting_probability_max = nu_hi;
    p.setting_probability_ideal = 1.0 / static_cast<double>(joint_settings);
    o.progress(p);
  };
  auto publish = [&](bool final_flush) {
    const auto now = std::chrono::steady_clock::now();
    if (!final_flush && now - last_progress >= std::chrono::duration<double>(progress_interval))
      report_progress("acquiring");
    if (!final_flush && now - last_flush < std::chrono::seconds(1)) return;
    last_flush = now;
    const auto& entries = ledger.entries();
    // Entries before the last are final; the last may still grow, so it is written now and
    // rewritten at the next flush (a crash keeps the ledger up to the last flush).
    if (entries.size() > ledger_written) {
      recorder.write_ledger_from(ledger_written, {entries.data() + ledger_written, entries.size() - ledger_written});
      ledger_written = entries.size() - 1;
    }
    const P::LiveStatistics s = pb ? pb->live() : pa->live();
    const double el = std::chrono::duration<double>(now - t_start).count();
    recorder.append_statistics({el, trials, s.bell_mean, s.bell_half_width, s.ustar_mean, s.ustar_half_width});
    recorder.flush();
  };

  // Headroom: stop cleanly, with run.h5 closed properly, before the disk (or the file-size
  // limit) is full, keeping room for two more checks' worth of data plus the final writes.
  std::uint64_t trials_at_last_check = 0;
  constexpr std::uint64_t kStorageCheckTrials = 1u << 16;

  bool stopping = false;
  try {
    tagger.start();
    for (;;) {
      if (!stopping && o.interrupt && o.interrupt->load()) {
        status = "interrupted";
        stopping = true;
        tagger.stop();
      }
      if (!stopping && duration > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count() >= duration) {
        status = "time-limit";
        stopping = true;
        tagger.stop();
      }
      if (!stopping && o.pause && o.pause->load()) {
        // Paused: nothing is taken from the tagger (the simulator generates on demand, so it
        // waits); the file stays flushed and the display keeps updating.
        if (std::chrono::steady_clock::now() - last_progress >= std::chrono::duration<double>(progress_interval))
          report_progress("paused");
        publish(false);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      const hal::TaggerEvent ev = tagger.next(std::chrono::milliseconds(100));
      bool ended = false;
      std::visit(
          [&](const auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, hal::StreamStart>) {
              say("stream started: " + e.source);
            } else if constexpr (std::is_same_v<E, hal::TagBlock>) {
              for (const auto& tag : e)
                if (tag.channel >= 0 && tag.channel < 4096) ++tags_by_channel[static_cast<std::size_t>(tag.channel)];
              if (c.outputs.raw_tags) recorder.append_tags(station, e);
              assembler.push(station, e);
            } else {
              ended = true;
              if (e.error) {
                status = "hardware-fault";
                fault = e.reason;
              }
              assembler.end(station);
            }
          },
          ev);
      batch.clear();
      assembler.pop(batch);
      if (!batch.empty()) {
        if (trials + batch.size() > planned) batch.resize(static_cast<std::size_t>(planned - trials));
        if (pb)
          pb->add(batch);
        else
          pa->add(batch);
        recorder.append_trials(batch);
        for (const auto& t : batch) ++setting_counts[indexer.setting_index(t)];
        trials += batch.size();
        if (trials >= planned && !stopping) {  // a replay or a free-running tagger has more to give
          stopping = true;
          tagger.stop();
        }
        if (!stopping && trials - trials_at_last_check >= kStorageCheckTrials) {
          const double step = static_cast<double>(trials - trials_at_last_check) * bytes_per_trial;
          trials_at_last_check = trials;
          if (room_for_run_file(dir, run_h5_path) < 4e6 + 4 * step) {
            status = "storage-full";
            fault =
                "stopped before the disk (or file-size limit) was full: " + std::to_string(trials) + " trials recorded";
            stopping = true;
            tagger.stop();
          }
        }
      }
      publish(false);
      if (ended) break;
    }
  } catch (const hal::HardwareFault& e) {
    status = "hardware-fault";
    fault = e.what();
  } catch (const RunFileError& e) {
    // Disk full or the file became unwritable: stop acquiring; what was flushed is kept.
    status = "storage-error";
    fault = e.what();
    try {
      tagger.stop();
    } catch (...) {
    }
  }
  say("acquisition ended: " + status + (fault.empty() ? "" : " — " + fault) + ", " + std::to_string(trials) +
      " trials");

  // --- decision, security statement, extraction: the same analysis `dira analyze` runs.
  try {
    publish(true);  // writes the ledger through its last entry
    recorder.flush();
  } catch (const RunFileError& e) {
    if (status != "storage-error") {
      status = "storage-error";
      fault = e.what();
    }
  }
  report_progress("analysing");
  source.start_recording();
  AnalysisOptions ao;
  ao.weak_bits = &source;
  const auto run_h5 = dir / "run.h5";
  ao.trials = [&](const std::function<void(const P::Trial&)>& sink) {
    read_run_file(run_h5, [&](std::span<const P::Trial> b) {
      for (const auto& t : b) sink(t);
    });
  };
  AnalysisResult ar;
  bool analysed = false;
  if (status != "hardware-fault" || trials > 0) {
    try {
      ar = analyze(c, ao);
      analysed = true;
    } catch (const std::exception& e) {
      fault = fault.empty() ? std::string("analysis failed: ") + e.what() : fault;
    }
  }
  try {
    write_private(dir / "sv_bits.bin", pack_bits(source.recorded()));
  } catch (const std::exception& e) {
    say(std::string("cannot write sv_bits.bin: ") + e.what());
    if (status != "storage-error") {
      status = "storage-error";
      fault = e.what();
    }
  }

  json report;
  report["software"] = std::string("dira ") + DIRA_VERSION;
  report["config_sha256"] = detail::sha256_hex(c.text);
  report["experiment"] = c.name;
  report["run_directory"] = dir.string();
  report["devices"] = {{"tagger", tagger.identity()}, {"weak_source", source.describe()}};
  for (const auto& m : modulators) report["devices"]["modulators"].push_back(m->identity());
  report["trials_recorded"] = trials;
  report["trials_planned"] = planned;
  report["assembly"] = {{"no_click", assembler.counters().no_click},
                        {"multi_click", assembler.counters().multi_click},
                        {"missing_syncs", assembler.counters().missing_syncs},
                        {"stray_tags", assembler.counters().stray_tags},
                        {"fair_sampling", assembler.fair_sampling()}};
  report["device_independent"] = !assembler.fair_sampling();
  report["setting_bits"] = ledger.bits_drawn(P::BitPurpose::setting);
  if (!fault.empty()) report["fault"] = fault;
  if (analysed) report["analysis"] = ar.report;
  std::string decision = analysed ? ar.report.value("decision", "undecided") : "undecided";
  if (status == "hardware-fault") {
    res.status = "hardware-fault";
    res.exit_code = 4;
  } else if (status == "interrupted") {
    res.status = "interrupted";
    res.exit_code = 130;
  } else if (status == "storage-error" || status == "storage-full") {
    res.status = status;
    res.exit_code = 1;
  } else {
    res.status = decision == "accept" ? "accepted" : "aborted";
    res.exit_code = decision == "accept" ? 0 : 3;
  }
  report["status"] = res.status;
  report["decision"] = decision;
  if (status == "interrupted" || status == "hardware-fault" || status == "time-limit" || status == "storage-error" ||
      status == "storage-full")
    report["decision_note"] =
        "decision over the " + std::to_string(trials) + " trials recorded before the run stopped (" + status + ")";
  std::uint64_t certified = 0;
  if (analysed && ar.output_bits > 0 && res.status == "accepted") {
    const std::string bytes(ar.output.begin(), ar.output.end());
    write_private(dir / "output.bin", bytes);
    report["output_file"] = "output.bin";
    report["output_sha256"] = detail::sha256_hex(bytes);
    certified = ar.output_bits;
  }
  report["certified_bits"] = certified;
  if (certified == 0 && analysed) {
    // Plain words and numbers from the planner (`dira plan`): what run, on this apparatus at
    // the rate just measured, would make the seeds' bounds certify something.
    try {
      P::HardwareModel hw;
      hw.visibility = phys.visibility;
      hw.efficiency = phys.efficiency;
      hw.dark_count = phys.dark_count_probability();
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      const double rate = el > 0 && trials > 0 ? static_cast<double>(trials) / el : 1e6;
      json plan{
          {"hardware",
           {{"visibility", hw.visibility}, {"efficiency", hw.efficiency}, {"dark_count_probability", hw.dark_count}}},
          {"trial_rate", rate}};
      if (c.protocol == 'B') {
        const auto pl = P::plan_protocol_b(c.inequality, c.b.epsilon, c.security_target, hw, rate);
        plan["feasible"] = pl.feasible;
        plan["verdict"] = pl.verdict;
        plan["log10_trials_for_one_bit"] = pl.log10_trials;
        plan["log10_seconds_at_this_rate"] = pl.log10_seconds;
        plan["explicit_extractor_bits_at_that_size"] = pl.explicit_bits;
        plan["parameters"] = {{"delta", pl.delta}, {"mu1", pl.mu1}, {"kappa", pl.kappa}, {"tau", pl.tau}};
      } else {
        const auto pl = P::plan_protocol_a(c.inequality, c.a.epsilon, c.security_target, hw, rate);
        plan["feasible"] = pl.feasible;
        plan["verdict"] = pl.verdict;
        plan["log10_log10_trials"] = pl.log10_log10_trials;
        plan["devices"] = pl.devices;
        plan["parameters"] = {{"delta", pl.delta}, {"mu", pl.mu}, {"t", pl.t}};
      }
      report["what_would_certify"] = plan;
    } catch (const std::exception& e) {
      say(std::string("planner: ") + e.what());
    }
  }
  if (!storage_warning.empty()) report["storage_warning"] = storage_warning;
  try {
    recorder.append_report(report.dump());
    recorder.close();
    watchdog.disarm();
  } catch (const RunFileError& e) {
    // The file could not be closed cleanly: let the watchdog clear its SWMR flag now, so
    // standard tools can still open what was flushed.
    say(std::string("run.h5 not closed cleanly: ") + e.what());
    watchdog.fire();
  }
  {
    std::ofstream rj(dir / "report.json");
    rj << report.dump(2) << "\n";
    if (!rj.flush())
      say("cannot write report.json (disk full?); the report is in run.h5 if it could be written, and on stdout with "
          "--json");
  }
  say("report written: status " + res.status);
  report_progress("done");
  res.report = report;
  return res;
}

json analyze_run_directory(const std::filesystem::path& dir) {
  const std::string text = read_all(dir / "config.yaml");
  if (text.empty()) throw RunFileError((dir / "config.yaml").string() + " is missing or empty");
  ExperimentConfig c = load_experiment_text(text, (dir / "config.yaml").string());
  c.text = text;
  std::vector<std::uint8_t> bits;
  {
    const std::string s = read_all(dir / "sv_bits.bin");
    bits.assign(s.begin(), s.end());
  }
  P::BufferSvSource source = P::BufferSvSource::from_bytes(bits, (dir / "sv_bits.bin").string(),
                                                           c.protocol == 'A' ? c.a.epsilon : c.b.epsilon);
  AnalysisOptions ao;
  ao.weak_bits = bits.empty() ? nullptr : &source;
  std::uint64_t n = 0;
  std::string live_report;
  ao.trials = [&](const std::function<void(const P::Trial&)>& sink) {
    const auto contents = read_run_file(dir / "run.h5", [&](std::span<const P::Trial> b) {
      for (const auto& t : b) sink(t);
    });
    n = contents.trials;
    live_report = contents.report;
  };
  const auto ar = analyze(c, ao);
  json out;
  out["run_directory"] = dir.string();
  out["trials_recorded"] = n;
  out["analysis"] = ar.report;
  out["decision"] = ar.report.value("decision", "undecided");
  out["certified_bits"] = ar.output_bits;
  if (ar.output_bits > 0) out["output_sha256"] = detail::sha256_hex(std::string(ar.output.begin(), ar.output.end()));
  json live;
  try {
    live = json::parse(read_all(dir / "report.json"));
  } catch (...) {
    live = nullptr;
  }
  if (live.is_object()) {
    out["live_status"] = live.value("status", "");
    out["reproduces_live_decision"] = live.value("decision", "") == out["decision"];
    if (live.contains("output_sha256") || out.contains("output_sha256"))
      out["reproduces_output"] = live.value("output_sha256", "") == out.value("output_sha256", "");
  } else {
    out["live_status"] =
        "no report.json: the run did not finish (crashed or killed); decision over the trials recorded";
  }
  return out;
}

}  // namespace dira::app
