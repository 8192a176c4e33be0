// Trial assembly from hand-built tag streams: every rule of docs/trial-policy.md and the
// edge cases of issue 4 §3, each with the expected trials written out by hand.
#include "dira/hal/device.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <catch2/catch.hpp>

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
  a.push(1, {tag(0, 0), tag(1, 200), tag(0, 1000), tag(1, 1200), tag(0, 2000), tag(1, 2200), tag(0, 3000), tag(0, 4000)});
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
