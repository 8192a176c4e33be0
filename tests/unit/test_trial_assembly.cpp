// Trial assembly from hand-built tag streams: every rule of docs/trial-policy.md and the
// edge cases of issue 4 §3, each with the expected trials written out by hand; issue 10's
// scheduler lookup, hardware-chosen settings and time marks; and a differential test against
// an offline derivation of the rules.
#include "dira/hal/device.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

using namespace dira::hal;
using dira::protocol::Trial;

namespace {
constexpr std::int64_t kPeriod = 1000;

// Two parties, one station each; channel 0 = sync, 1..2 = detectors (outcomes 0, 1),
// 5..6 = setting echoes (settings 0, 1). Detection window [sync+100, sync+500).
TrialAssemblyConfig two_party(bool echo = false) {
  TrialAssemblyConfig c;
  for (int p = 0; p < 2; ++p) {
    StationLayout s;
    s.station = p;
    s.sync_channel = 0;
    s.detector_channels = {1, 2};
    if (echo) s.echo_channels = {5, 6};
    c.parties.push_back(s);
  }
  c.sync_period_ps = kPeriod;
  c.detection_offset_ps = 100;
  c.detection_width_ps = 400;
  c.echo_offset_ps = 0;
  c.echo_width_ps = echo ? 100 : 0;
  return c;
}

Tag tag(int channel, std::int64_t t) {
  Tag g;
  g.channel = channel;
  g.time_ps = t;
  return g;
}

// Intended settings: party p gets (trial + p) % 2.
Trial intended(std::uint64_t i) {
  Trial t;
  t.u[0] = static_cast<std::uint8_t>(i % 2);
  t.u[1] = static_cast<std::uint8_t>((i + 1) % 2);
  return t;
}

std::vector<Trial> drain(TrialAssembler& a) {
  std::vector<Trial> out;
  a.pop(out);
  return out;
}
}  // namespace

TEST_CASE("assembly: outcomes, no-click and multi-click rules, window boundaries", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  // Station 0: trial 0 click on outcome 1 at sync+100 (window start, inside);
  // trial 1 no click (one at sync+500 = window end, outside); trial 2 both detectors.
  a.push(0, {tag(0, 0), tag(2, 100), tag(0, 1000), tag(1, 1500), tag(0, 2000), tag(1, 2200), tag(2, 2300), tag(0, 3000),
             tag(0, 4000)});
  // Station 1: outcome 0 in every trial.
  a.push(1,
         {tag(0, 0), tag(1, 200), tag(0, 1000), tag(1, 1200), tag(0, 2000), tag(1, 2200), tag(0, 3000), tag(0, 4000)});
  const auto t = drain(a);
  REQUIRE(t.size() >= 3);
  CHECK(t[0].index == 0);
  CHECK(t[0].x[0] == 1);
  CHECK(t[0].x[1] == 0);
  CHECK(t[0].flags == 0);
  CHECK(t[0].u[0] == 0);
  CHECK(t[0].u[1] == 1);
  CHECK(t[1].x[0] == 0);  // no click → outcome 0 (fixed rule)
  CHECK((t[1].flags & dira::protocol::kTrialNoClick) != 0);
  CHECK(t[2].x[0] == 0);  // both clicked → lowest detector
  CHECK((t[2].flags & dira::protocol::kTrialMultiClick) != 0);
  CHECK(a.counters().stray_tags == 1);  // the click exactly at the window end
  CHECK(a.counters().no_click >= 1);
}

TEST_CASE("assembly: stations merge by sync index, not absolute time", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  const std::int64_t skew = 123456789;  // station 1's clock started much later
  TagBlock s0, s1;
  for (int i = 0; i < 20; ++i) {
    s0.push_back(tag(0, i * kPeriod));
    s0.push_back(tag(1 + (i % 2), i * kPeriod + 300));
    s1.push_back(tag(0, skew + i * kPeriod));
    s1.push_back(tag(1 + ((i / 2) % 2), skew + i * kPeriod + 300));
  }
  a.push(1, s1);  // order of pushes does not matter
  a.push(0, s0);
  const auto t = drain(a);
  REQUIRE(t.size() >= 18);
  for (const auto& tr : t) {
    CHECK(tr.x[0] == tr.index % 2);
    CHECK(tr.x[1] == (tr.index / 2) % 2);
  }
}

