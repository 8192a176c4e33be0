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
  // A sequence memory: segment delivery (issue 10), upload → confirm (*OPC? answers 1) → arm.
  CHECK(r.awg->delivery() == dira::hal::SettingDelivery::segment);
  CHECK(r.awg->segment_capacity() == 65536);
  const std::vector<std::uint8_t> schedule{0, 1, 1, 0};
  r.awg->schedule(0, schedule);
  CHECK(tail(r.fake->messages(), open.size()) ==
        checked({"SOUR1:SEQ:DEF 4", "SOUR1:SEQ:DATA 1,2,2,1", "TRIG:SOUR EXT", "TRIG:SLOP POS", "SOUR1:SEQ:ADV TRIG"}));
  const auto uploaded = r.fake->messages().size();
  CHECK(r.awg->confirm(4));
  CHECK(tail(r.fake->messages(), uploaded) == std::vector<std::string>{"*OPC?\n"});
  r.awg->arm();
  CHECK(tail(r.fake->messages(), uploaded + 1) == checked({"OUTP1 ON", "INIT"}));
  CHECK(r.fake->violations().empty());
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
      return std::any_of(i.begin(), i.end(), [&](const auto& s) { return s.str().find(needle) != std::string::npos; });
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
  CHECK(mod->delivery() == dira::hal::SettingDelivery::segment);
  CHECK(std::get<std::string>(mod->get("delivery")) == "segment");
  CHECK(std::get<std::int64_t>(mod->get("segment_trials")) == 65536);
  mod->schedule(7, schedule);
  CHECK(mod->confirm(10));
  mod->arm();
  CHECK(mod->readback().empty());  // the fake has seen no trigger edge
  // delivery and segment_trials are declared, read-only (from the profile).
  for (const char* key : {"delivery", "segment_trials"}) {
    const auto c = std::find_if(d->capabilities.begin(), d->capabilities.end(),
                                [&](const dira::hal::Capability& x) { return x.key == key; });
    REQUIRE(c != d->capabilities.end());
    CHECK_FALSE(c->can_set);
  }
  CHECK(reg.validate(*d, {{"delivery", std::string("streaming")}}).size() == 1);
  CHECK(mod->settling_time_ns() == 50.0);

  CHECK_THROWS_WITH(d->create({{"resource", std::string("0957:1234")}}),
                    Catch::StartsWith("no USBTMC device matching 0x0957:0x1234"));
  CHECK_THROWS_AS(d->create({}), std::invalid_argument);  // awg-generic has no default resource
  CHECK_THROWS_AS(d->create({{"resource", std::string("fake")}, {"colour", std::string("blue")}}),
                  std::invalid_argument);
}

// ---- delivery modes (issue 10 item 1) -------------------------------------------------------------

namespace {

// kProfile with a sequence memory of 4 steps and a length readback as the confirm query.
std::string segment_profile(const std::string& delivery) {
  return kProfile + delivery;
}

}  // namespace

