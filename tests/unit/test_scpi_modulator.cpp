// usbtmc-awg (issue 4 §4): instrument profiles, the exact SCPI text sent for a schedule, the
// instrument's error queue, timeouts and readback, against the fake USBTMC instrument. The golden
// SCPI text is written out by hand from the profile's templates and levels (the normalized
// values are (2·(v − low)/(high − low) − 1) worked out per channel in the comments).
#include "dira/drivers/scpi_modulator/modulator.hpp"
#include "dira/drivers/scpi_modulator/profile.hpp"
#include "dira/drivers/usbtmc/fake_instrument.hpp"
#include "dira/hal/registry.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace dira::drivers;
using namespace dira::drivers::scpi_modulator;
using dira::hal::HardwareFault;

namespace {

// Two channels, three settings, every placeholder.
const std::string kProfile = R"(name: test-awg
settings: 3
settling_time_ns: 12.5
segment_offset: 1
channels:
  - {number: 1, name: cell-a, min_volts: -5, max_volts: 5}
  - {number: 2, name: cell-b}
levels:
  - [0, -1.25]
  - [2.5, 0]
  - [1.25, 1.25]
commands:
  reset: ["*RST"]
  setup: ["DISP:TEXT 'dira'"]
  segment: ["SEGM{ch}:DEF {segment},{level},{normalized_level}"]
  sequence: ["SEQ{ch}:LEN {length}", "SEQ{ch}:DATA {segments}", "ARB{ch} {normalized}", "SEQ:LABELS {settings}", "*OPC?"]
  trigger: ["TRIG:SOUR EXT"]
  arm: ["VOLT{ch}:HIGH {high}", "VOLT{ch}:LOW {low}", "INIT:FIRST {first_trial}"]
readback:
  mode: step_count
  query: "SEQ:POS?"
)";

struct Rig {
  usbtmc::FakeInstrument* fake = nullptr;
  std::unique_ptr<ScpiModulator> awg;
};

Rig make_rig(const Profile& p, const std::function<void(usbtmc::FakeInstrument&)>& prepare = {}) {
  auto f = std::make_unique<usbtmc::FakeInstrument>();
  Rig r;
  r.fake = f.get();
  if (prepare) prepare(*f);
  ScpiModulator::Options o;
  o.resource = "fake";
  r.awg = std::make_unique<ScpiModulator>(p, std::move(f), o);
  return r;
}

/// Each command followed by the error query, as each_command error checking sends them.
std::vector<std::string> checked(std::initializer_list<const char*> commands) {
  std::vector<std::string> out;
  for (const char* c : commands) {
    out.push_back(std::string(c) + "\n");
    out.push_back("SYST:ERR?\n");
  }
  return out;
}

std::vector<std::string> tail(const std::vector<std::string>& v, std::size_t from) {
  return std::vector<std::string>(v.begin() + static_cast<std::ptrdiff_t>(from), v.end());
}

int line_of(const std::string& text, const std::string& needle) {
  const auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

}  // namespace

TEST_CASE("usbtmc-awg: the exact SCPI text for opening and for a schedule", "[scpi_modulator]") {
  const auto p = parse_profile(kProfile, "test.yaml");
  auto r = make_rig(p);
  // channel 1 levels 0, 2.5, 1.25: low 0, high 2.5, normalized -1, 1, 0
  // channel 2 levels -1.25, 0, 1.25: low -1.25, high 1.25, normalized -1, 0, 1
  auto open = checked({"*RST", "DISP:TEXT 'dira'", "SEGM1:DEF 1,0,-1", "SEGM1:DEF 2,2.5,1", "SEGM1:DEF 3,1.25,0",
                       "SEGM2:DEF 1,-1.25,-1", "SEGM2:DEF 2,0,0", "SEGM2:DEF 3,1.25,1"});
  open.insert(open.begin(), "*IDN?\n");
  CHECK(r.fake->messages() == open);
  CHECK(r.awg->identity() == "DIRA,FAKE-USBTMC,FAKE0001,1.0 [profile test-awg]");

  const std::vector<std::uint8_t> schedule{2, 0, 1, 1};  // segments 3,1,2,2
  r.awg->schedule(100, schedule);
  CHECK(tail(r.fake->messages(), open.size()) ==
        checked({"SEQ1:LEN 4", "SEQ2:LEN 4", "SEQ1:DATA 3,1,2,2", "SEQ2:DATA 3,1,2,2", "ARB1 0,-1,1,1", "ARB2 1,-1,0,0",
                 "SEQ:LABELS 2,0,1,1", "*OPC?", "TRIG:SOUR EXT", "VOLT1:HIGH 2.5", "VOLT2:HIGH 1.25", "VOLT1:LOW 0",
                 "VOLT2:LOW -1.25", "INIT:FIRST 100"}));
  CHECK(r.fake->violations().empty());
  CHECK(r.awg->settling_time_ns() == 12.5);
}