TEST_CASE("assembly: a missing sync does not shift later trials", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  TagBlock s0, s1;
  for (int i = 0; i < 10; ++i) {
    s0.push_back(tag(0, i * kPeriod));
    s0.push_back(tag(2, i * kPeriod + 300));
    if (i != 4) s1.push_back(tag(0, i * kPeriod + 7));  // station 1 loses sync 4 (and has a small offset)
    s1.push_back(tag(1 + (i == 4 || i == 5), i * kPeriod + 307));
  }
  a.push(0, s0);
  a.push(1, s1);
  const auto t = drain(a);
  REQUIRE(t.size() >= 8);
  CHECK(a.counters().missing_syncs == 1);
  CHECK(t[4].x[1] == 1);  // the inferred sync 4 still owns its detection
  CHECK(t[5].x[1] == 1);
  CHECK(t[6].x[1] == 0);
  CHECK(t[3].x[1] == 0);
}

TEST_CASE("assembly: out-of-order tags within the reorder window are fine, beyond it a fault", "[assembly]") {
  auto c = two_party();
  c.reorder_window_ps = 2000;
  TrialAssembler a(c, intended);
  // Station 0 delivers the detection of trial 1 after the sync of trial 2.
  a.push(0, {tag(0, 0), tag(1, 300), tag(0, 1000), tag(0, 2000), tag(2, 1300), tag(0, 3000), tag(0, 6000)});
  a.push(1, {tag(0, 0), tag(0, 1000), tag(0, 2000), tag(0, 3000), tag(0, 6000)});
  const auto t = drain(a);
  REQUIRE(t.size() >= 2);
  CHECK(t[1].x[0] == 1);
  TrialAssembler strict(two_party(), intended);
  CHECK_THROWS_AS(strict.push(0, {tag(0, 0), tag(0, 1000), tag(1, 300)}), HardwareFault);
}

TEST_CASE("assembly: overflow and error tags are hardware faults", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  Tag o = tag(0, 1500);
  o.type = TagType::overflow_begin;
  try {
    a.push(0, {tag(0, 0), tag(0, 1000), o});
    FAIL("expected HardwareFault");
  } catch (const HardwareFault& e) {
    CHECK(std::string(e.what()).find("overflow_begin") != std::string::npos);
  }
}

TEST_CASE("assembly: a setting echo that contradicts the schedule names the trial", "[assembly]") {
  TrialAssembler a(two_party(true), intended);
  TagBlock s0, s1;
  for (int i = 0; i < 6; ++i) {
    s0.push_back(tag(0, i * kPeriod));
    const int applied0 = i == 3 ? 1 - i % 2 : i % 2;  // the modulator of party 0 errs at trial 3
    s0.push_back(tag(5 + applied0, i * kPeriod + 20));
    s0.push_back(tag(1, i * kPeriod + 300));
    s1.push_back(tag(0, i * kPeriod));
    s1.push_back(tag(5 + (i + 1) % 2, i * kPeriod + 20));
    s1.push_back(tag(1, i * kPeriod + 300));
  }
  a.push(0, s0);
  try {
    a.push(1, s1);
    FAIL("expected HardwareFault");
  } catch (const HardwareFault& e) {
    CHECK(std::string(e.what()).find("trial 3, party 0") != std::string::npos);
  }
  auto ok = drain(a);
  CHECK(ok.size() == 3);  // trials 0..2 were assembled before the fault
}

TEST_CASE("assembly: a tagger that stops mid-stream keeps every finished trial", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  TagBlock s0, s1;
  for (int i = 0; i < 10; ++i) {
    s0.push_back(tag(0, i * kPeriod));
    s0.push_back(tag(1, i * kPeriod + 300));
  }
  for (int i = 0; i < 5; ++i) {  // station 1 stops during trial 4's window
    s1.push_back(tag(0, i * kPeriod));
    if (i < 4) s1.push_back(tag(2, i * kPeriod + 300));
  }
  s1.push_back(tag(2, 4 * kPeriod + 200));
  a.push(0, s0);
  a.push(1, s1);
  a.end(1);
  const auto t = drain(a);
  CHECK(t.size() == 4);  // trial 4's window never closed on station 1: not emitted
  for (const auto& tr : t) CHECK(tr.x[1] == 1);
}