TEST_CASE("usbtmc-awg: segment delivery uploads, confirms, then arms, in that order", "[scpi_modulator][delivery]") {
  const auto p = parse_profile(segment_profile(R"(delivery:
  mode: segment
  segment_trials: 4
  confirm: "SEQ:LEN?"
  confirm_reply: "{length}"
)"),
                               "seg.yaml");
  CHECK(p.delivery == dira::hal::SettingDelivery::segment);
  auto r = make_rig(p, [](usbtmc::FakeInstrument& f) { f.reply("SEQ:LEN?", "4"); });
  CHECK(r.awg->delivery() == dira::hal::SettingDelivery::segment);
  CHECK(r.awg->segment_capacity() == 4);
  CHECK(std::get<std::string>(r.awg->get("delivery")) == "segment");
  CHECK(std::get<std::int64_t>(r.awg->get("segment_trials")) == 4);
  const auto opened = r.fake->messages().size();

  // More than the sequence memory holds: refused before anything is sent.
  const std::vector<std::uint8_t> five{0, 1, 2, 0, 1};
  CHECK_THROWS_WITH(r.awg->schedule(100, five), Catch::Contains("accepts segments of 1 to 4 steps"));
  CHECK_THROWS_AS(r.awg->arm(), std::logic_error);  // nothing uploaded
  CHECK(r.fake->messages().size() == opened);

  // Upload: sequence and trigger only (the same text as streaming mode, without the arm group).
  const std::vector<std::uint8_t> schedule{2, 0, 1, 1};
  r.awg->schedule(100, schedule);
  CHECK(tail(r.fake->messages(), opened) ==
        checked({"SEQ1:LEN 4", "SEQ2:LEN 4", "SEQ1:DATA 3,1,2,2", "SEQ2:DATA 3,1,2,2", "ARB1 0,-1,1,1", "ARB2 1,-1,0,0",
                 "SEQ:LABELS 2,0,1,1", "*OPC?", "TRIG:SOUR EXT"}));
  const auto uploaded = r.fake->messages().size();
  CHECK(r.awg->readback().empty());  // not armed: no step count asked
  CHECK_THROWS_WITH(r.awg->arm(), Catch::Contains("arm() before confirm() of trials 100..104"));
  CHECK(r.awg->confirm(100));        // trials before the upload: nothing to ask
  CHECK_FALSE(r.awg->confirm(105));  // trial 104 is not in the upload
  CHECK(r.fake->messages().size() == uploaded);

  // Confirm: the query once, its reply compared with {length} = 4.
  CHECK(r.awg->confirm(104));
  CHECK(r.awg->confirm(104));
  CHECK(tail(r.fake->messages(), uploaded) == std::vector<std::string>{"SEQ:LEN?\n"});

  // Arm: the held-back arm group, with this upload's placeholders.
  r.awg->arm();
  CHECK(tail(r.fake->messages(), uploaded + 1) ==
        checked({"VOLT1:HIGH 2.5", "VOLT2:HIGH 1.25", "VOLT1:LOW 0", "VOLT2:LOW -1.25", "INIT:FIRST 100"}));
  CHECK_THROWS_WITH(r.awg->arm(), Catch::Contains("armed twice"));
  r.fake->reply("SEQ:POS?", "2");
  const auto a = r.awg->readback();
  REQUIRE(a.size() == 2);
  CHECK((a[0].trial == 100 && a[0].setting == 2 && a[1].trial == 101 && a[1].setting == 0));

  // The next segment: a confirm reply that disagrees with the upload is a hardware fault.
  const std::vector<std::uint8_t> next{1, 1, 0};
  r.awg->schedule(104, next);
  CHECK(r.awg->readback().empty());  // the new segment is not armed yet
  CHECK_THROWS_WITH(r.awg->confirm(107), Catch::Contains("'SEQ:LEN?' answered '4', expected '3' after uploading "
                                                         "trials 104..107"));
  CHECK_THROWS_AS(r.awg->arm(), std::logic_error);  // still unconfirmed
  CHECK(r.fake->violations().empty());
}

TEST_CASE("usbtmc-awg: a segment profile without a confirm query confirms once the upload returned",
          "[scpi_modulator][delivery]") {
  auto p = parse_profile(segment_profile("delivery: {mode: segment}\n"), "seg.yaml");
  CHECK(p.segment_trials == p.max_length);  // default: the whole sequence memory
  auto r = make_rig(p);
  const std::vector<std::uint8_t> schedule{0, 1};
  CHECK_FALSE(r.awg->confirm(2));  // nothing uploaded yet
  r.awg->schedule(0, schedule);
  const auto uploaded = r.fake->messages().size();
  CHECK(r.awg->confirm(2));
  CHECK(r.fake->messages().size() == uploaded);  // nothing asked
  r.awg->arm();
  CHECK(tail(r.fake->messages(), uploaded) ==
        checked({"VOLT1:HIGH 2.5", "VOLT2:HIGH 1.25", "VOLT1:LOW 0", "VOLT2:LOW -1.25", "INIT:FIRST 0"}));
}

