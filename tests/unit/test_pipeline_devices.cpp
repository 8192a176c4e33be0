// Causality with real drivers (issue 10, Tests: "the same with the PTU replay tagger and the
// fake USBTMC modulators"): a simulated guehne4 run's tags are written as a PicoQuant T2 file and
// replayed by driver `ptu` while four `usbtmc-awg` modulators on the in-process fake USBTMC
// instrument receive the settings — streaming (profile awg-generic) and segment (the same
// profile with a sequence memory). The drivers are the registry's own, each wrapped by a thin
// recorder that stamps, with one event counter, when a modulator confirmed trial i's setting
// (confirm() returned true for an end past i) and when the replay handed out trial i's sync
// tag (next() returned it). The expected order is the causal one itself — every trial's setting
// confirmed at every modulator before its tags exist — so it is checked trial by trial without
// reference to the scheduler's code. A pulled setting (the pre-issue-10 design) or a tagger
// started before the first batch is confirmed would stamp the tags first and fail.
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/drivers/register.hpp"
#include "dira/hal/registry.hpp"
#include "dira/sim/physical.hpp"
#include "dira/sim/register.hpp"
#include "ptu_replay_yaml.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>

using namespace dira;

namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

struct CausalLog {
  std::mutex m;
  std::uint64_t clock = 0;
  std::uint64_t started = kNever;                     // the tagger's start()
  std::vector<std::vector<std::uint64_t>> confirmed;  // [party][trial] → event number
  std::vector<std::uint64_t> emitted;                 // [trial] → event number of its sync tag
  int next_party = 0;                                 // modulators are created in party order
  int sync_channel = 0;
};

class RecordedModulator final : public hal::Modulator {
 public:
  RecordedModulator(std::unique_ptr<hal::Modulator> inner, CausalLog& log, int party)
      : inner_(std::move(inner)), log_(&log), party_(party) {}
  std::string driver() const override { return inner_->driver(); }
  std::string identity() const override { return inner_->identity(); }
  const std::vector<hal::Capability>& capabilities() const override { return inner_->capabilities(); }
  void set(const std::string& k, const hal::SettingValue& v) override { inner_->set(k, v); }
  hal::SettingValue get(const std::string& k) const override { return inner_->get(k); }
  void schedule(std::uint64_t first, std::span<const std::uint8_t> s) override { inner_->schedule(first, s); }
  std::vector<hal::AppliedSetting> readback() override { return inner_->readback(); }
  double settling_time_ns() const override { return inner_->settling_time_ns(); }
  hal::SettingDelivery delivery() const override { return inner_->delivery(); }
  std::uint64_t segment_capacity() const override { return inner_->segment_capacity(); }
  void arm() override { inner_->arm(); }
  bool confirm(std::uint64_t end) override {
    const bool ok = inner_->confirm(end);
    if (ok && end > confirmed_end_) {
      std::lock_guard lk(log_->m);
      auto& c = log_->confirmed[static_cast<std::size_t>(party_)];
      if (c.size() < end) c.resize(end, kNever);
      const std::uint64_t stamp = ++log_->clock;
      for (std::uint64_t i = confirmed_end_; i < end; ++i) c[i] = stamp;
      confirmed_end_ = end;
    }
    return ok;
  }

 private:
  std::unique_ptr<hal::Modulator> inner_;
  CausalLog* log_;
  int party_;
  std::uint64_t confirmed_end_ = 0;
};