TEST_CASE("assembly: fair-sampling mode drops no-click trials (and only then)", "[assembly]") {
  auto c = two_party();
  c.fair_sampling = true;
  TrialAssembler a(c, intended);
  a.push(0, {tag(0, 0), tag(1, 300), tag(0, 1000), tag(0, 2000), tag(1, 2300), tag(0, 3000)});
  a.push(1, {tag(0, 0), tag(1, 300), tag(0, 1000), tag(1, 1300), tag(0, 2000), tag(2, 2300), tag(0, 3000)});
  const auto t = drain(a);
  REQUIRE(t.size() == 2);
  CHECK(t[0].index == 0);
  CHECK(t[1].index == 2);
  CHECK(a.counters().dropped_fair_sampling == 1);
  CHECK(a.fair_sampling());
}

TEST_CASE("assembly: inconsistent layouts are refused", "[assembly]") {
  auto c = two_party();
  c.parties[0].detector_channels = {1, 0};  // the sync channel as a detector
  CHECK_THROWS_AS(validate(c), std::invalid_argument);
  auto d = two_party();
  d.detection_width_ps = 2 * kPeriod;
  CHECK_THROWS_AS(validate(d), std::invalid_argument);
  auto e = two_party();
  e.sync_period_ps = 0;
  CHECK_THROWS_AS(validate(e), std::invalid_argument);
}

// ---- issue 10: settings pushed by the scheduler, hardware-chosen settings, time marks ----------

namespace {
// Two trials per party per test stream: sync, echo of `u` at +20, click on outcome `x` at +300.
void trial_tags(TagBlock& b, std::int64_t t0, int u, int x, bool echo = true) {
  b.push_back(tag(0, t0));
  if (echo) b.push_back(tag(5 + u, t0 + 20));
  if (x >= 0) b.push_back(tag(1 + x, t0 + 300));
}

// A scheduler with no modulators: it draws ahead exactly as with hardware. The draw is the same
// rule as intended() above, so the two constructors must give the same trials.
SettingScheduler make_scheduler(std::uint64_t planned, std::uint64_t lookahead, std::uint64_t* draws) {
  SchedulerConfig sc;
  sc.planned = planned;
  sc.lookahead = lookahead;
  sc.batch = lookahead;
  return SettingScheduler(
      [draws](std::uint64_t i, Trial& t) {
        ++*draws;
        t.u = intended(i).u;
        t.device = static_cast<std::uint32_t>(i % 3);  // travels through the assembler untouched
      },
      {}, sc);
}
}  // namespace

TEST_CASE("assembly: settings looked up from the scheduler, never drawn by the assembler", "[assembly][scheduler]") {
  std::uint64_t draws = 0;
  SettingScheduler s = make_scheduler(100, 8, &draws);
  s.prime();
  REQUIRE(draws == 8);
  TrialAssembler a(two_party(true), &s);
  TrialAssembler reference(two_party(true), intended);
  TagBlock s0, s1;
  for (int i = 0; i < 7; ++i) {  // trials 0..5 close (trial 6's window is still open)
    trial_tags(s0, i * kPeriod, i % 2, i % 3 == 0);
    trial_tags(s1, i * kPeriod, (i + 1) % 2, 1);
  }
  for (auto* x : {&a, &reference}) {
    x->push(0, s0);
    x->push(1, s1);
  }
  const auto t = drain(a), r = drain(reference);
  REQUIRE(t.size() == 6);
  REQUIRE(r.size() == 6);
  CHECK(draws == 8);  // looking settings up caused no draw
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(t[i].index == i);
    CHECK(t[i].u == r[i].u);
    CHECK(t[i].x == r[i].x);
    CHECK(t[i].flags == r[i].flags);
    CHECK(t[i].device == i % 3);
  }
}

