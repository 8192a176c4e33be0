// The simulator's model has two twin paths (sim/src/model.cpp): generate_trial(), every trial by
// itself (memory, dark counts, jitter), and generate_photons_only(), a batch path for runs without
// memory, dark counts or jitter that keeps its state in locals. They must make the same draws and
// the same tags in the same order. The reference here is the general path itself, forced through
// the test seam sim::detail::GenerationPath: every run of a matrix of settings that exercises each
// branch of the batch path (setting errors, late switching, dead time, emission and efficiency
// below 1, echoes, logical devices on a shared or on independent apparatuses with their own
// alias tables, per-party stations, segment delivery, block sizes, parties 2 to 4, a party with
// one setting) is generated both ways, and every event, tag and counter must be equal.
// Breaking one branch of the batch path by hand (the setting-error pick, its count, cap and
// de-duplication; the late-switch setting, count and hold; the dead-time comparison, update and
// count; the generator's hand-back; the order of the efficiency draw; echo times; apparatus and
// alias table per device; which party's tags are pushed) made this test fail each time.
// api.cpp's two framings of one stream (streaming, segment) and two ways of filling a segment
// (pulled from a schedule, pushed and armed) are compared at the end of the file.
#include "support.hpp"

#include "dira/hal/device.hpp"
#include "dira/protocol/scenario.hpp"
#include "dira/sim/physical.hpp"
#include "dira/sim/rng.hpp"

#include "uniform_schedule.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace dira;
using protocol::Behaviour;
using protocol::Inequality;
using protocol::Scenario;
using protocol::Trial;
using sim::PhysicalSimulator;
using sim::SettingsMap;
using Paths = sim::detail::GenerationPath;

namespace {

using test::mix;
using test::uniform_schedule;

/// What a source of the matrix binds: an inequality (quantum, local, no_signalling) or a behaviour.
struct Source {
  std::string name;
  const Inequality* inequality = nullptr;
  Scenario scenario;
  Behaviour behaviour;  // source = behaviour when not empty
};

/// A behaviour with every entry drawn at random (normalised per joint setting): no structure the
/// alias tables could hide a wrong row or column behind.
Behaviour random_behaviour(const Scenario& sc, std::uint64_t seed) {
  sim::Rng rng(seed);
  Behaviour p(sc.size());
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double sum = 0;
    for (std::size_t x = 0; x < nx; ++x) sum += p[u * nx + x] = 0.05 + rng.uniform();
    for (std::size_t x = 0; x < nx; ++x) p[u * nx + x] /= sum;
  }
  return p;
}

std::vector<Source> sources() {
  static const Inequality chsh = test::load("chsh"), ks294 = test::load("ks294"), guehne4 = test::load("guehne4");
  std::vector<Source> out;
  out.push_back({"chsh quantum", &chsh, chsh.expression.scenario(), {}});
  out.push_back({"ks294 quantum", &ks294, ks294.expression.scenario(), {}});
  out.push_back({"guehne4 quantum", &guehne4, guehne4.expression.scenario(), {}});
  out.push_back({"ks294 local", &ks294, ks294.expression.scenario(), {}});
  out.push_back({"guehne4 no_signalling", &guehne4, guehne4.expression.scenario(), {}});
  // Three parties of unequal shape; party 0 has one setting (the batch path's nset > 1 test),
  // party 2 one outcome.
  const Scenario odd({1, 3, 2}, {2, 3, 1});
  out.push_back({"behaviour on 3 parties", nullptr, odd, random_behaviour(odd, 5)});
  return out;
}