class RecordedTagger final : public hal::TimeTagger {
 public:
  RecordedTagger(std::unique_ptr<hal::TimeTagger> inner, CausalLog& log) : inner_(std::move(inner)), log_(&log) {}
  std::string driver() const override { return inner_->driver(); }
  std::string identity() const override { return inner_->identity(); }
  const std::vector<hal::Capability>& capabilities() const override { return inner_->capabilities(); }
  void set(const std::string& k, const hal::SettingValue& v) override { inner_->set(k, v); }
  hal::SettingValue get(const std::string& k) const override { return inner_->get(k); }
  void start() override {
    {
      std::lock_guard lk(log_->m);
      log_->started = ++log_->clock;
    }
    inner_->start();
  }
  void stop() override { inner_->stop(); }
  std::vector<int> channels() const override { return inner_->channels(); }
  hal::TaggerEvent next(std::chrono::milliseconds timeout) override {
    auto ev = inner_->next(timeout);
    if (const auto* b = std::get_if<hal::TagBlock>(&ev)) {
      std::lock_guard lk(log_->m);
      // The replayed file holds one sync per trial from trial 0 (the simulator's), so the k-th
      // sync handed out is trial k's.
      for (const auto& t : *b)
        if (t.type == hal::TagType::time_tag && t.channel == log_->sync_channel) log_->emitted.push_back(++log_->clock);
    }
    return ev;
  }

 private:
  std::unique_ptr<hal::TimeTagger> inner_;
  CausalLog* log_;
};

/// Every driver dira ships, with `ptu` and `usbtmc-awg` wrapped by the recorders above.
hal::DriverRegistry recorded_registry(CausalLog& log) {
  hal::DriverRegistry base, out;
  drivers::register_drivers(base);
  sim::register_sim(base);
  for (const auto* d : base.all()) {
    hal::DriverInfo info = *d;
    if (info.name == "ptu" && info.kind == hal::DeviceKind::time_tagger) {
      info.create = [inner = d->create, &log](const std::map<std::string, hal::SettingValue>& s) {
        auto dev = inner(s);
        auto* t = dynamic_cast<hal::TimeTagger*>(dev.get());
        REQUIRE(t);
        dev.release();
        return std::unique_ptr<hal::Device>(std::make_unique<RecordedTagger>(std::unique_ptr<hal::TimeTagger>(t), log));
      };
    } else if (info.name == "usbtmc-awg" && info.kind == hal::DeviceKind::modulator) {
      info.create = [inner = d->create, &log](const std::map<std::string, hal::SettingValue>& s) {
        auto dev = inner(s);
        auto* m = dynamic_cast<hal::Modulator*>(dev.get());
        REQUIRE(m);
        dev.release();
        return std::unique_ptr<hal::Device>(
            std::make_unique<RecordedModulator>(std::unique_ptr<hal::Modulator>(m), log, log.next_party++));
      };
    }
    out.add(std::move(info));
  }
  return out;
}