TEST_CASE("assembly: a trial recorded before its settings were delivered is a fault naming it",
          "[assembly][scheduler]") {
  std::uint64_t draws = 0;
  SettingScheduler s = make_scheduler(100, 4, &draws);
  s.prime();  // trials 0..3 delivered; the apparatus records 0..7 without the scheduler advancing
  TrialAssembler a(two_party(), &s);
  TagBlock s0, s1;
  for (int i = 0; i < 8; ++i) {
    trial_tags(s0, i * kPeriod, 0, 1, false);
    trial_tags(s1, i * kPeriod, 0, 0, false);
  }
  a.push(0, s0);
  try {
    a.push(1, s1);
    FAIL("expected HardwareFault");
  } catch (const HardwareFault& e) {
    CHECK(std::string(e.what()).find("trial 4 was recorded before its settings were delivered") != std::string::npos);
  }
  CHECK(drain(a).size() == 4);  // the delivered trials were assembled and kept
  CHECK(draws == 4);
}

TEST_CASE("assembly: with the scheduler, an echo that disagrees is still a fault naming the trial",
          "[assembly][scheduler]") {
  std::uint64_t draws = 0;
  SettingScheduler s = make_scheduler(100, 16, &draws);
  s.prime();
  TrialAssembler a(two_party(true), &s);
  TagBlock s0, s1;
  for (int i = 0; i < 6; ++i) {
    trial_tags(s0, i * kPeriod, i % 2, 0);
    trial_tags(s1, i * kPeriod, i == 2 ? i % 2 : (i + 1) % 2, 0);  // party 1's modulator errs at trial 2
  }
  a.push(0, s0);
  CHECK_THROWS_WITH(a.push(1, s1), Catch::Contains("trial 2, party 1: modulator echo shows setting 0, intended 1"));
  CHECK(drain(a).size() == 2);
}

TEST_CASE("assembly: nullptr means no scheduled settings", "[assembly][scheduler]") {
  TrialAssembler a(two_party(), nullptr);
  a.push(0, {tag(0, 0), tag(2, 300), tag(0, 1000), tag(0, 2000)});
  a.push(1, {tag(0, 0), tag(1, 300), tag(0, 1000), tag(0, 2000)});
  const auto t = drain(a);
  REQUIRE(t.size() == 2);
  CHECK(t[0].u[0] == 0);
  CHECK(t[0].u[1] == 0);
  CHECK(t[0].x[0] == 1);
}

TEST_CASE("assembly: hardware-chosen settings are read from the echo", "[assembly][echo-settings]") {
  auto c = two_party(true);
  c.parties[0].echo_channels = {5, 6, 7};  // party 0: three settings, party 1: two
  c.settings_from_echo = true;
  TrialAssembler a(c);
  // The "physical weak source": an independent LCG (Numerical Recipes constants), its top bits
  // picking each party's setting; the fake tagger encodes them as echo tags.
  std::uint32_t state = 12345;
  std::vector<std::array<int, 2>> chosen;
  TagBlock s0, s1;
  for (int i = 0; i < 200; ++i) {
    state = state * 1664525u + 1013904223u;
    const int u0 = static_cast<int>((state >> 28) % 3), u1 = static_cast<int>((state >> 24) & 1);
    chosen.push_back({u0, u1});
    trial_tags(s0, i * kPeriod, u0, static_cast<int>(state >> 31));
    trial_tags(s1, i * kPeriod, u1, 0);
  }
  // Split into uneven blocks, interleaved, as two taggers would deliver them.
  for (std::size_t k = 0; k < s0.size(); k += 77) {
    a.push(0, TagBlock(s0.begin() + static_cast<std::ptrdiff_t>(k),
                       s0.begin() + static_cast<std::ptrdiff_t>(std::min(k + 77, s0.size()))));
    a.push(1, TagBlock(s1.begin() + static_cast<std::ptrdiff_t>(std::min(k, s1.size())),
                       s1.begin() + static_cast<std::ptrdiff_t>(std::min(k + 77, s1.size()))));
  }
  const auto t = drain(a);
  REQUIRE(t.size() == 199);  // trial 199's window is still open
  std::array<int, 3> seen0{};
  for (const auto& tr : t) {
    INFO("trial " << tr.index);
    CHECK(tr.u[0] == chosen[tr.index][0]);
    CHECK(tr.u[1] == chosen[tr.index][1]);
    ++seen0[tr.u[0]];
  }
  CHECK(seen0[2] > 0);  // the third setting really occurred
  CHECK(a.settings_from_echo());
}

