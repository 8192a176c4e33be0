// The session's live snapshots (what the GUI plots and the terminal line show). Expected
// values come from counting: every snapshot must agree with the trials recorded in run.h5
// and with the physics of the ideal simulator (one click per party per trial).
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/trial_index.hpp"
#include "dira/sim/physical.hpp"
#include "ptu_replay_yaml.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

using namespace dira;

namespace {
std::filesystem::path experiment(const std::string& name) {
  return std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "experiments" / name;
}
std::filesystem::path scratch(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("dira-test-session-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}
}  // namespace

TEST_CASE("session snapshots count settings and clicks as the recorded trials do", "[session]") {
  const auto c = app::load_experiment_file(experiment("sim-ks294.yaml"));
  app::RunOptions o;
  o.out = scratch("counts");
  o.max_trials = 30000;
  o.progress_interval_s = 0.001;
  std::vector<app::Progress> snaps;
  o.progress = [&](const app::Progress& p) { snaps.push_back(p); };
  const auto r = app::run_experiment(c, o);
  REQUIRE(!snaps.empty());
  const auto& last = snaps.back();
  CHECK(last.stage == "done");
  CHECK(last.trials == 30000);
  CHECK(last.protocol == 'B');
  CHECK_FALSE(last.protocol_c);
  CHECK(last.live.has_ustar);

  // The live statistics are the protocol's own (embedded, issue 10 item 5): the done snapshot's
  // equal those of a Protocol B fed run.h5's trials directly, outside the session.
  {
    protocol::ProtocolB b(c.inequality.expression, c.protocol_b());
    app::read_run_file(r.directory / "run.h5", [&](std::span<const protocol::Trial> t) { b.add(t); });
    const auto s = b.live();
    CHECK(last.live.trials == s.trials);
    CHECK(last.live.trials_in_test == s.trials_in_test);
    CHECK(last.live.bell_mean == s.bell_mean);
    CHECK(last.live.bell_half_width == s.bell_half_width);
    CHECK(last.live.ustar_mean == s.ustar_mean);
    CHECK(last.live.ustar_threshold == s.ustar_threshold);
    CHECK(last.live.projected == s.projected);
  }
  // The stages' counters as they expose them: the assembler emitted every recorded trial (and
  // none without a click: the ideal simulator), and the scheduler had confirmed the settings of
  // every assembled trial at the modulators, never more than the plan.
  CHECK(last.assembly.trials >= last.trials);
  CHECK(last.assembly.no_click == 0);
  CHECK(last.assembly.no_click == last.channel_counts.back());
  CHECK(last.scheduler.delivered >= last.assembly.trials);
  CHECK(last.scheduler.delivered <= 30000);
  CHECK(last.scheduler.drawn >= last.scheduler.delivered);
  CHECK(last.scheduler.uploads > 0);

  // Settings: the histogram must equal a recount of run.h5.
  const auto& sc = c.inequality.expression.scenario();
  REQUIRE(last.setting_counts.size() == 81);  // 9 × 9 joint settings
  std::vector<std::uint64_t> recount(81, 0);
  const protocol::TrialIndexer ix(sc);
  app::read_run_file(r.directory / "run.h5", [&](std::span<const protocol::Trial> b) {
    for (const auto& t : b) ++recount[ix.setting_index(t)];
  });
  CHECK(recount == last.setting_counts);

  // Timestamps: the simulator's trial clock is periodic and jitter-free on the sync channel,
  // so every recorded time is first + index · period, with period the first difference.
  std::int64_t t0 = -1, period = 0;
  std::uint64_t bad_times = 0, n_read = 0;
  app::read_run_file(r.directory / "run.h5", [&](std::span<const protocol::Trial> b) {
    for (const auto& t : b) {
      ++n_read;
      if (t.index == 0)
        t0 = t.time_ps;
      else if (t.index == 1)
        period = t.time_ps - t0;
      else if (t.time_ps != t0 + static_cast<std::int64_t>(t.index) * period)
        ++bad_times;
    }
  });
  CHECK(n_read == 30000);
  CHECK(period > 0);
  CHECK(bad_times == 0);
  CHECK(last.setting_labels[0] == "0,0");
  CHECK(last.setting_labels[1] == "0,1");  // party 1 is the least significant digit (TrialIndexer)
  CHECK(last.setting_labels[80] == "8,8");
  // Band of the weak-source model: an ε = 0.01 source under rejection sampling keeps each
  // party's ν within a few per cent of 1/9, so the joint band brackets 1/81.
  CHECK(last.setting_probability_ideal == Approx(1.0 / 81));
  CHECK(last.setting_probability_min < 1.0 / 81);
  CHECK(last.setting_probability_max > 1.0 / 81);

  // Clicks: ideal simulator (η = 1, no dark counts) → exactly one detection per party per trial.
  REQUIRE(last.channel_names.size() == last.channel_counts.size());
  REQUIRE(last.channel_counts.size() == 2 * 4 + 1);  // 2 parties × 4 detectors + "no click"
  const auto detections = std::accumulate(last.channel_counts.begin(), last.channel_counts.end() - 1, std::uint64_t{0});
  CHECK(detections >= 2 * last.trials);  // the simulator may run ahead of the trial cut by one block
  CHECK(detections <= 2 * last.trials + 2 * 100000);
  CHECK(last.channel_counts.back() == 0);

  // Snapshots are monotone in trials and the stages run acquiring → analysing → done.
  for (std::size_t i = 1; i < snaps.size(); ++i) CHECK(snaps[i].trials >= snaps[i - 1].trials);
  bool saw_analysing = false;
  for (const auto& s : snaps) saw_analysing |= s.stage == "analysing";
  CHECK(saw_analysing);
  std::filesystem::remove_all(o.out);
}

TEST_CASE("session pause takes nothing from the tagger until released", "[session]") {
  const auto c = app::load_experiment_file(experiment("sim-ks294.yaml"));
  app::RunOptions o;
  o.out = scratch("pause");
  o.max_trials = 50000;
  o.progress_interval_s = 0.01;
  std::atomic<bool> pause{true}, stop{false};
  o.pause = &pause;
  o.interrupt = &stop;
  std::atomic<int> paused_snaps{0};
  std::atomic<std::uint64_t> trials_while_paused{0};
  o.progress = [&](const app::Progress& p) {
    if (p.stage == "paused") {
      ++paused_snaps;
      trials_while_paused = p.trials;
    }
  };
  std::thread release([&] {
    while (paused_snaps < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pause = false;
  });
  const auto r = app::run_experiment(c, o);
  release.join();
  CHECK(trials_while_paused == 0);
  CHECK(r.report["trials_recorded"] == 50000);
  std::filesystem::remove_all(o.out);
}

TEST_CASE("session raw tags: re-assembling the recorded tags gives the recorded trials", "[session]") {
  // outputs.raw_tags records every tag; an independent TrialAssembler fed those tags (with
  // the settings taken from the recorded trials) must rebuild the same outcomes, flags and
  // sync times. Noisy simulator, so no-click and multi-click trials occur.
  auto c = app::load_experiment_file(experiment("sim-ks294-noisy.yaml"));
  c.outputs.raw_tags = true;
  c.simulator.settings["efficiency"] = 0.7;  // lost photons: no-click trials
  app::RunOptions o;
  o.out = scratch("rawtags");
  o.max_trials = 20000;
  const auto r = app::run_experiment(c, o);
  const auto h5 = r.directory / "run.h5";
  std::vector<protocol::Trial> recorded;
  const auto contents = app::read_run_file(
      h5, [&](std::span<const protocol::Trial> b) { recorded.insert(recorded.end(), b.begin(), b.end()); });
  REQUIRE(recorded.size() == 20000);
  REQUIRE(contents.tags > 3 * 20000);  // sync + a click or more per party, most trials

  auto settings = c.simulator.settings;
  settings["trials"] = static_cast<std::int64_t>(20000);
  const auto layout = sim::sim_layout(settings, c.inequality.expression.scenario());
  hal::TrialAssembler again(layout, [&](std::uint64_t i) {
    protocol::Trial t;
    if (i < recorded.size()) t.u = recorded[static_cast<std::size_t>(i)].u;
    return t;
  });
  std::set<int> stations;
  for (const auto& p : layout.parties) stations.insert(p.station);
  app::read_run_file_tags(h5, [&](std::span<const app::RecordedTag> b) {
    hal::TagBlock block;
    int station = b.empty() ? 0 : b[0].station;
    for (const auto& rt : b) {
      if (rt.station != station) {
        again.push(station, block);
        block.clear();
        station = rt.station;
      }
      block.push_back(rt.tag);
    }
    if (!block.empty()) again.push(station, block);
  });
  for (int s : stations) again.end(s);
  std::vector<protocol::Trial> rebuilt;
  again.pop(rebuilt);
  REQUIRE(rebuilt.size() >= recorded.size());
  std::uint64_t differ = 0, no_click = 0;
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    const auto& a = recorded[i];
    const auto& b = rebuilt[i];
    if (a.index != b.index || a.x != b.x || a.flags != b.flags || a.time_ps != b.time_ps) ++differ;
    if (a.flags & protocol::kTrialNoClick) ++no_click;
  }
  CHECK(differ == 0);
  CHECK(no_click > 0);  // the noisy simulator loses photons: the fixed outcome rule was exercised
  std::filesystem::remove_all(o.out);
}

TEST_CASE("session with devices: a PTU replay of a simulated run gives the same trials and decision",
          "[session][devices]") {
  // Record a simulated run with its raw tags, write those tags as a PicoQuant generic-T2 file
  // (sim sync channel 1 → PTU sync, dira channel 0; detectors and echoes keep their numbers),
  // then run the same experiment with devices: {tagger: ptu, layout: …} and the same weak
  // source. The replay must rebuild every trial (settings, outcomes, flags, sync times) and
  // reach the same decision: the devices path and the simulator path agree trial by trial.
  auto c = app::load_experiment_file(experiment("sim-ks294.yaml"));
  c.outputs.raw_tags = true;
  app::RunOptions o;
  o.out = scratch("ptu");
  o.max_trials = 20000;
  const auto a = app::run_experiment(c, o);
  std::vector<protocol::Trial> first;
  app::read_run_file(a.directory / "run.h5",
                     [&](std::span<const protocol::Trial> b) { first.insert(first.end(), b.begin(), b.end()); });

  auto settings = c.simulator.settings;
  settings["trials"] = static_cast<std::int64_t>(20000);
  const auto layout = sim::sim_layout(settings, c.inequality.expression.scenario());
  const auto events =
      test::ptu_events_of_run(a.directory / "run.h5", layout.parties[0].sync_channel, [](int ch) { return ch; });
  const auto ptu = o.out / "sim.ptu";
  drivers::picoquant::PtuFileSpec spec;  // generic T2, 1 ps resolution
  drivers::picoquant::write_ptu_file(ptu.string(), spec, events);

  std::vector<std::vector<int>> detectors, echoes;
  for (const auto& party : layout.parties) {
    detectors.push_back(party.detector_channels);
    echoes.push_back(party.echo_channels);
  }
  const std::string yaml = c.text.substr(0, c.text.find("simulator:")) +
                           test::ptu_replay_devices_yaml(ptu.string(), layout, detectors, echoes);
  const auto replay_config = app::load_experiment_text(yaml, "replay.yaml");
  REQUIRE(replay_config.devices.present);
  const auto b = app::run_experiment(replay_config, o);
  CHECK(b.report["trials_recorded"] == 20000);
  CHECK(b.report["decision"] == a.report["decision"]);
  CHECK(b.report["devices"]["tagger"].get<std::string>().find("ptu") != std::string::npos);
  std::vector<protocol::Trial> second;
  app::read_run_file(b.directory / "run.h5", [&](std::span<const protocol::Trial> blk) {
    second.insert(second.end(), blk.begin(), blk.end());
  });
  REQUIRE(second.size() == first.size());
  std::uint64_t differ = 0;
  for (std::size_t i = 0; i < first.size(); ++i)
    if (first[i].index != second[i].index || first[i].u != second[i].u || first[i].x != second[i].x ||
        first[i].flags != second[i].flags || first[i].time_ps != second[i].time_ps)
      ++differ;
  CHECK(differ == 0);
  std::filesystem::remove_all(o.out);
}

TEST_CASE("experiment devices section: every problem reported with its line", "[session][devices]") {
  const std::string yaml = R"(name: bad-devices
inequality: ks294
protocol:
  kind: B
  demonstration: true
  epsilon: 0.01
  trials: 1000
  delta: 0.01
  mu1: 0.0005
devices:
  tagger:
    driver: nosuch
  layout:
    sync_channel: 0
    sync_period_ps: 1000000
    detection_offset_ps: 9000
    detection_width_ps: 2000
    detectors: [[1, 2, 3, 4]]
  modulators:
    - driver: usbtmc-awg
      settings: {profile: awg-generic, colour: blue}
)";
  try {
    (void)app::load_experiment_text(yaml, "bad.yaml");
    FAIL("expected a ConfigError");
  } catch (const app::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.find("bad.yaml:12:13: devices.tagger.driver: no time_tagger driver 'nosuch'") != std::string::npos);
    CHECK(what.find("bad.yaml:18:16: devices.layout.detectors: expected one list per party (2 parties)") !=
          std::string::npos);
    CHECK(what.find("bad.yaml:20:5: devices.modulators: expected one modulator per party") != std::string::npos);
  }
}

TEST_CASE("setting probability band: Protocol A is (½∓ε)^4 per joint setting", "[session]") {
  // Seed 000 Fig. 2 step 1: one SV bit per party, so each of the 16 joint settings has
  // probability between (½−ε)^4 and (½+ε)^4 given everything before (SV definition).
  const auto c = app::load_experiment_file(experiment("sim-guehne4.yaml"));
  const auto [lo, hi] = app::setting_probability_band(c);
  const double eps = c.epsilon;
  CHECK(lo == Approx(std::pow(0.5 - eps, 4)).epsilon(1e-12));
  CHECK(hi == Approx(std::pow(0.5 + eps, 4)).epsilon(1e-12));
}