TEST_CASE("usbtmc-awg: a profile without a sequence memory is streaming", "[scpi_modulator][delivery]") {
  for (const std::string& extra : {std::string(), std::string("delivery: {mode: streaming}\n")}) {
    const auto p = parse_profile(kProfile + extra, "stream.yaml");
    auto r = make_rig(p);
    CHECK(r.awg->delivery() == dira::hal::SettingDelivery::streaming);
    CHECK(r.awg->segment_capacity() == 0);
    CHECK(std::get<std::string>(r.awg->get("delivery")) == "streaming");
    CHECK(std::get<std::int64_t>(r.awg->get("segment_trials")) == 0);
    const auto opened = r.fake->messages().size();
    const std::vector<std::uint8_t> schedule{1, 2};
    r.awg->schedule(10, schedule);
    // Upload and arm at once: the arm group follows the trigger group.
    const auto sent = tail(r.fake->messages(), opened);
    REQUIRE(sent.size() >= 2);
    CHECK(sent[sent.size() - 2] == "INIT:FIRST 10\n");
    const auto after = r.fake->messages().size();
    CHECK(r.awg->confirm(12));
    r.awg->arm();  // nothing: already armed
    CHECK(r.fake->messages().size() == after);
  }
}

TEST_CASE("instrument profiles: delivery problems reported with their lines", "[scpi_modulator][delivery]") {
  const std::string text = kProfile + R"(delivery:
  mode: burst
  segment_trials: 70000
  confirm_reply: "{ch}"
  colour: red
)";
  try {
    parse_profile(text, "d.yaml");
    FAIL("expected a ProfileError");
  } catch (const ProfileError& e) {
    const auto& i = e.issues();
    auto has = [&](const std::string& needle) {
      return std::any_of(i.begin(), i.end(), [&](const auto& s) { return s.str().find(needle) != std::string::npos; });
    };
    CHECK(has("d.yaml:" + std::to_string(line_of(text, "mode: burst")) +
              ":9: delivery.mode: 'burst' is not one of: segment, streaming"));
    CHECK(has("d.yaml:" + std::to_string(line_of(text, "segment_trials")) +
              ":19: delivery.segment_trials: only for mode: segment"));
    CHECK(has("d.yaml:" + std::to_string(line_of(text, "confirm_reply")) +
              ":18: delivery.confirm_reply: given without delivery.confirm"));
    CHECK(has("d.yaml:" + std::to_string(line_of(text, "colour: red")) + ":3: delivery.colour: unknown key"));
    CHECK(i.size() == 4);
  }
  const std::string too_long = kProfile + "max_length: 100\ndelivery: {mode: segment, segment_trials: 101}\n";
  CHECK_THROWS_WITH(parse_profile(too_long, "l.yaml"),
                    Catch::Contains("delivery.segment_trials: 101 outside the sequence lengths the instrument accepts "
                                    "[1, 100]"));
  const std::string bad_reply =
      kProfile + "delivery: {mode: segment, confirm: \"SEQ:LEN?\", confirm_reply: \"{ch}\"}\n";
  CHECK_THROWS_WITH(parse_profile(bad_reply, "r.yaml"),
                    Catch::Contains("placeholder {ch} is not available in 'delivery.confirm_reply' (available: "
                                    "{length}, {first_trial})"));
}

TEST_CASE("instrument profiles: a complex key is a profile error with its line (issue 12)", "[scpi_modulator]") {
  // Before: as<std::string>() on a sequence key threw a yaml-cpp exception, reported as a hardware fault.
  const std::string text = kProfile + "? [a, b]\n: 1\n";
  try {
    parse_profile(text, "k.yaml");
    FAIL("expected a ProfileError");
  } catch (const ProfileError& e) {
    REQUIRE(e.issues().size() == 1);
    CHECK_THAT(e.issues()[0].str(), Catch::StartsWith("k.yaml:" + std::to_string(line_of(text, "? [a, b]")) +
                                                      ":3: (key): "
                                                      "expected a plain key"));
  }
}