TEST_CASE("assembly: hardware-chosen settings need exactly one echo per party-trial", "[assembly][echo-settings]") {
  auto c = two_party(true);
  c.settings_from_echo = true;
  SECTION("no echo") {
    TrialAssembler a(c);
    TagBlock s0, s1;
    for (int i = 0; i < 5; ++i) {
      trial_tags(s0, i * kPeriod, 0, 0);
      trial_tags(s1, i * kPeriod, 1, 0, i != 3);  // party 1 loses its echo in trial 3
    }
    a.push(0, s0);
    CHECK_THROWS_WITH(a.push(1, s1), Catch::Contains("trial 3, party 1: no setting echo"));
    CHECK(drain(a).size() == 3);
  }
  SECTION("two echoes") {
    TrialAssembler a(c);
    TagBlock s0, s1;
    for (int i = 0; i < 5; ++i) {
      trial_tags(s0, i * kPeriod, 0, 0);
      if (i == 1) s0.insert(s0.end() - 1, tag(6, i * kPeriod + 40));  // both settings echoed in trial 1
      trial_tags(s1, i * kPeriod, 1, 0);
    }
    a.push(0, s0);
    CHECK_THROWS_WITH(a.push(1, s1), Catch::Contains("trial 1, party 0: setting echoes on several values (0,1)"));
    CHECK(drain(a).size() == 1);
  }
  SECTION("layouts and constructors that contradict the mode are refused") {
    auto d = c;
    d.parties[1].echo_channels.clear();
    CHECK_THROWS_AS(validate(d), std::invalid_argument);
    CHECK_THROWS_AS(TrialAssembler(c, intended), std::invalid_argument);
    std::uint64_t draws = 0;
    SettingScheduler s = make_scheduler(10, 4, &draws);
    CHECK_THROWS_AS(TrialAssembler(c, &s), std::invalid_argument);
  }
}

TEST_CASE("assembly: a time mark closes the trailing trial that otherwise stays open", "[assembly][time-mark]") {
  Tag mark0 = tag(0, 0), mark1 = tag(0, 0);
  mark0.type = mark1.type = TagType::time_mark;
  TagBlock s0, s1;
  for (int i = 0; i < 5; ++i) {  // a segment of 5 trials, then the apparatus stops its clock
    trial_tags(s0, i * kPeriod, 0, 1, false);
    trial_tags(s1, i * kPeriod, 0, 0, false);
  }
  // Trial 4's window is [4100, 4500); its last tag is at 4300.
  SECTION("without a mark trial 4 is never final") {
    TrialAssembler a(two_party(), intended);
    a.push(0, s0);
    a.push(1, s1);
    CHECK(drain(a).size() == 4);
    a.end(0);
    a.end(1);
    CHECK(drain(a).empty());
  }
  SECTION("a mark at the window end closes it; one a picosecond earlier does not") {
    TrialAssembler a(two_party(), intended);
    a.push(0, s0);
    a.push(1, s1);
    CHECK(drain(a).size() == 4);
    mark0.time_ps = mark1.time_ps = 4499;  // a click at 4499 would still belong to trial 4
    a.push(0, {mark0});
    a.push(1, {mark1});
    CHECK(drain(a).empty());
    mark0.time_ps = 4500;
    a.push(0, {mark0});
    CHECK(drain(a).empty());  // station 1 has not said so yet
    mark1.time_ps = 4500;
    a.push(1, {mark1});
    const auto t = drain(a);
    REQUIRE(t.size() == 1);
    CHECK(t[0].index == 4);
    CHECK(t[0].x[0] == 1);
    CHECK(a.counters().missing_syncs == 0);
    CHECK(a.counters().time_marks == 4);
    // The mark was a promise: a tag older than it is time going backwards.
    CHECK_THROWS_AS(a.push(0, {tag(1, 4490)}), HardwareFault);
  }
  SECTION("a mark past the next expected sync infers it, as a tag there would") {
    TrialAssembler a(two_party(), intended);
    a.push(0, s0);
    a.push(1, s1);
    mark0.time_ps = mark1.time_ps = 5100;  // sync 5 expected at 5000, inferred from 5000 + 100
    a.push(0, {mark0});
    a.push(1, {mark1});
    const auto t = drain(a);
    REQUIRE(t.size() == 5);  // trial 4 closed; the inferred trial 5 is still open
    CHECK(a.counters().missing_syncs == 2);
  }
  SECTION("with a reorder window, a mark lets the pending tags through") {
    auto c = two_party();
    c.reorder_window_ps = 3000;
    TrialAssembler a(c, intended);
    a.push(0, s0);
    a.push(1, s1);
    CHECK(drain(a).size() == 1);  // only tags older than the newest minus 3000 are processed
    mark0.time_ps = mark1.time_ps = 4500;
    a.push(0, {mark0});
    a.push(1, {mark1});
    const auto t = drain(a);
    REQUIRE(t.size() == 4);
    CHECK(t.back().index == 4);
  }
}

