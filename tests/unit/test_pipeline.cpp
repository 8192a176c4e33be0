// The acquisition pipeline of issue 10: settings are pushed to the modulators ahead of the
// trials they steer (hal::SettingScheduler), never pulled by trial assembly. The expected
// values are the causal order itself: every arrival and every emission is stamped by one
// event counter in an in-process fake apparatus (fake_apparatus.hpp), so "modulator p had trial
// i's setting before trial i's tags existed" is checked trial by trial, independently of the
// code under test.
#include "fake_apparatus.hpp"

#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/drivers/register.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/sim/register.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

using namespace dira;

namespace {

std::filesystem::path scratch(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("dira-test-pipeline-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

/// Settings drawn by a counter, so a test knows what trial i's settings are.
hal::SettingDraw counter_draw(int parties, int settings, std::uint64_t& draws) {
  return [=, &draws](std::uint64_t i, protocol::Trial& t) {
    ++draws;
    for (int p = 0; p < parties; ++p)
      t.u[static_cast<std::size_t>(p)] =
          static_cast<std::uint8_t>((i + static_cast<std::uint64_t>(p)) % static_cast<std::uint64_t>(settings));
  };
}

/// ks294 (Protocol B, sim-ks294.yaml) on the fake apparatus: a free-running tagger and one
/// fake modulator per party; the weak source a file of seeded random bytes (driver `file`).
struct FakeRun {
  test::FakeLab lab;
  hal::DriverRegistry registry;
  app::ExperimentConfig config;
  app::RunOptions options;
  std::filesystem::path dir;

  explicit FakeRun(const std::string& name) {
    dir = scratch(name);
    drivers::register_drivers(registry);
    sim::register_sim(registry);
    test::register_fake_apparatus(registry, lab);
    config = app::load_experiment_file(std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "experiments" /
                                       "sim-ks294.yaml");
    lab.parties = 2;
    lab.settings = config.inequality.expression.scenario().settings(0);
    lab.outcomes = config.inequality.expression.scenario().outcomes(0);
    config.simulator = {};
    config.devices.present = true;
    config.devices.tagger = {"fake-tagger", {}};
    config.devices.layout = lab.layout();
    config.devices.modulators = {{"fake-modulator", {{"party", std::int64_t{0}}}},
                                 {"fake-modulator", {{"party", std::int64_t{1}}}}};
    config.devices.scheduler.lookahead = 4096;
    config.devices.scheduler.batch = 512;
    std::mt19937_64 rng(7);
    std::string bytes(1 << 20, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
    std::ofstream(dir / "sv.bin", std::ios::binary) << bytes;
    config.weak_source.driver = "file";
    config.weak_source.settings = {{"path", (dir / "sv.bin").string()}, {"epsilon", 0.01}};
    options.out = dir / "runs";
    options.registry = &registry;
    options.max_trials = 20000;
  }
  ~FakeRun() { std::filesystem::remove_all(dir); }

  /// Trials whose tags were emitted before some modulator had their setting.
  std::uint64_t acausal(std::uint64_t n) const {
    std::uint64_t bad = 0;
    for (std::uint64_t i = 0; i < n; ++i)
      for (int p = 0; p < lab.parties; ++p)
        if (!(lab.arrival[static_cast<std::size_t>(p)][i] < lab.emitted[i])) {
          ++bad;
          break;
        }
    return bad;
  }
};

}  // namespace

TEST_CASE("scheduler, streaming: delivers the look-ahead before start and keeps it ahead, never past the plan",
          "[pipeline][scheduler]") {
  test::FakeLab lab;
  test::FakeModulator m0(lab, 0), m1(lab, 1);
  std::uint64_t draws = 0;
  hal::SchedulerConfig cfg;
  cfg.planned = 10000;
  cfg.lookahead = 3000;
  cfg.batch = 1000;
  hal::SettingScheduler s(counter_draw(2, 2, draws), {{&m0, 0}, {&m1, 1}}, cfg);
  CHECK(s.mode() == hal::SettingDelivery::streaming);
  CHECK(s.delivered() == 0);
  s.prime();
  CHECK(s.delivered() == 3000);
  CHECK(draws == 3000);
  CHECK(lab.setting[1][2999] == (2999 + 1) % 2);
  CHECK(s.intended(2999).u[0] == 2999 % 2);
  CHECK_THROWS_AS(s.intended(3000), hal::HardwareFault);  // not delivered yet: recorded too early
  s.advance(500);  // still 2500 ahead: top up to 500 + 3000 in one batch of ≥ 1000
  CHECK(s.delivered() == 4000);
  s.advance(9000);
  CHECK(s.delivered() == 10000);  // capped at the plan
  CHECK(draws == 10000);
  s.advance(10000);
  CHECK(draws == 10000);
  CHECK(s.complete());
  CHECK_THROWS_AS(s.intended(10000), hal::TrialBeyondPlan);  // past the plan: not the run's
}

TEST_CASE("scheduler, streaming, drawing on its own thread: the same trials drawn at the same advance()",
          "[pipeline][scheduler]") {
  // The reference is the scheduler without the thread (the test above pins its rule): fed the
  // same advance() calls, the threaded one must have drawn the same trials after each call
  // (its top-up finishing in the background), in the same order, and delivered them one call
  // later; settle() delivers the last top-up. `settled` must only run while no draw does.
  test::FakeLab lab1, lab2;
  test::FakeModulator a0(lab1, 0), a1(lab1, 1), b0(lab2, 0), b1(lab2, 1);
  hal::SchedulerConfig cfg;
  cfg.planned = 10000;
  cfg.lookahead = 3000;
  cfg.batch = 1000;
  std::uint64_t draws1 = 0, draws2 = 0;
  std::vector<std::uint64_t> order;  // trials in the order the threaded scheduler drew them
  std::atomic<bool> drawing{false};
  std::uint64_t settled_while_drawing = 0, settled_calls = 0;
  hal::SettingScheduler serial(counter_draw(2, 2, draws1), {{&a0, 0}, {&a1, 1}}, cfg);
  const auto inner = counter_draw(2, 2, draws2);
  hal::SettingScheduler threaded(
      [&](std::uint64_t i, protocol::Trial& t) {
        drawing = true;
        order.push_back(i);
        inner(i, t);
        drawing = false;
      },
      {{&b0, 0}, {&b1, 1}}, cfg);
  serial.prime();
  threaded.prime();
  threaded.draw_on_thread([&] {
    ++settled_calls;
    settled_while_drawing += drawing.load();
  });
  std::uint64_t delivered_before = serial.delivered();
  int call = 0;
  for (std::uint64_t assembled : {500u, 1200u, 2600u, 2700u, 6100u, 9000u, 9999u, 10000u}) {
    serial.advance(assembled);
    threaded.advance(assembled);
    INFO("assembled " << assembled);
    CHECK(threaded.delivered() == delivered_before);  // the previous call's top-up, delivered now
    if (++call % 2 == 0) {
      threaded.settle();  // waits for this call's top-up (and delivers it, as advance() would have)
      CHECK(draws2 == draws1);
      CHECK(threaded.delivered() == serial.delivered());
    }
    delivered_before = serial.delivered();
  }
  threaded.settle();
  CHECK(draws2 == draws1);
  CHECK(threaded.delivered() == serial.delivered());
  CHECK(draws1 == 10000);
  REQUIRE(order.size() == 10000);
  bool in_order = true;
  for (std::size_t k = 0; k < order.size(); ++k) in_order = in_order && order[k] == k;
  CHECK(in_order);
  CHECK(settled_calls > 0);
  CHECK(settled_while_drawing == 0);
  for (std::uint64_t i = 0; i < 10000; ++i) REQUIRE(lab2.setting[1][i] == lab1.setting[1][i]);
  CHECK(threaded.counters().uploads == serial.counters().uploads);
  threaded.stop_drawing();
}

TEST_CASE("scheduler, drawing on its own thread 3 top-ups ahead: same draws and uploads, each delivered 3 calls later",
          "[pipeline][scheduler]") {
  // Reference: the scheduler without the thread, fed the same advance() calls. With depth 3,
  // the top-up asked for at call k reaches the modulators at call k + 3 — by calls, so the last
  // top-ups of the plan (after which nothing more is asked for) still arrive; settle() delivers
  // everything. Draws happen in trial order, by the same rule, so the same bits are taken.
  test::FakeLab lab1, lab2;
  test::FakeModulator a0(lab1, 0), a1(lab1, 1), b0(lab2, 0), b1(lab2, 1);
  hal::SchedulerConfig cfg;
  cfg.planned = 20000;
  cfg.lookahead = 3000;
  cfg.batch = 1000;
  std::uint64_t draws1 = 0, draws2 = 0;
  std::vector<std::uint64_t> order;
  hal::SettingScheduler serial(counter_draw(2, 2, draws1), {{&a0, 0}, {&a1, 1}}, cfg);
  const auto inner = counter_draw(2, 2, draws2);
  hal::SettingScheduler threaded(
      [&](std::uint64_t i, protocol::Trial& t) {
        order.push_back(i);
        inner(i, t);
      },
      {{&b0, 0}, {&b1, 1}}, cfg);
  serial.prime();
  threaded.prime();
  threaded.draw_on_thread({}, 3);
  std::vector<std::uint64_t> serial_delivered;  // after each call
  const std::vector<std::uint64_t> calls = {500,   1200,  2600,  2700,  6100,  9000,  12000, 15000,
                                            17500, 19000, 19999, 20000, 20000, 20000, 20000};
  for (std::size_t k = 0; k < calls.size(); ++k) {
    serial.advance(calls[k]);
    threaded.advance(calls[k]);
    serial_delivered.push_back(serial.delivered());
    INFO("call " << k << ", assembled " << calls[k]);
    // Delivered now: what the serial scheduler had delivered three calls before (at prime: 3000).
    CHECK(threaded.delivered() == (k >= 3 ? serial_delivered[k - 3] : std::uint64_t{3000}));
  }
  CHECK(threaded.delivered() == 20000);  // the plan's last top-ups arrived, no request after them
  threaded.settle();
  CHECK(draws2 == draws1);
  CHECK(draws1 == 20000);
  REQUIRE(order.size() == 20000);
  bool in_order = true;
  for (std::size_t k = 0; k < order.size(); ++k) in_order = in_order && order[k] == k;
  CHECK(in_order);
  for (std::uint64_t i = 0; i < 20000; ++i) REQUIRE(lab2.setting[1][i] == lab1.setting[1][i]);
  CHECK(threaded.counters().uploads == serial.counters().uploads);
  threaded.stop_drawing();
}

TEST_CASE("scheduler, drawing 3 top-ups ahead: stop_drawing draws every top-up asked for, delivers nothing",
          "[pipeline][scheduler]") {
  test::FakeLab lab;
  test::FakeModulator m0(lab, 0), m1(lab, 1);
  hal::SchedulerConfig cfg;
  cfg.planned = 20000;
  cfg.lookahead = 3000;
  cfg.batch = 1000;
  std::uint64_t draws = 0;
  hal::SettingScheduler s(counter_draw(2, 2, draws), {{&m0, 0}, {&m1, 1}}, cfg);
  s.prime();
  s.draw_on_thread({}, 3);
  s.advance(2500);  // asks for [3000, 5500)
  s.advance(4000);  // asks for [5500, 7000)
  s.stop_drawing();
  CHECK(draws == 7000);          // what the scheduler without the thread would have drawn by now
  CHECK(s.delivered() == 3000);  // nothing more reaches the modulators
  s.advance(4100);               // without the thread again: delivers what was drawn, draws nothing twice
  CHECK(s.delivered() == 7100);
  CHECK(draws == 7100);
}

TEST_CASE("scheduler, drawing on its own thread: stop_drawing finishes the top-up under way, delivers nothing",
          "[pipeline][scheduler]") {
  test::FakeLab lab;
  test::FakeModulator m0(lab, 0), m1(lab, 1);
  hal::SchedulerConfig cfg;
  cfg.planned = 10000;
  cfg.lookahead = 3000;
  cfg.batch = 1000;
  std::uint64_t draws = 0;
  hal::SettingScheduler s(counter_draw(2, 2, draws), {{&m0, 0}, {&m1, 1}}, cfg);
  s.prime();
  s.draw_on_thread({});
  s.advance(2500);  // asks for [3000, 5500)
  s.stop_drawing();
  CHECK(draws == 5500);          // what the scheduler without the thread would have drawn by now
  CHECK(s.delivered() == 3000);  // a run that ended in a fault: nothing more reaches the modulators
  s.advance(2600);               // without the thread again: delivers what was drawn, draws nothing twice
  CHECK(s.delivered() == 5600);
  CHECK(draws == 5600);
}

TEST_CASE("scheduler, segment: upload K, confirm, arm — the next segment only after the last trial is assembled",
          "[pipeline][scheduler]") {
  test::FakeLab lab;
  lab.mode = hal::SettingDelivery::segment;
  lab.segment_capacity = 400;
  test::FakeModulator m0(lab, 0), m1(lab, 1);
  std::uint64_t draws = 0;
  hal::SchedulerConfig cfg;
  cfg.planned = 1000;
  hal::SettingScheduler s(counter_draw(2, 2, draws), {{&m0, 0}, {&m1, 1}}, cfg);
  CHECK(s.mode() == hal::SettingDelivery::segment);
  CHECK(s.segment_trials() == 400);
  s.prime();
  CHECK(lab.arms == 1);
  CHECK(lab.armed_end == 400);
  CHECK(draws == 400);
  s.advance(399);  // segment not finished: nothing new
  CHECK(lab.arms == 1);
  CHECK_THROWS_WITH(s.intended(400), Catch::Contains("past the armed segment"));
  s.advance(400);
  CHECK(lab.arms == 2);
  CHECK(lab.armed_end == 800);
  s.advance(800);
  CHECK(lab.armed_end == 1000);  // the last segment is shorter: never past the plan
  CHECK(draws == 1000);
  CHECK(s.counters().segments == 3);
}

TEST_CASE("scheduler: modulators with different delivery modes are refused", "[pipeline][scheduler]") {
  test::FakeLab a, b;
  b.mode = hal::SettingDelivery::segment;
  b.segment_capacity = 10;
  test::FakeModulator m0(a, 0), m1(b, 1);
  std::uint64_t draws = 0;
  CHECK_THROWS_AS(hal::SettingScheduler(counter_draw(2, 2, draws), {{&m0, 0}, {&m1, 1}}, {}), std::invalid_argument);
}

TEST_CASE("pipeline, streaming: every modulator has trial i's setting before trial i's tags are emitted",
          "[pipeline]") {
  FakeRun run("stream");
  const auto r = app::run_experiment(run.config, run.options);
  INFO(r.report.dump(2));
  // 20,000 of the protocol's 200,000 trials: a completed acquisition stopped by the limit, so
  // the verdict is "incomplete" (exit 5) — a result, not a fault.
  CHECK(r.exit_code == 5);
  CHECK(r.state == "stopped");
  CHECK(r.decision == "incomplete");
  CHECK(r.report["trials_recorded"] == 20000);
  CHECK(run.acausal(20000) == 0);
  CHECK(r.report["settings_delivery"]["mode"] == "streaming");
  // The echo of every trial matched the intended setting (a mismatch is a hardware fault),
  // and the recorded settings are what the modulators were given.
  std::vector<protocol::Trial> trials;
  app::read_run_file(r.directory / "run.h5",
                     [&](std::span<const protocol::Trial> b) { trials.insert(trials.end(), b.begin(), b.end()); });
  REQUIRE(trials.size() == 20000);
  std::uint64_t differ = 0;
  for (const auto& t : trials)
    for (int p = 0; p < 2; ++p)
      if (t.u[static_cast<std::size_t>(p)] != run.lab.setting[static_cast<std::size_t>(p)][t.index]) ++differ;
  CHECK(differ == 0);
}

TEST_CASE("pipeline, streaming: a tagger that outruns the look-ahead is a hardware fault, data kept", "[pipeline]") {
  FakeRun run("outrun");
  run.config.devices.scheduler.lookahead = 300;  // the tagger emits 1000 trials per block
  run.config.devices.scheduler.batch = 100;
  const auto r = app::run_experiment(run.config, run.options);
  CHECK(r.exit_code == 4);
  CHECK(r.state == "hardware-fault");
  CHECK(r.decision == "incomplete");
  CHECK_THAT(r.report["fault"].get<std::string>(), Catch::Contains("before its settings were delivered"));
  CHECK(run.lab.late > 0);  // the fake apparatus saw it too
  CHECK(std::filesystem::exists(r.directory / "run.h5"));
  const auto again = app::analyze_run_directory(r.directory);
  CHECK(again["trials_recorded"] == r.report["trials_recorded"]);
}

TEST_CASE("pipeline, segment: exactly K trials per armed segment, each setting uploaded before its trial",
          "[pipeline]") {
  FakeRun run("segment");
  run.lab.mode = hal::SettingDelivery::segment;
  run.lab.segment_capacity = 3000;
  const auto r = app::run_experiment(run.config, run.options);
  INFO(r.report.dump(2));
  CHECK(r.exit_code == 5);  // stopped at 20,000 of 200,000 trials: incomplete, not a fault
  CHECK(r.report["trials_recorded"] == 20000);
  CHECK(r.report["settings_delivery"]["mode"] == "segment");
  CHECK(r.report["settings_delivery"]["segments"] == 7);  // ⌈20000 / 3000⌉
  CHECK(run.lab.arms == 7);
  CHECK(run.acausal(20000) == 0);
}

TEST_CASE("pipeline, segment: more trials than uploaded is a count mismatch (hardware fault, data kept)",
          "[pipeline]") {
  FakeRun run("segment-count");
  run.lab.mode = hal::SettingDelivery::segment;
  run.lab.segment_capacity = 3000;
  run.lab.extra_per_segment = 1;  // an extra trigger edge
  const auto r = app::run_experiment(run.config, run.options);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.report["fault"].get<std::string>(), Catch::Contains("past the armed segment"));
  CHECK(r.report["trials_recorded"].get<std::uint64_t>() == 3000);  // the first segment, all of it
}

TEST_CASE(
    "pipeline, segment: an echo that disagrees with the upload ends the run as a hardware fault — analyze "
    "decides over the recorded trials",
    "[pipeline]") {
  FakeRun run("segment-echo");
  run.lab.mode = hal::SettingDelivery::segment;
  run.lab.segment_capacity = 3000;
  run.lab.corrupt_echo_trial = 4500;
  const auto r = app::run_experiment(run.config, run.options);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.report["fault"].get<std::string>(), Catch::Contains("trial 4500"));
  const auto n = r.report["trials_recorded"].get<std::uint64_t>();
  CHECK(n >= 3000);  // every trial before the mismatch that was handed on is kept
  CHECK(n <= 4500);
  // `dira analyze` (the same function) decides over the recorded trials: n of the protocol's
  // 200,000, so the run is incomplete, and the statistics over those n are reported beside it.
  const auto again = app::analyze_run_directory(r.directory);
  CHECK(again["trials_recorded"] == n);
  CHECK(again["decision"] == "incomplete");
  CHECK(again["decision"] == r.report["decision"]);
  CHECK(again["reproduces_live_decision"] == true);
  // Independently of the session and of the analysis: Protocol B fed run.h5's rows here.
  protocol::ProtocolB b(run.config.inequality.expression, run.config.protocol_b());
  app::read_run_file(r.directory / "run.h5", [&](std::span<const protocol::Trial> t) { b.add(t); });
  CHECK(b.trials() == n);
  CHECK(again["analysis"]["trials_used"] == n);
  CHECK(again["analysis"]["bell_statistic"].get<double>() == b.bell_statistic());
  CHECK(again["analysis"]["ustar_statistic"].get<double>() == b.ustar_statistic());
  CHECK(again["decision_over_recorded_trials"] == protocol::to_string(b.decide().verdict));
}

namespace {
/// A fake modulator that is unplugged after `uploads` uploads: its next schedule() is a HardwareFault.
class LostModulator final : public hal::Modulator {
 public:
  LostModulator(test::FakeLab& lab, int party, int uploads) : inner_(lab, party), left_(uploads) {}
  std::string driver() const override { return "lost-modulator"; }
  std::string identity() const override { return inner_.identity(); }
  const std::vector<hal::Capability>& capabilities() const override { return inner_.capabilities(); }
  void set(const std::string& k, const hal::SettingValue& v) override { inner_.set(k, v); }
  hal::SettingValue get(const std::string& k) const override { return inner_.get(k); }
  void schedule(std::uint64_t first, std::span<const std::uint8_t> s) override {
    if (left_-- <= 0) throw hal::HardwareFault("modulator unplugged (USB device gone)");
    inner_.schedule(first, s);
  }
  std::vector<hal::AppliedSetting> readback() override { return inner_.readback(); }
  double settling_time_ns() const override { return inner_.settling_time_ns(); }