/// One run's settings: the branches of the batch path from (error, switching, dead), the rest
/// chosen per run from `pick`, a hash of the run's number, so that over the matrix every
/// option meets every combination of the three.
SettingsMap settings_of(const Source& source, double error_rate, std::int64_t switching_ps, std::int64_t dead_ps,
                        std::uint64_t seed, std::uint64_t run) {
  const auto pick = [run](std::uint64_t field, std::uint64_t n) { return mix(run * 64 + field) % n; };
  SettingsMap s;
  const std::string kind = source.name.substr(source.name.find(' ') + 1);
  if (source.behaviour.empty()) s["source"] = kind;
  s["seed"] = static_cast<std::int64_t>(seed);
  s["setting_error_rate"] = error_rate;
  s["switching_time_ps"] = switching_ps;  // detection_delay_ps is the default 10 000 ps
  s["dead_time_ps"] = dead_ps;
  s["emission_probability"] = std::vector<double>{1.0, 0.8}[pick(1, 2)];
  s["efficiency"] = std::vector<double>{1.0, 0.9, 0.6}[pick(2, 3)];
  s["echo"] = pick(3, 4) != 0;
  switch (pick(4, 4)) {
    case 0:
      break;  // one logical device
    case 1:
      s["logical_devices"] = std::int64_t{3};  // round robin on one shared apparatus
      break;
    case 2:
      s["logical_devices"] = std::int64_t{3};  // blocks on independent apparatuses
      s["device_assignment"] = std::string("blocks");
      s["device_block_trials"] = std::int64_t{70};
      s["apparatus"] = std::string("independent");
      break;
    case 3:
      s["logical_devices"] = std::int64_t{2};
      s["apparatus"] = std::string("independent");
      break;
  }
  if (kind == "quantum") {
    s["visibility"] = std::vector<double>{1.0, 0.93}[pick(5, 2)];
    // Random misalignment on independent apparatuses: one alias table per apparatus.
    if (pick(6, 2)) s["misalignment_rad"] = 0.2;
  }
  if (pick(7, 3) == 0) {
    s["station_layout"] = std::string("per_party");
    s["station"] = static_cast<std::int64_t>(pick(8, static_cast<std::uint64_t>(source.scenario.parties())));
  }
  if (pick(9, 3) == 0) {
    s["modulator_delivery"] = std::string("segment");
    s["segment_trials"] = std::vector<std::int64_t>{1000, 333}[pick(10, 2)];
  }
  s["block_trials"] = std::vector<std::int64_t>{4096, 777, 64, 1}[pick(11, 4)];
  const auto trials = static_cast<std::int64_t>(1200 + pick(12, 300));
  if (pick(13, 5) == 0)
    s["fail_after_trials"] = trials;
  else
    s["trials"] = trials;
  return s;
}

/// Everything a run delivers: the framed stream block by block, and the counters.
struct Stream {
  std::string start_source;
  std::vector<hal::TagBlock> blocks;
  bool ended = false, end_error = false;
  std::string end_reason;
  sim::SimCounters counters;
  bool batch = false;  // the run took the batch path
};

Stream read_stream(const Source& source, const SettingsMap& settings, std::uint64_t schedule_seed, bool general) {
  const auto schedule = uniform_schedule(source.scenario, schedule_seed);
  const auto sim = source.behaviour.empty()
                       ? std::make_unique<PhysicalSimulator>(settings, *source.inequality, schedule)
                       : std::make_unique<PhysicalSimulator>(settings, source.scenario, source.behaviour, schedule);
  Paths::force_general(*sim, general);
  sim->start();
  Stream out;
  out.batch = Paths::batch(*sim);
  for (int guard = 0; guard < 1'000'000 && !out.ended; ++guard) {
    auto ev = sim->next(std::chrono::milliseconds(0));
    if (auto* start = std::get_if<hal::StreamStart>(&ev)) {
      out.start_source = start->source;
    } else if (auto* b = std::get_if<hal::TagBlock>(&ev)) {
      out.blocks.push_back(std::move(*b));
    } else {
      const auto& end = std::get<hal::StreamEnd>(ev);
      out.ended = true;
      out.end_error = end.error;
      out.end_reason = end.reason;
    }
  }
  out.counters = sim->counters();
  return out;
}

bool same_tag(const hal::Tag& a, const hal::Tag& b) {
  return a.type == b.type && a.reserved == b.reserved && a.missed == b.missed && a.channel == b.channel &&
         a.time_ps == b.time_ps;
}