TEST_CASE("assembly: trials finished before an overflow are kept", "[assembly]") {
  TrialAssembler a(two_party(), intended);
  a.push(1, {tag(0, 0), tag(0, 1000), tag(0, 2000), tag(0, 3000)});
  Tag o = tag(0, 2600);
  o.type = TagType::overflow_begin;
  CHECK_THROWS_WITH(a.push(0, {tag(0, 0), tag(0, 1000), tag(0, 2000), o}), Catch::Contains("overflow_begin"));
  CHECK(drain(a).size() == 2);  // trials 0 and 1 had closed on both stations before the overflow
}

// Differential test against an offline derivation of the rules of docs/trial-policy.md (whole
// streams known in advance; no streaming state): random missing syncs, clock offsets, clicks
// anywhere in the period (inside, outside and on the window edges), block splits and, with a
// reorder window, tags swapped within it.
TEST_CASE("assembly: random streams agree with an offline derivation", "[assembly][differential]") {
  const bool reorder = GENERATE(false, true);
  std::mt19937_64 rng(reorder ? 7 : 3);
  for (int round = 0; round < 40; ++round) {
    auto c = two_party();
    if (reorder) c.reorder_window_ps = 700;
    const int n = 50 + static_cast<int>(rng() % 200);
    const std::int64_t off[2] = {static_cast<std::int64_t>(rng() % 100000), static_cast<std::int64_t>(rng() % 100000)};
    TagBlock streams[2];
    std::vector<std::array<std::uint32_t, 2>> det(static_cast<std::size_t>(n + 2), {0, 0});
    std::uint64_t strays = 0, missing = 0;
    std::int64_t last[2] = {0, 0};
    std::uint64_t opened[2] = {0, 0};
    for (int p = 0; p < 2; ++p) {
      for (int i = 0; i < n; ++i) {
        const std::int64_t s = off[p] + i * kPeriod;
        const bool lost = i > 0 && i < n - 1 && rng() % 10 == 0;
        if (!lost) streams[p].push_back(tag(0, s));
        missing += lost;
        const int clicks = static_cast<int>(rng() % 3);
        for (int k = 0; k < clicks; ++k) {
          // Offsets in [1, 999]: 100 and 500 are the window edges (start in, end out).
          const std::int64_t edge[4] = {100, 499, 500, 99};
          const std::int64_t dt = rng() % 4 == 0 ? edge[rng() % 4] : 1 + static_cast<std::int64_t>(rng() % 999);
          const int o = static_cast<int>(rng() % 2);
          streams[p].push_back(tag(1 + o, s + dt));
          if (dt >= 100 && dt < 500)
            det[static_cast<std::size_t>(i)][static_cast<std::size_t>(p)] |= 1u << o;
          else
            ++strays;
        }
      }
      std::stable_sort(streams[p].begin(), streams[p].end(),
                       [](const Tag& x, const Tag& y) { return x.time_ps < y.time_ps; });
      last[p] = streams[p].back().time_ps;
      // Trials the station opens: the last sync is never lost, and every click comes less than
      // a period after its sync, so no tag is 100 ps (the earliest window offset) past the
      // expected time of a sync after the last: exactly n trials.
      opened[p] = static_cast<std::uint64_t>(n);
      REQUIRE(last[p] < off[p] + n * kPeriod + 100);
    }
    // Final for a station: opened trials whose window [100, 500) closed by its last tag.
    std::uint64_t final_trials = UINT64_MAX;
    for (int p = 0; p < 2; ++p) {
      std::uint64_t f = 0;
      while (f < opened[p] && off[p] + static_cast<std::int64_t>(f) * kPeriod + 500 <= last[p]) ++f;
      final_trials = std::min(final_trials, f);
    }
    if (reorder)  // swap neighbours less than the reorder window apart
      for (auto& s : streams)
        for (std::size_t k = 1; k < s.size(); ++k)
          if (rng() % 3 == 0 && s[k].time_ps - s[k - 1].time_ps < 700 && s[k].time_ps != s[k - 1].time_ps)
            std::swap(s[k], s[k - 1]);
    TrialAssembler a(c, intended);
    std::size_t at[2] = {0, 0};
    while (at[0] < streams[0].size() || at[1] < streams[1].size()) {
      const int p = static_cast<int>(rng() % 2);
      const std::size_t len = std::min<std::size_t>(1 + rng() % 40, streams[p].size() - at[p]);
      a.push(p, TagBlock(streams[p].begin() + static_cast<std::ptrdiff_t>(at[p]),
                         streams[p].begin() + static_cast<std::ptrdiff_t>(at[p] + len)));
      at[p] += len;
    }
    a.end(0);
    a.end(1);
    const auto t = drain(a);
    INFO("round " << round << ", reorder " << reorder);
    REQUIRE(t.size() == final_trials);
    std::uint64_t no_click = 0, multi = 0;
    for (const auto& tr : t) {
      for (std::size_t p = 0; p < 2; ++p) {
        const std::uint32_t d = det[tr.index][p];
        const int x = d == 0 ? 0 : (d & 1u) ? 0 : 1;
        CHECK(tr.x[p] == x);
        no_click += d == 0;
        multi += d == 3;
      }
      CHECK(tr.u == intended(tr.index).u);
    }
    CHECK(a.counters().no_click == no_click);
    CHECK(a.counters().multi_click == multi);
    CHECK(a.counters().missing_syncs == missing);
    CHECK(a.counters().stray_tags == strays);
  }
}

