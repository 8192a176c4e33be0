// `weak_source:` through the entropy drivers file and command, from YAML (issue 10, item 3), and
// the one ledger of a run in run.h5: every purpose the run used, bit counts that add up to what
// the weak source handed out.
//
// Independent expectations: Protocol A draws 4 setting bits per trial (seed 000 Fig. 2 step 1),
// Protocol C one per party, i.e. 2 (docs/protocol-c-security.md §2), for every trial whose
// settings were delivered; the ledger's entries tile the source's stream from bit 0 with no gap
// and no overlap (each bit used once: docs/architecture.md); and sv_bits.bin —
// the bits after the settings — is, bit for bit, the weak-source file read here from the
// position where the setting bits end.
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include "scratch_files.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace dira;

namespace {

const std::filesystem::path kExperiments = std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "experiments";

std::filesystem::path scratch(const std::string& name) {
  return test::scratch_directory("weak-source", name);
}
using test::bit_of;
using test::read_all;

/// The shipped experiment with its weak_source: section replaced by `weak_source` (YAML text).
std::string with_weak_source(const std::string& experiment, const std::string& weak_source) {
  const std::string text = read_all(kExperiments / experiment);
  const auto begin = text.find("\nweak_source:");
  REQUIRE(begin != std::string::npos);
  auto end = text.find("\n", begin + 1);
  while (end != std::string::npos && end + 1 < text.size() && text[end + 1] == ' ') end = text.find("\n", end + 1);
  REQUIRE(end != std::string::npos);
  return text.substr(0, begin + 1) + weak_source + text.substr(end + 1);
}

struct LedgerFacts {
  std::uint64_t setting = 0, box_choice = 0, extractor = 0, observed = 0, skipped = 0, total = 0;
  bool tiled = true;  // entries (observed ones aside) cover [0, total) in order, no gap, no overlap
};

LedgerFacts facts(const std::vector<protocol::LedgerEntry>& ledger) {
  LedgerFacts f;
  for (const auto& e : ledger) {
    switch (e.purpose) {
      case protocol::BitPurpose::setting:
        f.setting += e.bit_count;
        break;
      case protocol::BitPurpose::box_choice:
        f.box_choice += e.bit_count;
        break;
      case protocol::BitPurpose::extractor:
        f.extractor += e.bit_count;
        break;
      case protocol::BitPurpose::observed_setting:
        f.observed += e.bit_count;
        continue;
      case protocol::BitPurpose::skipped:
        f.skipped += e.bit_count;
        break;
    }
    if (e.first_bit != f.total) f.tiled = false;
    f.total += e.bit_count;
  }
  return f;
}

struct Run {
  app::RunResult result;
  app::RunFileContents contents;
  std::uint64_t trials = 0;
};

Run run(const std::filesystem::path& dir, const std::string& yaml) {
  const auto file = dir / "experiment.yaml";
  std::ofstream(file) << yaml;
  const auto c = app::load_experiment_file(file);
  app::RunOptions o;
  o.out = dir / "runs";
  Run r;
  r.result = app::run_experiment(c, o);
  r.contents = app::read_run_file(r.result.directory / "run.h5",
                                  [&](std::span<const protocol::Trial> b) { r.trials += b.size(); });
  return r;
}

}  // namespace