/// "" when the two streams are equal in every event, tag and counter; else the first difference.
std::string difference(const Stream& batch, const Stream& general) {
  std::ostringstream os;
  if (batch.start_source != general.start_source) return "StreamStart differs";
  if (batch.blocks.size() != general.blocks.size())
    os << "blocks: " << batch.blocks.size() << " batch, " << general.blocks.size() << " general; ";
  for (std::size_t k = 0; k < std::min(batch.blocks.size(), general.blocks.size()) && os.tellp() == 0; ++k) {
    const auto &a = batch.blocks[k], &b = general.blocks[k];
    for (std::size_t j = 0; j < std::min(a.size(), b.size()); ++j)
      if (!same_tag(a[j], b[j])) {
        os << "block " << k << " tag " << j << ": batch channel " << a[j].channel << " at " << a[j].time_ps
           << " ps, general channel " << b[j].channel << " at " << b[j].time_ps << " ps; ";
        break;
      }
    if (os.tellp() == 0 && a.size() != b.size())
      os << "block " << k << ": " << a.size() << " tags batch, " << b.size() << " general; ";
  }
  if (batch.ended != general.ended || batch.end_error != general.end_error || batch.end_reason != general.end_reason)
    os << "StreamEnd differs; ";
  const auto &c = batch.counters, &d = general.counters;
  const auto counter = [&](const char* name, std::uint64_t x, std::uint64_t y) {
    if (x != y) os << name << " " << x << " batch, " << y << " general; ";
  };
  counter("trials", c.trials, d.trials);
  counter("emissions", c.emissions, d.emissions);
  counter("photon_clicks", c.photon_clicks, d.photon_clicks);
  counter("dark_clicks", c.dark_clicks, d.dark_clicks);
  counter("dead_time_losses", c.dead_time_losses, d.dead_time_losses);
  counter("late_switches", c.late_switches, d.late_switches);
  counter("setting_errors", c.setting_errors, d.setting_errors);
  counter("tags", c.tags, d.tags);
  counter("time_marks", c.time_marks, d.time_marks);
  if (c.setting_error_trials != d.setting_error_trials) os << "setting_error_trials differ; ";
  return os.str();
}

std::string describe(const SettingsMap& settings) {
  std::ostringstream os;
  for (const auto& [key, value] : settings) {
    os << key << '=';
    std::visit([&](const auto& v) { os << v; }, value);
    os << ' ';
  }
  return os.str();
}

}  // namespace

TEST_CASE("sim: the batch path and the general path give the same stream, bit for bit", "[simulator][sim_paths]") {
  // Which branches of the batch path the matrix reached, checked at the end: a matrix that no
  // longer reaches one would let that branch change unseen.
  std::uint64_t runs = 0, capped_error_lists = 0, deduplicated_errors = 0, late = 0, dead = 0, missed_emissions = 0,
                lost_photons = 0, marked = 0, failed = 0, other_station = 0;
  std::uint64_t run = 0;
  for (const Source& source : sources())
    for (const double error_rate : {0.0, 0.03, 0.5, 1.0})  // 1: the Bernoulli draws nothing
      for (const std::int64_t switching : {std::int64_t{0}, std::int64_t{10'000}, std::int64_t{20'000}})
        // Photons arrive a whole number of periods apart, so only the two sides of the boundary
        // tell `t < dead_until` and `dead_until = t + dead_time` from their neighbours: two periods
        // exactly, and the photon two trials later finds the detector live again (t == dead_until);
        // one ps more, and it is lost.
        for (const std::int64_t dead_time : {std::int64_t{0}, std::int64_t{2'000'000}, std::int64_t{2'000'001}})
          for (const std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{20'261'130}}) {
            const SettingsMap settings = settings_of(source, error_rate, switching, dead_time, seed, ++run);
            INFO(source.name << ": " << describe(settings));
            const Stream batch = read_stream(source, settings, seed + run, false);
            const Stream general = read_stream(source, settings, seed + run, true);
            REQUIRE(batch.batch);
            REQUIRE_FALSE(general.batch);
            REQUIRE(batch.ended);
            REQUIRE(batch.counters.trials >= 1200);
            REQUIRE(difference(batch, general) == "");  // the expansion names the first difference

            const auto& c = batch.counters;
            ++runs;
            capped_error_lists += c.setting_error_trials.size() == 1000;
            deduplicated_errors +=
                c.setting_error_trials.size() < 1000 && c.setting_errors > c.setting_error_trials.size();
            late += c.late_switches > 0;
            dead += c.dead_time_losses > 0;
            missed_emissions += c.emissions < c.trials;
            lost_photons += c.photon_clicks + c.dead_time_losses <
                            c.emissions * static_cast<std::uint64_t>(source.scenario.parties());
            marked += c.time_marks > 0;
            failed += batch.end_error;
            other_station += settings.count("station") && std::get<std::int64_t>(settings.at("station")) > 0;
          }
  CHECK(runs == 6 * 4 * 3 * 3 * 2);
  CHECK(capped_error_lists > 0);
  CHECK(deduplicated_errors > 0);
  CHECK(late > 0);
  CHECK(dead > 0);
  CHECK(missed_emissions > 0);
  CHECK(lost_photons > 0);
  CHECK(marked > 0);
  CHECK(failed > 0);
  CHECK(other_station > 0);
}