TEST_CASE("usbtmc-awg: the shipped awg-generic profile, golden text", "[scpi_modulator]") {
  const auto p = load_profile("awg-generic");
  CHECK(p.example);
  auto r = make_rig(p);
  auto open = checked({"*RST", "*CLS", "SOUR1:FUNC:MODE SEQ", "SOUR1:SEGM:DEF 1,0", "SOUR1:SEGM:DEF 2,2.5"});
  open.insert(open.begin(), "*IDN?\n");
  CHECK(r.fake->messages() == open);
  const std::vector<std::uint8_t> schedule{0, 1, 1, 0};
  r.awg->schedule(0, schedule);
  CHECK(tail(r.fake->messages(), open.size()) == checked({"SOUR1:SEQ:DEF 4", "SOUR1:SEQ:DATA 1,2,2,1", "TRIG:SOUR EXT",
                                                          "TRIG:SLOP POS", "SOUR1:SEQ:ADV TRIG", "OUTP1 ON", "INIT"}));
}

TEST_CASE("usbtmc-awg: the Keysight 33500B example profile", "[scpi_modulator]") {
  const auto p = load_profile("keysight-33500b-example");
  CHECK(p.example);
  CHECK(p.readback == Readback::marker);
  CHECK(p.channels.size() == 2);
  const std::vector<std::uint8_t> s{0, 1, 0, 1, 1, 0, 0, 1};
  const auto cmds = schedule_commands(p, 0, s);
  std::vector<std::string> texts;
  for (const auto& c : cmds) texts.push_back(c.text);
  // levels 0 / 2.5 V on both channels: normalized -1 / +1, VOLT:HIGH 2.5, VOLT:LOW 0.
  CHECK(std::find(texts.begin(), texts.end(), "SOUR1:DATA:ARB DIRA_SEQ,-1,1,-1,1,1,-1,-1,1") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "SOUR2:DATA:ARB DIRA_SEQ,-1,1,-1,1,1,-1,-1,1") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "SOUR2:VOLT:HIGH 2.5") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "TRIG1:SOUR EXT") != texts.end());
  const auto opc = std::find_if(cmds.begin(), cmds.end(), [](const Command& c) { return c.text == "*OPC?"; });
  REQUIRE(opc != cmds.end());
  CHECK(opc->query);
  // The 33500B's shortest ARB is 8 points.
  const std::vector<std::uint8_t> short_schedule{0, 1, 0};
  CHECK_THROWS_AS(schedule_commands(p, 0, short_schedule), std::invalid_argument);
  // Marker readback: nothing is asked of the instrument.
  auto r = make_rig(p);
  r.awg->schedule(0, s);
  const auto before = r.fake->messages().size();
  CHECK(r.awg->readback().empty());
  CHECK(r.fake->messages().size() == before);
}