// pop_replacing (issue 10 §7: the session's blocks hand their rows' storage back, not zeroed):
// whatever the vector held before — here rows of 0xFF bytes, more or fewer than a batch — the
// trials popped are byte for byte those pop() gives into an empty vector from a second assembler
// fed the same tags, batch after batch, also with a reused vector shorter than the batch.
TEST_CASE("assembly: pop_replacing gives pop()'s trials whatever the vector held before", "[assembly]") {
  std::mt19937_64 rng(41);
  TrialAssembler a(two_party(true), intended), b(two_party(true), intended);
  Trial garbage;
  std::memset(static_cast<void*>(&garbage), 0xFF, sizeof garbage);
  std::vector<Trial> reused(300, garbage);
  std::uint64_t trial = 0;
  for (int batch = 0; batch < 40; ++batch) {
    const std::uint64_t n = 1 + rng() % 200;  // trials in this batch: below and above the vector's size
    for (int p = 0; p < 2; ++p) {
      TagBlock tags;
      for (std::uint64_t i = trial; i < trial + n; ++i) {
        const auto t0 = static_cast<std::int64_t>(i) * kPeriod;
        tags.push_back(tag(0, t0));
        tags.push_back(tag(5 + intended(i).u[static_cast<std::size_t>(p)], t0 + 50));
        if (rng() % 4 != 0) tags.push_back(tag(1 + static_cast<int>(rng() % 2), t0 + 200));  // sometimes no click
      }
      a.push(p, tags);
      b.push(p, tags);
    }
    trial += n;
    if (batch % 7 == 3) std::fill(reused.begin(), reused.end(), garbage);  // stale rows again
    if (batch % 11 == 5) reused.assign(3, garbage);                        // shorter than the batch
    a.pop_replacing(reused);
    const std::vector<Trial> want = drain(b);
    REQUIRE(reused.size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k) REQUIRE(std::memcmp(&reused[k], &want[k], sizeof(Trial)) == 0);
  }
  CHECK(a.counters().trials == b.counters().trials);
  CHECK(a.counters().no_click == b.counters().no_click);
}