TEST_CASE("sim: the batch path is taken exactly without memory, dark counts or jitter", "[simulator][sim_paths]") {
  // The comparison above is only as good as this: each of the three sends a run to the general path.
  const Inequality ks294 = test::load("ks294");
  const auto schedule = uniform_schedule(ks294.expression.scenario(), 3);
  const auto batch_of = [&](const SettingsMap& settings, bool general = false) {
    PhysicalSimulator sim(settings, ks294, schedule);
    CHECK_FALSE(Paths::batch(sim));  // not started
    Paths::force_general(sim, general);
    sim.start();
    return Paths::batch(sim);
  };
  CHECK(batch_of({}));
  CHECK(batch_of({{"source", std::string("local")}, {"dead_time_ps", std::int64_t{5}}}));
  CHECK_FALSE(batch_of({}, true));
  CHECK_FALSE(batch_of({{"dark_count_rate_hz", 10.0}}));
  CHECK_FALSE(batch_of({{"jitter_ps", 1.0}}));
  CHECK_FALSE(batch_of({{"source", std::string("memory")}}));
}

namespace {

/// A stream as the assembler would see it: every tag in order, the sizes of the non-empty
/// blocks, how it ended and the counters. `on_wait` runs on each empty block (waiting for settings).
struct Tags {
  std::vector<hal::Tag> tags;
  std::vector<std::size_t> blocks;
  hal::StreamEnd end;
  sim::SimCounters counters;
};

Tags read_tags(PhysicalSimulator& sim, const std::function<void()>& on_wait = {}) {
  Tags out;
  sim.start();
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto ev = sim.next(std::chrono::milliseconds(0));
    if (auto* b = std::get_if<hal::TagBlock>(&ev)) {
      if (b->empty() && on_wait) on_wait();
      if (!b->empty()) out.blocks.push_back(b->size());
      out.tags.insert(out.tags.end(), b->begin(), b->end());
    } else if (auto* end = std::get_if<hal::StreamEnd>(&ev)) {
      out.end = *end;
      break;
    }
  }
  out.counters = sim.counters();
  return out;
}

bool same_tags(const std::vector<hal::Tag>& a, const std::vector<hal::Tag>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same_tag);
}

/// The counters of the physics (not of the framing: tags delivered, time marks).
bool same_physics(const sim::SimCounters& c, const sim::SimCounters& d) {
  return c.trials == d.trials && c.emissions == d.emissions && c.photon_clicks == d.photon_clicks &&
         c.dark_clicks == d.dark_clicks && c.dead_time_losses == d.dead_time_losses &&
         c.late_switches == d.late_switches && c.setting_errors == d.setting_errors &&
         c.setting_error_trials == d.setting_error_trials;
}

}  // namespace

