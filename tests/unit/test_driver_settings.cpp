// A device's `settings:` in YAML is read by one function, app::read_driver_settings, for experiment
// files (`simulator:`, `devices:`, `stations:`) and station files (`tagger:`, `modulators:`). The
// expected types and messages below are read by hand from the sim driver's declarations
// (sim/src/capabilities.cpp: seed, block_trials and device_block_trials integers, station an
// integer in [0, 3], visibility a real in [0, 1], echo a boolean, modulator_delivery streaming or
// segment) and the positions are counted by hand in the texts.
#include "dira/app/devices.hpp"
#include "dira/app/driver_settings.hpp"
#include "dira/app/experiment.hpp"
#include "dira/conf/issue.hpp"
#include "scratch_files.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <variant>

namespace {

using dira::hal::SettingValue;

const dira::hal::DriverInfo& sim_driver() {
  const auto* d = dira::app::driver_registry().find("sim", dira::hal::DeviceKind::time_tagger);
  REQUIRE(d != nullptr);
  return *d;
}

/// Reads `yaml` (a map of settings) as the sim driver's settings under the key path "s".
std::map<std::string, SettingValue> read(const std::string& yaml, std::vector<dira::conf::ConfigIssue>& issues) {
  dira::conf::Reader r("s.yaml");
  const auto node = r.parse(yaml);
  auto out = dira::app::read_driver_settings(r, sim_driver(), node, "s");
  issues = r.issues();
  return out;
}

/// One issue of a file: "line:column: message", or "" if no issue has `key`.
std::string issue_at(const std::vector<dira::conf::ConfigIssue>& issues, const std::string& key) {
  for (const auto& i : issues)
    if (i.key == key) return std::to_string(i.line) + ":" + std::to_string(i.column) + ": " + i.message;
  return "";
}

}  // namespace

TEST_CASE("driver settings: plain YAML scalars typed in the form the driver declares", "[conf][devices]") {
  std::vector<dira::conf::ConfigIssue> issues;
  const auto s = read(
      "visibility: 1\nblock_trials: 1e3\nseed: \"7\"\nefficiency: 3/4\necho: false\nmodulator_delivery: segment\n"
      "station: 6/2\ndevice_block_trials: 4611686018427387903\n",
      issues);
  CHECK(issues.empty());
  REQUIRE(s.size() == 8);
  // `1` for a real is the real 1.0; 1e3 for an integer the integer 1000; a quoted "7" for an
  // integer the integer 7 (the declared form decides, not the quotes); 3/4 is 0.75; 6/2 for an
  // integer is 3; 2^62 - 1 exactly, read as an integer (as a double it would round to 2^62).
  CHECK(std::get<double>(s.at("visibility")) == 1.0);
  CHECK(std::get<std::int64_t>(s.at("block_trials")) == 1000);
  CHECK(std::get<std::int64_t>(s.at("seed")) == 7);
  CHECK(std::get<double>(s.at("efficiency")) == 0.75);
  CHECK(std::get<bool>(s.at("echo")) == false);
  CHECK(std::get<std::string>(s.at("modulator_delivery")) == "segment");
  CHECK(std::get<std::int64_t>(s.at("station")) == 3);
  CHECK(std::get<std::int64_t>(s.at("device_block_trials")) == (std::int64_t{1} << 62) - 1);
}

TEST_CASE("driver settings: every refused setting at once, in file order — only accepted ones are returned",
          "[conf][devices]") {
  std::vector<dira::conf::ConfigIssue> issues;
  const auto s = read("seed: 5\nvisibilty: 0.9\nblock_trials: 2.5\nvisibility: 2\nefficiency: {a: 1}\n", issues);
  REQUIRE(issues.size() == 4);
  CHECK(issues[0].line == 2);
  CHECK(issues[0].column == 1);  // an unknown key: at the key
  CHECK(issues[0].key == "s.visibilty");
  CHECK_THAT(issues[0].message,
             Catch::StartsWith("unknown setting of driver 'sim'") && Catch::EndsWith("; did you mean `visibility`?"));
  CHECK(issue_at(issues, "s.block_trials") == "3:15: expected an integer, got '2.5'");
  CHECK(issue_at(issues, "s.visibility") == "4:13: 2 out of range [0, 1]");
  CHECK(issue_at(issues, "s.efficiency") == "5:13: expected a number, found a map");
  REQUIRE(s.size() == 1);
  CHECK(std::get<std::int64_t>(s.at("seed")) == 5);
}