std::filesystem::path scratch(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("dira-test-pipeline-devices-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("pipeline with drivers: PTU replay and fake USBTMC modulators, every setting confirmed before its trial",
          "[pipeline][devices]") {
  const auto dir = scratch("ptu-usbtmc");
  // 1. A simulated run (four usbtmc-awg modulators beside the simulator) with its raw tags.
  auto c = app::load_experiment_file(std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "tests" / "cli" / "data" /
                                     "sim-guehne4-fake-modulators.yaml");
  c.outputs.raw_tags = true;
  app::RunOptions o;
  o.out = dir / "runs";
  const auto a = app::run_experiment(c, o);
  REQUIRE(a.exit_code == 0);
  const std::uint64_t n = a.report["trials_recorded"].get<std::uint64_t>();
  REQUIRE(n == 4000);  // 8 devices × 500 uses (the file's protocol)

  auto settings = c.simulator.settings;
  settings["trials"] = static_cast<std::int64_t>(n);
  const auto layout = sim::sim_layout(settings, c.inequality.expression.scenario());
  // The simulator numbers four parties' channels past the 64 a T2 file holds: each detector and
  // echo channel gets the next free PTU channel from 1 (the replay's layout below uses them).
  std::map<int, int> ptu_channel;
  auto remap = [&](const std::vector<int>& v) {
    std::vector<int> out;
    for (int ch : v) out.push_back(ptu_channel.emplace(ch, static_cast<int>(ptu_channel.size()) + 1).first->second);
    return out;
  };
  std::vector<std::vector<int>> detectors, echoes;
  for (const auto& party : layout.parties) {
    detectors.push_back(remap(party.detector_channels));
    echoes.push_back(remap(party.echo_channels));
  }
  const auto events = test::ptu_events_of_run(a.directory / "run.h5", layout.parties[0].sync_channel,
                                              [&](int ch) { return remap({ch})[0]; });
  REQUIRE(ptu_channel.size() <= 64);  // any other channel (none expected) becomes a stray photon
  const auto ptu = dir / "sim.ptu";
  drivers::picoquant::write_ptu_file(ptu.string(), drivers::picoquant::PtuFileSpec{}, events);

  // awg-generic has a sequence memory of 65,536 trials (segment delivery, one segment for this
  // run: a replay cannot stop at the end of an armed segment as an AWG's trigger would, so runs of
  // several segments are the fake tagger's test, test_pipeline.cpp). The streaming variant is the
  // same profile without its delivery: section, which makes it streaming.
  std::ifstream generic(std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "devices" / "awg-generic.yaml");
  std::stringstream profile;
  profile << generic.rdbuf();
  const std::string text = profile.str();
  REQUIRE(text.find("\ndelivery:") != std::string::npos);
  std::ofstream(dir / "awg-streaming.yaml")
      << text.substr(0, text.find("\ndelivery:") + 1) << "delivery: {mode: streaming}\n";

  for (const std::string mode : {"streaming", "segment"}) {
    SECTION(mode) {
      const std::string prof = mode == "segment" ? "awg-generic" : (dir / "awg-streaming.yaml").string();
      // PTU records per block well below the look-ahead: a replay runs as fast as it can read.
      std::string yaml =
          c.text.substr(0, c.text.find("simulator:")) +
          test::ptu_replay_devices_yaml(ptu.string(), layout, detectors, echoes, "      block_records: 256\n") +
          "  modulators:\n";
      for (int p = 0; p < 4; ++p)
        yaml += "    - {driver: usbtmc-awg, settings: {resource: fake, profile: " + prof + "}}\n";
      const auto replay = app::load_experiment_text(yaml, "replay.yaml");

      CausalLog log;
      log.confirmed.resize(4);
      log.sync_channel = 0;  // the PTU sync is dira channel 0
      const hal::DriverRegistry registry = recorded_registry(log);
      app::RunOptions ro;
      ro.out = dir / ("replay-" + mode);
      ro.registry = &registry;
      const auto b = app::run_experiment(replay, ro);
      INFO(b.report.dump(2));
      CHECK(b.report["settings_delivery"]["mode"] == mode);
      CHECK(b.report["trials_recorded"] == n);
      CHECK(b.report["decision"] == a.report["decision"]);
      CHECK(b.report["certified_bits"] == a.report["certified_bits"]);

      std::lock_guard lk(log.m);
      REQUIRE(log.emitted.size() >= n);
      REQUIRE(log.started != kNever);
      std::uint64_t acausal = 0;
      for (std::uint64_t i = 0; i < n; ++i)
        for (int p = 0; p < 4; ++p) {
          const auto& cp = log.confirmed[static_cast<std::size_t>(p)];
          if (!(i < cp.size() && cp[i] < log.emitted[i])) ++acausal;
        }
      CHECK(acausal == 0);
      // The tagger started only after the first trial's settings were confirmed everywhere.
      for (int p = 0; p < 4; ++p) CHECK(log.confirmed[static_cast<std::size_t>(p)][0] < log.started);
      if (mode == "segment") {
        // One segment for the whole run: every setting confirmed before the replay started.
        for (int p = 0; p < 4; ++p) CHECK(log.confirmed[static_cast<std::size_t>(p)][n - 1] < log.started);
      }
    }
  }
  std::filesystem::remove_all(dir);
}