TEST_CASE(
    "weak_source driver file from YAML: Protocol A decides — run.h5's ledger holds settings and box choice, "
    "tiling the file",
    "[pipeline][weak_source]") {
  const auto dir = scratch("file-a");
  std::mt19937_64 rng(21);
  std::string bytes(65536, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  std::ofstream(dir / "sv.bin", std::ios::binary) << bytes;
  const auto r = run(dir, with_weak_source("sim-guehne4.yaml", "weak_source:\n  driver: file\n  settings: {path: " +
                                                                   (dir / "sv.bin").string() + ", epsilon: 0.01}\n"));
  INFO(r.result.report.dump(2));
  REQUIRE(r.result.exit_code == 0);  // ideal quantum box: Z_k = 0 (cli.analyze_trials.a_accept)
  CHECK(r.result.report["decision"] == "accept");
  CHECK_THAT(r.result.report["devices"]["weak_source"].get<std::string>(), Catch::Contains("file"));
  // The protocol's paper, once (issue 13): seed 000's title page gives the title and its arXiv
  // number is how seed 001 cites it (docs/references.md).
  CHECK(r.result.report["reference"]["arxiv"] == "1308.4635");
  CHECK_THAT(r.result.report["reference"]["paper"].get<std::string>(),
             Catch::Contains("Robust Device Independent Randomness Amplification"));
  CHECK(dira::app::analyze_run_directory(r.result.directory)["reference"] == r.result.report["reference"]);
  REQUIRE(r.trials == 64000);
  const auto f = facts(r.contents.ledger);
  CHECK(f.tiled);
  CHECK(f.setting == 4 * r.trials);
  CHECK(f.box_choice > 0);
  CHECK(f.extractor == 0);
  CHECK(f.observed == 0);
  CHECK(f.total == f.setting + f.box_choice);
  // The report's ledger says the same.
  const auto& bp = r.result.report["analysis"]["ledger"]["by_purpose"];
  CHECK(bp["setting"] == f.setting);
  CHECK(bp["box_choice"] == f.box_choice);
  // sv_bits.bin: the bits after the settings, exactly what box choice used.
  const std::string sv = read_all(r.result.directory / "sv_bits.bin");
  CHECK(sv.size() == (f.box_choice + 7) / 8);
  std::uint64_t differ = 0;
  for (std::uint64_t k = 0; k < f.box_choice && k / 8 < sv.size(); ++k)
    if (bit_of(sv, k) != bit_of(bytes, f.setting + k)) ++differ;
  CHECK(differ == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("weak_source driver command from YAML: Protocol A decides — run.h5's ledger adds up",
          "[pipeline][weak_source]") {
  const auto dir = scratch("command-a");
  const auto r =
      run(dir, with_weak_source("sim-guehne4.yaml",
                                "weak_source:\n  driver: command\n  settings:\n    command: \"head -c 100000 "
                                "/dev/urandom\"\n    epsilon: 0.01\n"));
  INFO(r.result.report.dump(2));
  REQUIRE(r.result.exit_code == 0);
  CHECK(r.result.report["decision"] == "accept");
  CHECK_THAT(r.result.report["devices"]["weak_source"].get<std::string>(), Catch::Contains("head -c 100000"));
  REQUIRE(r.trials == 64000);
  const auto f = facts(r.contents.ledger);
  CHECK(f.tiled);
  CHECK(f.setting == 4 * r.trials);
  CHECK(f.box_choice > 0);
  CHECK(f.total == f.setting + f.box_choice);
  CHECK(f.total <= 8 * 100000);  // no more than the command gave
  CHECK(read_all(r.result.directory / "sv_bits.bin").size() == (f.box_choice + 7) / 8);
  std::filesystem::remove_all(dir);
}

TEST_CASE("weak_source driver command that runs dry: source-exhausted, incomplete, not a crash",
          "[pipeline][weak_source]") {
  const auto dir = scratch("command-short");
  // 1000 bytes = 8000 bits: the settings of 2000 trials, then the source ends.
  const auto r = run(dir, with_weak_source("sim-guehne4.yaml",
                                           "weak_source:\n  driver: command\n  settings: {command: \"head -c 1000 "
                                           "/dev/zero\", epsilon: 0.01}\n"));
  INFO(r.result.report.dump(2));
  CHECK(r.result.exit_code == 5);  // issue 13: the source ran dry — stopped cleanly, incomplete
  CHECK(r.result.state == "source-exhausted");
  CHECK(r.result.decision == "incomplete");
  CHECK_THAT(r.result.report["fault"].get<std::string>(), Catch::Contains("exhausted"));
  CHECK(r.trials <= 2000);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a weak-source file too small for the planned trials is refused before anything is created",
          "[pipeline][weak_source]") {
  // Issue 13. sim-ks294: n = 200,000 trials of ks294, 2 parties × ⌈log2 9⌉ = 8 setting bits per
  // trial at least (seed 001's rejection sampling draws 4 bits per party per attempt), so
  // 1.6·10^6 bits; a 1,000-byte file holds 8,000.
  const auto dir = scratch("file-too-small");
  std::ofstream(dir / "small.bin", std::ios::binary) << std::string(1000, '\x5a');
  const auto file = dir / "experiment.yaml";
  std::ofstream(file) << with_weak_source("sim-ks294.yaml", "weak_source:\n  driver: file\n  settings: {path: " +
                                                                (dir / "small.bin").string() + ", epsilon: 0.01}\n");
  const auto c = app::load_experiment_file(file);
  app::RunOptions o;
  o.out = dir / "runs";
  try {
    app::run_experiment(c, o);
    FAIL("the run started");
  } catch (const app::ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("holds 8,000 bits") && Catch::Contains("1,600,000 bits") &&
                                          Catch::Contains("weak_source"));
  }
  CHECK(!std::filesystem::exists(dir / "runs"));
  // With --max-trials 1000 (8,000 bits at least) the same file is enough to start.
  o.max_trials = 1000;
  CHECK_NOTHROW(app::run_experiment(c, o));
  std::filesystem::remove_all(dir);
}

TEST_CASE("weak_source driver file, Protocol C: run.h5's ledger holds settings and extractor bits, tiling the file",
          "[pipeline][weak_source]") {
  const auto dir = scratch("file-c");
  std::mt19937_64 rng(22);
  std::string bytes(1 << 20, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  std::ofstream(dir / "sv.bin", std::ios::binary) << bytes;
  const auto r =
      run(dir, with_weak_source("sim-chsh-photonic.yaml", "weak_source:\n  driver: file\n  settings: {path: " +
                                                              (dir / "sv.bin").string() + ", epsilon: 0.001}\n"));
  INFO(r.result.report.dump(2).substr(0, 6000));
  REQUIRE(r.result.exit_code == 0);
  CHECK(r.result.state == "completed");
  CHECK(r.result.decision == "accept");
  CHECK(r.result.report["certified_bits"].get<std::uint64_t>() >= 256);
  const auto f = facts(r.contents.ledger);
  CHECK(f.tiled);
  // One bit per party for every trial whose settings were delivered (the look-ahead may reach
  // past the trial at which the run stopped, certified).
  const auto delivered = r.result.report["settings_delivery"]["trials_delivered"].get<std::uint64_t>();
  CHECK(delivered >= r.trials);
  CHECK(f.setting == 2 * delivered);
  CHECK(f.extractor > 0);
  CHECK(f.box_choice == 0);
  // The run stopped when certified, before its planned trials: the extractor's bits start at a
  // position fixed before the run, right after one bit per party for every planned trial (the
  // bits between the look-ahead's end and there are skipped), so the output does not depend on
  // how far the look-ahead had drawn at the stop (run_decision.cpp).
  const auto planned = r.result.report["trials_planned"].get<std::uint64_t>();
  REQUIRE(r.trials < planned);
  CHECK(f.setting + f.skipped == 2 * planned);
  CHECK(f.skipped > 0);
  CHECK(f.total == f.setting + f.skipped + f.extractor);
  const auto& bp = r.result.report["analysis"]["ledger"]["by_purpose"];
  CHECK(bp["extractor"] == f.extractor);
  CHECK(bp["skipped"] == f.skipped);
  const std::string sv = read_all(r.result.directory / "sv_bits.bin");
  CHECK(sv.size() == (f.extractor + 7) / 8);
  std::uint64_t differ = 0;
  for (std::uint64_t k = 0; k < f.extractor && k / 8 < sv.size(); ++k)
    if (bit_of(sv, k) != bit_of(bytes, 2 * planned + k)) ++differ;
  CHECK(differ == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("one ε in the experiment file: weak_source.epsilon is refused, a source's declared ε may not exceed it",
          "[weak_source]") {
  // sim-guehne4.yaml: protocol.epsilon 0.01 (the file's one ε).
  auto issue_of = [](const std::string& yaml) -> std::string {
    try {
      (void)app::load_experiment_text(yaml, "eps.yaml");
    } catch (const app::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  // The legacy short form once parsed a second ε and ignored it.
  const auto legacy = issue_of(with_weak_source("sim-guehne4.yaml", "weak_source:\n  kind: iid\n  epsilon: 0.2\n"));
  CHECK_THAT(legacy, Catch::Contains("eps.yaml:") && Catch::Contains("weak_source.epsilon: the experiment has one ε"));
  // A driver's declared ε above protocol.epsilon: the security statement would not hold for it.
  const auto above = issue_of(
      with_weak_source("sim-guehne4.yaml", "weak_source:\n  driver: iid\n  settings: {bias: 0.01, epsilon: 0.02}\n"));
  CHECK_THAT(above, Catch::Contains("weak_source.settings.epsilon: the source declares ε = 0.02, above the "
                                    "experiment's one ε (protocol.epsilon = 0.01)"));
  // Equal or below (an ε'-SV source with ε' ≤ ε is ε-SV) is accepted.
  CHECK(issue_of(with_weak_source("sim-guehne4.yaml",
                                  "weak_source:\n  driver: iid\n  settings: {bias: 0.01, epsilon: 0.01}\n")) == "");
  CHECK(issue_of(with_weak_source("sim-guehne4.yaml",
                                  "weak_source:\n  driver: iid\n  settings: {bias: 0.005, epsilon: 0.005}\n")) == "");
}