// The shared reader for both callers: the same bad value in an experiment's `simulator:` and in a
// station file's `tagger.settings` is the same issue, at the same line, at the column the
// indentation gives. A reader that typed a value differently for one caller fails here.
TEST_CASE("driver settings: an experiment file and a station file with the same bad value report the same issue",
          "[conf][devices][cli]") {
  struct Case {
    std::string key, value, message;
    bool at_key = false;  // unknown and read-only keys are reported at the key, the rest at the value
  };
  const std::vector<Case> cases = {
      {"block_trials", "2.5", "expected an integer, got '2.5'"},
      {"device_block_trials", "1e300",
       "expected a whole number in [-4611686018427387904, 4611686018427387904], got '1e300'"},
      {"station", "7", "7 out of range [0, 3]"},
      {"visibility", ".nan", "expected a finite number, got '.nan'"},
      {"visibility", "high", "expected a number, got 'high'"},
      {"visibility", "[1, 2]", "expected a number, found a list"},
      {"echo", "maybe", "expected true or false, got 'maybe'"},
      {"modulator_delivery", "diagonal", "'diagonal' is not one of: streaming, segment"},
      {"efficency", "0.9", "", true},  // the message: unknown setting …; did you mean `efficiency`?
  };
  const auto dir = dira::test::scratch_directory("driver-settings", "both");
  for (const auto& c : cases) {
    INFO(c.key << ": " << c.value);
    const std::string line = c.key + ": " + c.value + "\n";
    // The experiment: line 13, indented by 2.
    const std::string experiment =
        "name: t\ninequality: ks294\nprotocol:\n  kind: B\n  demonstration: true\n  epsilon: 0.01\n  trials: 1000\n"
        "weak_source:\n  kind: iid\n  seed: 1\nsimulator:\n  seed: 3\n  " +
        line;
    std::string from_experiment;
    try {
      (void)dira::app::load_experiment_text(experiment, "e.yaml");
    } catch (const dira::conf::ConfigError& e) {
      from_experiment = issue_at(e.issues(), "simulator." + c.key);
    }
    // The station file: line 13, indented by 4 (its key files are absent: other issues, not this one).
    std::ofstream(dir / "s.yaml") << "station: alice\ncoordinator:\n  endpoint: tcp://127.0.0.1:9\n"
                                     "  public_key: keys/coordinator.pub\nkey: keys/alice.key\nrecord: alice.tags\n"
                                     "settings_for: [0, 1]\ninequality: ks294\ntrials: 10\n"
                                     "tagger:\n  driver: sim\n  settings:\n    "
                                  << line;
    const std::string cmd = std::string("cd \"") + dir.string() + "\" && \"" + DIRA_BINARY +
                            "\" station s.yaml --json > out.json 2> err.txt";
    const int rc = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 2);
    std::vector<dira::conf::ConfigIssue> station_issues;
    const auto out = nlohmann::json::parse(dira::test::read_all(dir / "out.json"));
    for (const auto& j : out["issues"])
      station_issues.push_back({j["file"], j["line"], j["column"], j["key"], j["message"]});
    const std::string from_station = issue_at(station_issues, "tagger.settings." + c.key);

    const auto value_column = [&](int indent) { return indent + static_cast<int>(c.key.size()) + 3; };
    const int experiment_column = c.at_key ? 3 : value_column(2), station_column = c.at_key ? 5 : value_column(4);
    const auto message_of = [](const std::string& issue) { return issue.substr(issue.find(": ") + 2); };
    CHECK_THAT(from_experiment, Catch::StartsWith("13:" + std::to_string(experiment_column) + ": "));
    CHECK_THAT(from_station, Catch::StartsWith("13:" + std::to_string(station_column) + ": "));
    CHECK(message_of(from_experiment) == message_of(from_station));
    if (c.at_key) {
      CHECK_THAT(message_of(from_station), Catch::StartsWith("unknown setting of driver 'sim'") &&
                                               Catch::EndsWith("; did you mean `efficiency`?"));
    } else {
      CHECK(message_of(from_station) == c.message);
    }
  }
  std::filesystem::remove_all(dir);
}