TEST_CASE("usbtmc-awg: an instrument error is a HardwareFault naming the command", "[scpi_modulator]") {
  const auto p = parse_profile(kProfile, "test.yaml");
  auto r = make_rig(p, [](usbtmc::FakeInstrument& f) { f.fail_on("SEQ2:DATA", -222, "Data out of range"); });
  const std::vector<std::uint8_t> schedule{2, 0, 1, 1};
  try {
    r.awg->schedule(100, schedule);
    FAIL("expected a HardwareFault");
  } catch (const HardwareFault& e) {
    CHECK_THAT(e.what(), Catch::Contains("-222,\"Data out of range\"") &&
                             Catch::Contains("after 'SEQ2:DATA 3,1,2,2'") && Catch::Contains("test-awg"));
  }
  // The queue is read until empty, then nothing more is sent.
  const auto& m = r.fake->messages();
  REQUIRE(m.size() >= 3);
  CHECK(m[m.size() - 3] == "SEQ2:DATA 3,1,2,2\n");
  CHECK(m[m.size() - 2] == "SYST:ERR?\n");
  CHECK(m[m.size() - 1] == "SYST:ERR?\n");
  CHECK(r.awg->readback().empty());  // nothing counts as scheduled after a failed upload

  // At open: the constructor fails, naming *RST.
  CHECK_THROWS_WITH(make_rig(p, [](usbtmc::FakeInstrument& f) { f.fail_on("*RST", -100, "Command error"); }),
                    Catch::Contains("after '*RST'"));

  // each_group: one error query per group, the message lists the group's commands.
  auto grouped = p;
  grouped.check_errors = ErrorCheck::each_group;
  auto g = make_rig(grouped, [](usbtmc::FakeInstrument& f) { f.fail_on("SEQ:LABELS", -222, "Data out of range"); });
  CHECK_THROWS_WITH(g.awg->schedule(0, schedule),
                    Catch::Contains("after the 'sequence' commands ('SEQ1:LEN 4', 'SEQ2:LEN 4'"));
}

TEST_CASE("usbtmc-awg: a timeout names the command and the connection recovers", "[scpi_modulator]") {
  const auto p = parse_profile(kProfile, "test.yaml");
  auto r = make_rig(p);
  r.fake->faults().silent = 1;  // the first query of the schedule (SYST:ERR? after SEQ1:LEN) gets no answer
  const std::vector<std::uint8_t> schedule{0, 1};
  CHECK_THROWS_AS(r.awg->schedule(0, schedule), usbtmc::TimeoutError);
  r.fake->faults().silent = 1;
  CHECK_THROWS_WITH(r.awg->schedule(0, schedule),
                    Catch::Contains("'SYST:ERR?' after 'SEQ1:LEN 2'") && Catch::Contains("timed out"));
  r.awg->schedule(0, schedule);  // the abort sequence left the connection usable
  CHECK(r.fake->violations().empty());
}

TEST_CASE("usbtmc-awg: step_count readback reports each applied trial once", "[scpi_modulator]") {
  const auto p = parse_profile(kProfile, "test.yaml");
  auto r = make_rig(p);
  const auto before = r.fake->messages().size();
  CHECK(r.awg->readback().empty());  // nothing scheduled: nothing asked
  CHECK(r.fake->messages().size() == before);
  const std::vector<std::uint8_t> schedule{2, 0, 1, 1};
  r.awg->schedule(100, schedule);
  r.fake->reply("SEQ:POS?", "+3");
  const auto a = r.awg->readback();
  REQUIRE(a.size() == 3);
  CHECK((a[0].trial == 100 && a[0].setting == 2));
  CHECK((a[1].trial == 101 && a[1].setting == 0));
  CHECK((a[2].trial == 102 && a[2].setting == 1));
  r.fake->reply("SEQ:POS?", "4");
  const auto b = r.awg->readback();
  REQUIRE(b.size() == 1);
  CHECK((b[0].trial == 103 && b[0].setting == 1));
  r.fake->reply("SEQ:POS?", "5");
  CHECK_THROWS_WITH(r.awg->readback(), Catch::Contains("5 steps but the uploaded sequence has 4"));
  r.fake->reply("SEQ:POS?", "2");
  CHECK_THROWS_AS(r.awg->readback(), HardwareFault);
  r.fake->reply("SEQ:POS?", "busy");
  CHECK_THROWS_AS(r.awg->readback(), HardwareFault);
}

TEST_CASE("usbtmc-awg: settings, labels and lengths are checked before anything is sent", "[scpi_modulator]") {
  const auto p = parse_profile(kProfile, "test.yaml");
  auto r = make_rig(p);
  const auto before = r.fake->messages().size();
  const std::vector<std::uint8_t> bad{0, 3};  // S = 3: labels 0..2
  CHECK_THROWS_AS(r.awg->schedule(0, bad), std::invalid_argument);
  CHECK_THROWS_AS(r.awg->schedule(0, std::vector<std::uint8_t>{}), std::invalid_argument);
  CHECK(r.fake->messages().size() == before);

  CHECK(std::get<std::int64_t>(r.awg->get("channels")) == 2);
  CHECK(std::get<std::int64_t>(r.awg->get("settings")) == 3);
  CHECK(std::get<std::string>(r.awg->get("readback")) == "step_count");
  CHECK(std::get<double>(r.awg->get("settling_time_ns")) == 12.5);
  CHECK(std::get<std::int64_t>(r.awg->get("timeout_ms")) == 2000);  // the profile's default
  r.awg->set("timeout_ms", std::int64_t{500});
  CHECK(std::get<std::int64_t>(r.awg->get("timeout_ms")) == 500);
  CHECK(r.awg->connection().options().timeout == std::chrono::milliseconds(500));
  CHECK_THROWS_AS(r.awg->set("timeout_ms", std::int64_t{0}), std::invalid_argument);
  CHECK_THROWS_AS(r.awg->set("profile", std::string("x")), std::invalid_argument);
  CHECK_THROWS_AS(r.awg->set("bogus", true), std::invalid_argument);
}

