// The config toolkit (conf/, issue 10 item 6; issues 12 and 13 "Bad input"): every refusal names
// file, line, column and key; the expected positions are counted by hand from the texts below.
#include "dira/app/experiment.hpp"
#include "dira/app/inequality_loader.hpp"
#include "dira/conf/document.hpp"
#include "dira/conf/reader.hpp"
#include "dira/conf/search_path.hpp"
#include "dira/drivers/scpi_modulator/profile.hpp"
#include "scratch_files.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

namespace {

using dira::conf::ConfigError;

const std::string kExperiment = R"(name: t
inequality: ks294
protocol:
  kind: B
  demonstration: true
  epsilon: 0.01
  trials: 1000
weak_source:
  kind: iid
  seed: 1
simulator:
  seed: 3
)";

/// Every issue of loading `text` as an experiment, one per line ("file:line:col: key: message").
std::string experiment_errors(const std::string& text) {
  try {
    (void)dira::app::load_experiment_text(text, "e.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("conf: the reference experiment of these tests loads", "[conf]") {
  CHECK(experiment_errors(kExperiment).empty());
}

TEST_CASE("conf: a duplicate key is refused at its second occurrence", "[conf]") {
  // yaml-cpp 0.7 keeps the first `seed` and drops the second without a word.
  const auto err = experiment_errors(replace(kExperiment, "  seed: 1\n", "  seed: 1\n  seed: 2\n"));
  CHECK_THAT(err, Catch::Contains("e.yaml:11:3: weak_source.seed: duplicate key (first at line 10:3)"));
  const auto top = experiment_errors(kExperiment + "inequality: chsh\n");
  CHECK_THAT(top, Catch::Contains("e.yaml:13:1: inequality: duplicate key (first at line 2:1)"));
}

TEST_CASE("conf: an unknown key names the nearest valid one", "[conf]") {
  const auto err = experiment_errors(replace(kExperiment, "  trials: 1000", "  trails: 1000"));
  CHECK_THAT(err, Catch::Contains("e.yaml:7:3: protocol.trails: unknown key; did you mean `trials`?"));
  // Nothing near: no guess, the list of allowed keys only.
  const auto far = experiment_errors(replace(kExperiment, "  trials: 1000", "  zzzzzzzzzz: 1000"));
  CHECK_THAT(far, Catch::Contains("protocol.zzzzzzzzzz: unknown key (allowed here:"));
  CHECK_THAT(far, !Catch::Contains("did you mean"));
}

TEST_CASE("conf: a misspelt driver setting names the nearest settable one", "[conf]") {
  const auto err = experiment_errors(kExperiment + "  visibilty: 0.9\n");
  CHECK_THAT(err, Catch::Contains("e.yaml:13:3: simulator.visibilty: unknown setting of driver 'sim'"));
  CHECK_THAT(err, Catch::Contains("did you mean `visibility`?"));
}

TEST_CASE("conf: a misspelt top-level section is an error at its line, not a silent default", "[conf]") {
  const auto err = experiment_errors(replace(kExperiment, "protocol:", "Protocol:"));
  CHECK_THAT(err, Catch::Contains("e.yaml:3:1: Protocol: unknown key; did you mean `protocol`?"));
  CHECK_THAT(err,
             Catch::Contains("e.yaml:3:1: protocol: missing; the file has `Protocol` here: did you mean `protocol`?"));
}

TEST_CASE("conf: reading goes on after a missing section, without a library message", "[conf]") {
  const auto err = experiment_errors(
      replace(replace(kExperiment, "protocol:", "Protocol:"), "  seed: 1\n", "  seed: 1\n  seed: 2\n"));
  CHECK_THAT(err, Catch::Contains("weak_source.seed: duplicate key"));
  CHECK_THAT(err, Catch::Contains("protocol: missing; the file has `Protocol` here"));
  CHECK_THAT(err, !Catch::Contains("invalid node"));
  CHECK_THAT(err, !Catch::Contains("YAML:"));
}

TEST_CASE("conf: an inequality without a quantum section loads (no library message)", "[conf]") {
  // Before: `quantum` absent gave "YAML: invalid node; first invalid key: quantum".
  const std::string text =
      "name: noq\nscenario: {parties: 2, settings: 2, outcomes: 2}\nexpression:\n  rule: parity\n  groups:\n"
      "    - {settings: [[0, 0], [0, 1], [1, 0]], parity: 0}\n    - {settings: [[1, 1]], parity: 1}\n";
  const auto ineq = dira::app::load_inequality_text(text, "noq.yaml");
  CHECK(ineq.name == "noq");
  CHECK_FALSE(ineq.quantum.has_value());
}

TEST_CASE("conf: a missing weak_source section is refused (never an unbiased simulated source)", "[conf]") {
  std::string text = kExperiment;
  text = replace(text, "weak_source:\n  kind: iid\n  seed: 1\n", "");
  CHECK_THAT(experiment_errors(text), Catch::Contains("e.yaml:1:1: weak_source: missing"));
}

TEST_CASE("conf: scalars where maps belong and complex keys are errors with their position", "[conf]") {
  CHECK_THAT(experiment_errors(kExperiment + "stop: 5\n"),
             Catch::Contains("e.yaml:13:7: stop: expected a map (trials:, duration_s:), found the scalar '5'"));
  CHECK_THAT(experiment_errors(replace(kExperiment, "weak_source:\n  kind: iid\n  seed: 1\n", "weak_source: iid\n")),
             Catch::Contains("e.yaml:8:14: weak_source: expected driver: and settings:"));
  CHECK_THAT(experiment_errors(kExperiment + "? [a, b]\n: 1\n"),
             Catch::Contains("e.yaml:13:3: (key): expected a plain key, found a sequence (a complex key)"));
  CHECK_THAT(experiment_errors(kExperiment + "outputs: [a]\n"),
             Catch::Contains("e.yaml:13:10: outputs: expected a map (directory:, raw_tags:), found a list"));
}

TEST_CASE("conf: numbers are range-checked before conversion (inf, NaN, huge)", "[conf]") {
  // Before: `seed: .inf` reached a cast of inf to an integer (UB; printed as -9.2e18).
  CHECK_THAT(experiment_errors(replace(kExperiment, "  seed: 1", "  seed: .inf")),
             Catch::Contains("e.yaml:10:9: weak_source.seed: expected a finite number, got '.inf'"));
  CHECK_THAT(experiment_errors(kExperiment + "  visibility: .nan\n"),
             Catch::Contains("e.yaml:13:15: simulator.visibility: expected a finite number, got '.nan'"));
  CHECK_THAT(experiment_errors(replace(kExperiment, "  seed: 3", "  seed: 1e300")),
             Catch::Contains("e.yaml:12:9: simulator.seed: expected a whole number in ["));
  CHECK_THAT(experiment_errors(replace(kExperiment, "  epsilon: 0.01", "  epsilon: -.inf")),
             Catch::Contains("e.yaml:6:12: protocol.epsilon: expected a finite number"));
}

TEST_CASE("conf: NaN or inf in an inequality's quantum vectors is refused", "[conf]") {
  const auto text = dira::test::read_all(std::string(DIRA_TEST_SOURCE_DIR) + "/config/inequalities/chsh.yaml");
  REQUIRE(!text.empty());
  // Vector "0" = [1, 0] becomes [NaN, 0].
  const std::string vec = "\"0\": [1, 0]";
  const auto at = text.find(vec);
  REQUIRE(at != std::string::npos);
  std::string bad = text;
  bad.replace(at, vec.size(), "\"0\": [.nan, 0]");
  try {
    (void)dira::app::load_inequality_text(bad, "q.yaml");
    FAIL("a NaN component was accepted");
  } catch (const ConfigError& e) {
    REQUIRE(e.issues().size() >= 1);
    CHECK(e.issues()[0].message == "expected a finite number, got '.nan'");
    CHECK_THAT(e.issues()[0].key, Catch::StartsWith("quantum.vectors."));
    CHECK(e.issues()[0].line > 0);
  }
}

TEST_CASE("conf: a directory, an empty file, a binary file and an endless device are said to be what they are",
          "[conf]") {
  const auto dir = dira::test::scratch_directory("conf", "files");
  auto message = [](const std::filesystem::path& p) -> std::string {
    try {
      (void)dira::conf::read_config_file(p);
    } catch (const ConfigError& e) {
      REQUIRE(e.issues().size() == 1);
      CHECK(e.issues()[0].file == p.string());
      return e.issues()[0].message;
    }
    return "";
  };
  CHECK(message(dir) == "is a directory, not a YAML file (Is a directory)");
  std::ofstream(dir / "empty.yaml").close();
  CHECK(message(dir / "empty.yaml") == "is empty: expected a YAML document");
  {
    std::ofstream b(dir / "binary.yaml", std::ios::binary);
    b << "name: x\n" << '\0' << "\x01\x02";
  }
  CHECK(message(dir / "binary.yaml") == "is a binary file (a NUL byte at offset 8), not YAML text");
  CHECK(message(dir / "absent.yaml") == "cannot open: No such file or directory");
  // /dev/zero: refused within the first block read, not after filling memory.
  CHECK(message("/dev/zero") == "is a binary file (a NUL byte at offset 0), not YAML text");
  {
    std::ofstream big(dir / "big.yaml");
    big << std::string(100, '#');
  }
  CHECK_THROWS_WITH(dira::conf::read_config_file(dir / "big.yaml", 64),
                    Catch::Contains("is 100 bytes; a configuration file may have at most 64 bytes"));
  // The experiment loader reads through it.
  CHECK_THROWS_WITH(dira::app::load_experiment_file(dir), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(dira::app::load_inequality_file(dir / "empty.yaml"), Catch::Contains("is empty"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("conf: edit distance and the nearest key", "[conf]") {
  // Textbook Levenshtein values (Wagner–Fischer worked examples), not from this code.
  CHECK(dira::conf::edit_distance("kitten", "sitting") == 3);
  CHECK(dira::conf::edit_distance("flaw", "lawn") == 2);
  CHECK(dira::conf::edit_distance("", "abc") == 3);
  CHECK(dira::conf::edit_distance("same", "same") == 0);
  const std::vector<std::string> keys{"protocol", "inequality", "weak_source"};
  CHECK(dira::conf::nearest("Protocol", keys) == "protocol");
  CHECK(dira::conf::nearest("inequalty", keys) == "inequality");
  CHECK(dira::conf::nearest("weak-source", keys) == "weak_source");
  CHECK(dira::conf::nearest("colour", keys).empty());
}

TEST_CASE("conf: one search path serves inequalities and instrument profiles", "[conf]") {
  const auto ks = dira::conf::find_config("inequalities", "ks294");
  REQUIRE(ks);
  CHECK(*ks == dira::app::resolve_inequality("ks294"));
  const auto awg = dira::conf::find_config("devices", "awg-generic");
  REQUIRE(awg);
  CHECK(*awg == dira::drivers::scpi_modulator::resolve_profile("awg-generic"));
  CHECK_FALSE(dira::conf::find_config("devices", "no-such-profile"));
}

TEST_CASE("conf: instrument profiles use the same reader (duplicates, did you mean, bounded input)", "[conf]") {
  namespace sm = dira::drivers::scpi_modulator;
  const auto path = dira::conf::find_config("devices", "awg-generic");
  REQUIRE(path);
  const auto text = dira::test::read_all(*path);
  CHECK_NOTHROW(sm::parse_profile(text, "p.yaml"));
  try {
    (void)sm::parse_profile(text + "timeout_ms: 10\ntimout_ms: 10\n", "p.yaml");
    FAIL("accepted");
  } catch (const sm::ProfileError& e) {
    const std::string all = e.what();
    CHECK_THAT(all, Catch::Contains("timeout_ms: duplicate key (first at line"));
    CHECK_THAT(all, Catch::Contains("timout_ms: unknown key; did you mean `timeout_ms`?"));
  }
  CHECK_THROWS_WITH(sm::load_profile("/dev/zero"), Catch::Contains("/dev/zero: is a binary file"));
}

TEST_CASE("conf: an inequality path the OS refuses is a config error, not a filesystem exception", "[conf]") {
  // Found by fuzz_experiment_yaml (tests/fuzz/regressions/experiment_yaml/crash-defe9156…):
  // std::filesystem::exists threw filesystem_error (ENAMETOOLONG) out of the loader. A path
  // component of 300 bytes is past Linux's NAME_MAX of 255.
  const auto err =
      experiment_errors(replace(kExperiment, "inequality: ks294", "inequality: /" + std::string(300, 'x')));
  CHECK_THAT(err, Catch::Contains("cannot use this path: File name too long"));
}