TEST_CASE("sim: segment delivery changes the framing only, and pulled or pushed segments are one path",
          "[simulator][sim_paths]") {
  // api.cpp frames one generated stream two ways: streaming (blocks cut at the next trial's
  // earliest tag, a last sync closing trial N−1) and segment (a time mark after each segment's
  // windows, later tags carried over, no last sync). And a segment reaches the built-in
  // modulators two ways: pulled from a SettingSchedule (feed_from_schedule) or pushed and armed
  // through hal::Modulator. Neither may change a tag of the physics.
  const Inequality ks294 = test::load("ks294"), guehne4 = test::load("guehne4");
  const std::uint64_t n = 3000;  // not a multiple of either segment: the last segment is short
  struct Case {
    const Inequality* inequality;
    SettingsMap settings;
  };
  const std::vector<Case> cases{
      {&ks294, {}},
      // The general path, with dark counts after the windows (carried over a time mark) and jitter.
      {&ks294,
       {{"dark_count_rate_hz", 3e5},
        {"jitter_ps", 300.0},
        {"dead_time_ps", std::int64_t{50'000}},
        {"seed", std::int64_t{7}}}},
      {&guehne4,
       {{"setting_error_rate", 0.01},
        {"switching_time_ps", std::int64_t{20'000}},
        {"station_layout", std::string("per_party")},
        {"station", std::int64_t{1}},
        {"efficiency", 0.8}}},
  };
  for (const Case& c : cases)
    for (const std::int64_t segment : {1000, 333})
      for (const std::int64_t block : {4096, 100}) {
        SettingsMap base = c.settings;
        base["block_trials"] = block;
        base["segment_trials"] = segment;
        INFO(describe(base));
        const auto& sc = c.inequality->expression.scenario();
        const auto schedule = uniform_schedule(sc, 11);

        SettingsMap streaming_settings = base, segment_settings = base;
        streaming_settings["trials"] = static_cast<std::int64_t>(n);
        segment_settings["trials"] = static_cast<std::int64_t>(n);
        segment_settings["modulator_delivery"] = std::string("segment");
        PhysicalSimulator streaming_sim(streaming_settings, *c.inequality, schedule);
        PhysicalSimulator segment_sim(segment_settings, *c.inequality, schedule);
        const Tags streaming = read_tags(streaming_sim), segmented = read_tags(segment_sim);
        const auto segments = (n + static_cast<std::uint64_t>(segment) - 1) / static_cast<std::uint64_t>(segment);
        CHECK(segmented.counters.time_marks == segments);
        CHECK(same_physics(streaming.counters, segmented.counters));
        CHECK(streaming.end.error == segmented.end.error);
        CHECK(streaming.end.reason == segmented.end.reason);
        // Without the framing: no time marks, and no sync of trial N (at (N + 1) periods).
        const auto sync_channels = streaming_sim.layout().parties;
        const auto physics = [&](std::vector<hal::Tag> tags) {
          const auto last_sync = static_cast<std::int64_t>(n + 1) * 1'000'000;
          std::erase_if(tags, [&](const hal::Tag& t) {
            if (t.type == hal::TagType::time_mark) return true;
            if (t.time_ps != last_sync) return false;
            for (const auto& party : sync_channels)
              if (party.sync_channel == t.channel) return true;
            return false;
          });
          return tags;
        };
        CHECK(streaming.tags.size() > segmented.tags.size() - segments);  // the trailing sync(s) went
        CHECK(same_tags(physics(streaming.tags), physics(segmented.tags)));

        // The same segments pushed and armed through the modulators, as the SettingScheduler does.
        PhysicalSimulator pushed_sim(base);
        pushed_sim.bind(hal::ApparatusBinding{c.inequality, n, 1, 0});
        const auto modulators = pushed_sim.modulators();
        std::uint64_t uploaded = 0;
        const auto upload = [&] {
          if (uploaded == n) return;
          const std::uint64_t k = std::min<std::uint64_t>(static_cast<std::uint64_t>(segment), n - uploaded);
          for (int p = 0; p < sc.parties(); ++p) {
            std::vector<std::uint8_t> u(k);
            for (std::uint64_t i = 0; i < k; ++i) u[i] = schedule(uploaded + i).u[static_cast<std::size_t>(p)];
            modulators[static_cast<std::size_t>(p)]->schedule(uploaded, u);
            modulators[static_cast<std::size_t>(p)]->arm();
          }
          uploaded += k;
        };
        pushed_sim.set("modulator_delivery", std::string("segment"));
        upload();  // primed before the stream starts
        const Tags pushed = read_tags(pushed_sim, upload);
        CHECK(uploaded == n);
        CHECK(pushed.blocks == segmented.blocks);
        CHECK(same_tags(pushed.tags, segmented.tags));
        CHECK(same_physics(pushed.counters, segmented.counters));
        CHECK(pushed.counters.time_marks == segments);
        CHECK(pushed.end.reason == segmented.end.reason);
      }
}