TEST_CASE("instrument profiles: every problem reported at once, with its line", "[scpi_modulator]") {
  const std::string text = R"(name: bad
settings: 2
settling_time_ns: -1
colour: blue
channels:
  - {number: 1, max_volts: 5}
levels:
  - [0]
  - [7]
commands:
  sequence: ["SEQ:DATA {setting}"]
  arm: ["GO {bogus"]
readback: {mode: echo}
)";
  try {
    parse_profile(text, "bad.yaml");
    FAIL("expected a ProfileError");
  } catch (const ProfileError& e) {
    const auto& i = e.issues();
    auto has = [&](const std::string& needle) {
      return std::any_of(i.begin(), i.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
    };
    CHECK(has("bad.yaml:" + std::to_string(line_of(text, "settling_time_ns")) + ":19: settling_time_ns: must be ≥ 0"));
    CHECK(has("bad.yaml:" + std::to_string(line_of(text, "colour")) + ":1: colour: unknown key"));
    CHECK(has("bad.yaml:" + std::to_string(line_of(text, "[7]")) +
              ":6: levels[1][0]: 7 V outside channel 1's range "
              "[-inf, 5] V"));
    CHECK(has("commands.sequence[0]: placeholder {setting} is not available in 'sequence'"));
    CHECK(has("commands.sequence: no command uses {settings}"));
    CHECK(has("commands.arm[0]: '{' without '}'"));
    CHECK(has("readback.mode: 'echo' is not one of: marker, step_count"));
    CHECK(i.size() == 7);
  }
  CHECK_THROWS_WITH(load_profile("no-such-profile"), Catch::Contains("known: ") && Catch::Contains("awg-generic"));
  const auto known = known_profiles();
  CHECK(std::find(known.begin(), known.end(), "keysight-33500b-example") != known.end());
}

TEST_CASE("usbtmc-awg is registered, scans without USB, creates on the fake, explains a missing device",
          "[scpi_modulator]") {
  dira::hal::DriverRegistry reg;
  register_usbtmc(reg);
  const auto* d = reg.find("usbtmc-awg", dira::hal::DeviceKind::modulator);
  REQUIRE(d);
  CHECK_NOTHROW(d->scan());  // an empty list when there is no USB access
  CHECK(reg.validate(*d, {{"resource", std::string("fake")}, {"profile", std::string("awg-generic")}}).empty());
  const auto problems = reg.validate(*d, {{"channels", std::int64_t{3}}, {"timeout_ms", std::int64_t{0}}});
  CHECK(problems.size() == 2);

  auto dev = d->create({{"resource", std::string("fake")}});
  auto* mod = dynamic_cast<dira::hal::Modulator*>(dev.get());
  REQUIRE(mod);
  CHECK_THAT(mod->identity(), Catch::Contains("FAKE-AWG") && Catch::Contains("awg-generic"));
  const std::vector<std::uint8_t> schedule{0, 1, 1};
  mod->schedule(7, schedule);
  CHECK(mod->readback().empty());  // the fake has seen no trigger edge
  CHECK(mod->settling_time_ns() == 50.0);

  CHECK_THROWS_WITH(d->create({{"resource", std::string("0957:1234")}}),
                    Catch::StartsWith("no USBTMC device matching 0x0957:0x1234"));
  CHECK_THROWS_AS(d->create({}), std::invalid_argument);  // awg-generic has no default resource
  CHECK_THROWS_AS(d->create({{"resource", std::string("fake")}, {"colour", std::string("blue")}}),
                  std::invalid_argument);
}
