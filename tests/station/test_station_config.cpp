// The experiment's `stations:` section (docs/stations.md): the shipped example loads into the
// coordinator's devices (the merged layout computed from each station's own channels), and
// every mistake is a configuration error naming file, line, column and key. The expected
// merged channels are written out by hand from the rule "station s's channel c is 256·s + c".
#include "dira/app/config_error.hpp"
#include "dira/app/experiment.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

using namespace dira;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = DIRA_TEST_SOURCE_DIR;

std::string shipped_text() {
  std::ifstream in(kSource / "config/stations/ks294-coordinator.yaml");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// The config error's text for `yaml` (empty if it loads).
std::string error_of(const std::string& yaml) {
  try {
    (void)app::load_experiment_text(yaml, "exp.yaml", kSource / "config/inequalities");
  } catch (const app::ConfigError& e) {
    return e.what();
  }
  return {};
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("stations: the shipped ks294 coordinator loads into the stations tagger, merged layout and modulators",
          "[station][config]") {
  const fs::path file = kSource / "config/stations/ks294-coordinator.yaml";
  const auto c = app::load_experiment_file(file);
  REQUIRE(c.stations.present);
  CHECK(c.stations.listen == "tcp://127.0.0.1:5555");
  REQUIRE(c.stations.members.size() == 2);
  CHECK(c.stations.members[0].name == "alice");
  CHECK(c.stations.members[1].parties == std::vector<int>{1});
  // Paths are relative to the experiment file.
  CHECK(c.stations.members[1].public_key == (file.parent_path() / "keys/bob.pub").lexically_normal());
  CHECK(c.stations.key == (file.parent_path() / "keys/coordinator.key").lexically_normal());
  REQUIRE(c.devices.present);
  CHECK(c.devices.tagger.driver == "stations");
  CHECK(std::get<std::string>(c.devices.tagger.settings.at("stations")) ==
        "alice=" + (file.parent_path() / "keys/alice.pub").lexically_normal().string() +
            ", bob=" + (file.parent_path() / "keys/bob.pub").lexically_normal().string());
  CHECK(std::get<std::int64_t>(c.devices.tagger.settings.at("heartbeat_ms")) == 200);
  const auto& L = c.devices.layout;
  REQUIRE(L.parties.size() == 2);
  CHECK(L.parties[0].sync_channel == 1);
  CHECK(L.parties[1].sync_channel == 1);  // station 0's sync is the merged stream's
  CHECK(L.parties[0].detector_channels == std::vector<int>{2, 3, 4, 5});
  CHECK(L.parties[1].detector_channels == std::vector<int>{258, 259, 260, 261});
  CHECK(L.parties[1].echo_channels == std::vector<int>{262, 263, 264, 265, 266, 267, 268, 269, 270});
  CHECK(L.sync_period_ps == 1'000'000);
  CHECK(L.echo_width_ps == 1000);
  REQUIRE(c.devices.modulators.size() == 2);
  for (std::int64_t p = 0; p < 2; ++p) {
    CHECK(c.devices.modulators[static_cast<std::size_t>(p)].driver == "station_modulator");
    CHECK(std::get<std::int64_t>(c.devices.modulators[static_cast<std::size_t>(p)].settings.at("party")) == p);
    CHECK(std::get<std::string>(c.devices.modulators[static_cast<std::size_t>(p)].settings.at("coordinator")) ==
          "tcp://127.0.0.1:5555");
  }
}

TEST_CASE("stations: mistakes are configuration errors with file, line, column and key", "[station][config]") {
  const std::string ok = shipped_text();
  REQUIRE(error_of(ok).empty());
  // The lines of the shipped file these edits land on (1-based), found here so the test
  // follows the file: `members:` and the first `parties: [0]`.
  auto line_of = [&](const std::string& needle) {
    const auto at = ok.find(needle);
    REQUIRE(at != std::string::npos);
    return 1 + std::count(ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  };
  const auto members_line = line_of("  members:");
  const auto alice_parties = line_of("      parties: [0]");

  SECTION("a misspelt key names the nearest one") {
    const auto e = error_of(replaced(ok, "  members:", "  membres:"));
    CHECK(e.find("exp.yaml:" + std::to_string(members_line) + ":3: stations.membres") != std::string::npos);
    CHECK(e.find("did you mean `members`") != std::string::npos);
  }
  SECTION("a misspelt station key") {
    const auto e = error_of(replaced(ok, "      public_key: keys/alice.pub", "      publickey: keys/alice.pub"));
    CHECK(e.find("stations.members[0].publickey") != std::string::npos);
    CHECK(e.find("did you mean `public_key`") != std::string::npos);
  }
  SECTION("a party recorded twice") {
    const auto e = error_of(replaced(ok, "      parties: [1]", "      parties: [0]"));
    CHECK(e.find("stations.members[1].parties[0]: party 0 is already recorded by station alice") != std::string::npos);
  }
  SECTION("a party nobody records") {
    const auto e = error_of(replaced(
        ok, "      parties: [1]\n      detectors: [[2, 3, 4, 5]]\n      echoes: [[6, 7, 8, 9, 10, 11, 12, 13, 14]]",
        "      parties: [2]\n      detectors: [[2, 3, 4, 5]]"));
    CHECK(e.find("stations.members[1].parties[0]: the inequality has parties 0…1, not 2") != std::string::npos);
  }
  SECTION("a party that does not exist, at its line and column") {
    const auto e = error_of(replaced(ok, "      parties: [0]", "      parties: [7]"));
    CHECK(e.find("exp.yaml:" + std::to_string(alice_parties) + ":17: stations.members[0].parties[0]") !=
          std::string::npos);
  }
  SECTION("a channel beyond the station's 256") {
    const auto e = error_of(replaced(ok, "      detectors: [[2, 3, 4, 5]]", "      detectors: [[2, 3, 4, 300]]"));
    CHECK(e.find("stations.members[0].detectors[0]: a station's channel is 0…255, not 300") != std::string::npos);
  }
  SECTION("detectors that do not match the outcomes") {
    const auto e = error_of(replaced(ok, "      detectors: [[2, 3, 4, 5]]", "      detectors: [[2, 3]]"));
    CHECK(e.find("expected 4 channels (one per outcome of party 0)") != std::string::npos);
  }
  SECTION("a station listed twice") {
    const auto e = error_of(replaced(ok, "    - name: bob", "    - name: alice"));
    CHECK(e.find("stations.members[1].name: station 'alice' is listed twice") != std::string::npos);
  }
  SECTION("no listen endpoint") {
    const auto e = error_of(replaced(ok, "  listen: tcp://127.0.0.1:5555", "  lisen: tcp://127.0.0.1:5555"));
    CHECK(e.find("stations.listen: missing") != std::string::npos);
  }
  SECTION("a heartbeat out of the driver's range") {
    const auto e = error_of(replaced(ok, "  heartbeat_ms: 200", "  heartbeat_ms: 1"));
    CHECK(e.find("stations.heartbeat_ms") != std::string::npos);
  }
  SECTION("both a simulator and stations") {
    const auto e = error_of(ok + "simulator: {seed: 3}\n");
    CHECK(e.find("simulator: give either simulator: or stations:, not both") != std::string::npos);
  }
  SECTION("both devices.tagger and stations") {
    const auto e = error_of(ok + "devices: {tagger: {driver: sim}, layout: {sync_channel: 1}}\n");
    CHECK(e.find("devices.tagger: give either stations: or devices.tagger") != std::string::npos);
  }
}

TEST_CASE("stations: hardware-chosen settings (each station's own source) with the setting echoes",
          "[station][config]") {
  // Protocol A or C: one weak-source bit per setting; ks294's Protocol B draws by rejection
  // sampling and cannot be hardware-chosen, so the CHSH experiment with Protocol C is used.
  const std::string head =
      "inequality: chsh\nprotocol: {kind: C, epsilon: 0.001}\nweak_source: {kind: iid, seed: 1}\n"
      "devices: {settings_chosen_by: hardware}\n"
      "stations:\n  listen: tcp://127.0.0.1:5555\n  key: keys/coordinator.key\n"
      "  layout: {sync_channel: 1, sync_period_ps: 1000000, detection_offset_ps: 9000, detection_width_ps: 2000, "
      "echo_offset_ps: 4500, echo_width_ps: 1000}\n  members:\n";
  const std::string with_echoes =
      "    - {name: alice, public_key: keys/alice.pub, parties: [0], detectors: [[2, 3]], echoes: [[4, 5]]}\n"
      "    - {name: bob, public_key: keys/bob.pub, parties: [1], detectors: [[2, 3]], echoes: [[4, 5]]}\n";
  const auto c = app::load_experiment_text(head + with_echoes, "hw.yaml", kSource / "config/inequalities");
  CHECK(c.devices.hardware_chosen_settings);
  CHECK(c.devices.modulators.empty());  // the stations' own sources drive their modulators
  REQUIRE(c.devices.layout.parties.size() == 2);
  CHECK(c.devices.layout.parties[1].echo_channels == std::vector<int>{260, 261});
  const std::string without =
      "    - {name: alice, public_key: keys/alice.pub, parties: [0], detectors: [[2, 3]]}\n"
      "    - {name: bob, public_key: keys/bob.pub, parties: [1], detectors: [[2, 3]]}\n";
  const auto e = error_of(head + without);
  CHECK(e.find("stations.members: devices.settings_chosen_by: hardware reads each party's setting from its echo") !=
        std::string::npos);
  CHECK(e.find("give devices.layout.echoes") == std::string::npos);  // not the devices: form's message
}