 private:
  test::FakeModulator inner_;
  int left_;
};
}  // namespace

TEST_CASE(
    "pipeline: refused at open is a config error, nothing created — lost during the run is a hardware fault, "
    "data kept",
    "[pipeline]") {
  // Issue 10 item 5, the device set's one failure mapping (cli/run_command.cpp turns ConfigError
  // into exit 2; a hardware fault's exit code is the run's own, 4).
  SECTION("refused at open") {
    FakeRun run("refused");
    hal::DriverInfo t;
    t.name = "absent-tagger";
    t.kind = hal::DeviceKind::time_tagger;
    t.capabilities = test::fake_capabilities();
    t.create = [](const std::map<std::string, hal::SettingValue>&) -> std::unique_ptr<hal::Device> {
      throw hal::HardwareFault("USB device 1234:5678 not found");
    };
    run.registry.add(t);
    run.config.devices.tagger = {"absent-tagger", {}};
    try {
      (void)app::run_experiment(run.config, run.options);
      FAIL("expected a ConfigError");
    } catch (const app::ConfigError& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains("devices.tagger") && Catch::Contains("1234:5678 not found"));
    }
    CHECK_FALSE(std::filesystem::exists(run.options.out));  // no run directory
  }
  SECTION("lost during the run") {
    FakeRun run("lost");
    hal::DriverInfo m;
    m.name = "lost-modulator";
    m.kind = hal::DeviceKind::modulator;
    m.capabilities = test::fake_capabilities();
    m.create = [&lab = run.lab](const std::map<std::string, hal::SettingValue>& s) -> std::unique_ptr<hal::Device> {
      return std::make_unique<LostModulator>(lab, static_cast<int>(std::get<std::int64_t>(s.at("party"))), 4);
    };
    run.registry.add(m);
    run.config.devices.modulators[1] = {"lost-modulator", {{"party", std::int64_t{1}}}};
    const auto r = app::run_experiment(run.config, run.options);
    CHECK(r.exit_code == 4);
    CHECK(r.state == "hardware-fault");
    CHECK_THAT(r.report["fault"].get<std::string>(), Catch::Contains("unplugged"));
    // Acquisition stopped before the 20,000 trials asked for, and no trial past what party 1's
    // modulator had been given was recorded (acausal below).
    const auto n = r.report["trials_recorded"].get<std::uint64_t>();
    CHECK(n > 0);
    CHECK(n < 20000);
    std::uint64_t rows = 0;
    app::read_run_file(r.directory / "run.h5", [&](std::span<const protocol::Trial> b) { rows += b.size(); });
    CHECK(rows == n);  // every trial acquired before the fault is in run.h5
    CHECK(run.acausal(n) == 0);
  }
}