// A station may serve several parties (shared sync channel); the usual layout gives each party
// its own station, and the assembler scans that layout with a specialised loop (one slot per
// sync, no loop over parties). Independent check of both loops against each other: the same
// clicks (window edges, strays, lost syncs, random block cuts) assembled once as two stations
// and once as one station carrying both parties' detectors must give the same trials and
// counters — except that a lost sync is inferred once per station that lost it.
TEST_CASE("assembly: one station serving two parties assembles what two stations do", "[assembly][differential]") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 40; ++round) {
    const int n = 20 + static_cast<int>(rng() % 150);
    const std::int64_t off = static_cast<std::int64_t>(rng() % 100000);
    TagBlock per_station[2], shared;
    std::uint64_t lost_syncs = 0;
    for (int i = 0; i <= n; ++i) {
      const std::int64_t s = off + i * kPeriod;
      const bool lost = i > 0 && i < n && rng() % 8 == 0;
      lost_syncs += lost;
      if (!lost) {
        for (auto& st : per_station) st.push_back(tag(0, s));
        shared.push_back(tag(0, s));
      }
      if (i == n) break;  // the last sync only closes trial n − 1
      for (int p = 0; p < 2; ++p)
        for (int k = static_cast<int>(rng() % 3); k > 0; --k) {
          const std::int64_t edge[4] = {100, 499, 500, 99};
          const std::int64_t dt = rng() % 4 == 0 ? edge[rng() % 4] : 1 + static_cast<std::int64_t>(rng() % 999);
          const int o = static_cast<int>(rng() % 2);
          per_station[p].push_back(tag(1 + o, s + dt));
          shared.push_back(tag(1 + 2 * p + o, s + dt));  // party 1's detectors are channels 3, 4
        }
      if (rng() % 5 == 0) {  // a channel nobody uses: a stray in both layouts
        per_station[0].push_back(tag(9, s + 300));
        shared.push_back(tag(9, s + 300));
      }
    }
    const auto by_time = [](const Tag& x, const Tag& y) { return x.time_ps < y.time_ps; };
    for (auto* s : {&per_station[0], &per_station[1], &shared}) {
      std::stable_sort(s->begin(), s->end(), by_time);
      Tag mark = tag(0, off + n * kPeriod + 600);  // every tag before the last sync's window end is in
      mark.type = TagType::time_mark;
      s->push_back(mark);
    }
    auto one = two_party();
    one.parties[1].station = 0;
    one.parties[1].detector_channels = {3, 4};
    const auto feed = [&](TrialAssembler& a, const TagBlock* streams, int nstreams) {
      std::size_t at[2] = {0, 0};
      for (;;) {
        int p = static_cast<int>(rng() % static_cast<std::uint64_t>(nstreams));
        if (at[p] == streams[p].size()) p = nstreams - 1 - p;
        if (at[p] == streams[p].size()) break;
        const std::size_t len = std::min<std::size_t>(1 + rng() % 40, streams[p].size() - at[p]);
        a.push(p, TagBlock(streams[p].begin() + static_cast<std::ptrdiff_t>(at[p]),
                           streams[p].begin() + static_cast<std::ptrdiff_t>(at[p] + len)));
        at[p] += len;
      }
      for (int p = 0; p < nstreams; ++p) a.end(p);
    };
    TrialAssembler two_stations(two_party(), intended), one_station(one, intended);
    feed(two_stations, per_station, 2);
    feed(one_station, &shared, 1);
    const auto a = drain(two_stations), b = drain(one_station);
    INFO("round " << round);
    REQUIRE(a.size() == static_cast<std::size_t>(n + 1));  // trial n: the last sync, closed by the mark
    REQUIRE(b.size() == a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("trial " << i);
      CHECK(std::memcmp(&a[i], &b[i], sizeof(Trial)) == 0);
    }
    CHECK(two_stations.counters().no_click == one_station.counters().no_click);
    CHECK(two_stations.counters().multi_click == one_station.counters().multi_click);
    CHECK(two_stations.counters().stray_tags == one_station.counters().stray_tags);
    CHECK(two_stations.counters().missing_syncs == 2 * lost_syncs);
    CHECK(one_station.counters().missing_syncs == lost_syncs);
  }
}
