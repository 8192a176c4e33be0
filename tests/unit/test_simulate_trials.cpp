// `dira simulate-trials` acquires through the same path as `dira run` (issue 10, item 4): for
// the same experiment and trial limit, the CSV it writes holds, trial by trial, the trials
// `dira run` records in run.h5 (read back with app::read_run_file), and its --sv-bits-out is the
// same continuation of the weak-source stream as the run's sv_bits.bin. The expected values are
// the run's own recording, made by a different program (the session, in-process) from the same
// experiment file; nothing is computed by the command under test.
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include "scratch_files.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace dira;

namespace {

const std::filesystem::path kExperiments = std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "experiments";

std::filesystem::path scratch(const std::string& name) {
  return test::scratch_directory("simulate", name);
}
using test::bit_of;
using test::read_all;

int run_command(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/// The CSV rows (trial, u0…, x0…, [device]) as trials.
std::vector<protocol::Trial> read_csv(const std::filesystem::path& p, int parties, bool device) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);  // header
  std::vector<protocol::Trial> out;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string field;
    protocol::Trial t;
    std::getline(ls, field, ',');
    t.index = std::stoull(field);
    for (int k = 0; k < 2 * parties; ++k) {
      std::getline(ls, field, ',');
      (k < parties ? t.u : t.x)[static_cast<std::size_t>(k % parties)] = static_cast<std::uint8_t>(std::stoi(field));
    }
    if (device) {
      std::getline(ls, field, ',');
      t.device = static_cast<std::uint32_t>(std::stoul(field));
    }
    out.push_back(t);
  }
  return out;
}

void same_trials_as_run(const std::string& experiment, std::uint64_t max_trials, std::uint64_t expected) {
  const auto dir = scratch(experiment);
  const auto cfg_path = kExperiments / (experiment + ".yaml");
  const std::string cmd = std::string("\"") + DIRA_BINARY + "\" simulate-trials --config \"" + cfg_path.string() +
                          "\" --out \"" + (dir / "trials.csv").string() + "\" --sv-bits-out \"" +
                          (dir / "bits.bin").string() + "\" --sv-bytes 256" +
                          (max_trials ? " --trials " + std::to_string(max_trials) : std::string()) + " 2> \"" +
                          (dir / "stderr.txt").string() + "\"";
  INFO(cmd);
  const int rc = run_command(cmd);
  INFO(read_all(dir / "stderr.txt"));
  REQUIRE(rc == 0);

  const auto c = app::load_experiment_file(cfg_path);
  app::RunOptions o;
  o.out = dir / "runs";
  o.max_trials = max_trials;
  const auto r = app::run_experiment(c, o);
  // accept, abort, or — stopped before the protocol's n by max_trials — incomplete: a result, not a fault.
  REQUIRE((r.exit_code == 0 || r.exit_code == 3 || r.exit_code == 5));
  std::vector<protocol::Trial> recorded;
  app::read_run_file(r.directory / "run.h5",
                     [&](std::span<const protocol::Trial> b) { recorded.insert(recorded.end(), b.begin(), b.end()); });

  const int parties = c.inequality.expression.scenario().parties();
  const auto written = read_csv(dir / "trials.csv", parties, c.protocol == 'A');
  CHECK(recorded.size() == expected);
  REQUIRE(written.size() == recorded.size());
  std::uint64_t differ = 0, first = 0;
  for (std::size_t i = 0; i < written.size(); ++i) {
    const auto& a = written[i];
    const auto& b = recorded[i];
    bool same = a.index == b.index && a.device == b.device;
    for (int p = 0; p < parties; ++p)
      same = same && a.u[static_cast<std::size_t>(p)] == b.u[static_cast<std::size_t>(p)] &&
             a.x[static_cast<std::size_t>(p)] == b.x[static_cast<std::size_t>(p)];
    if (!same && differ++ == 0) first = i;
  }
  INFO("first differing trial " << first);
  CHECK(differ == 0);

  // The weak-source bits after the settings: the run used `recorded_bits` of them (box choice,
  // extractor) and kept them in sv_bits.bin; simulate-trials wrote the same stream's next 256 bytes.
  const std::string run_bits = read_all(r.directory / "sv_bits.bin");
  const std::string sim_bits = read_all(dir / "bits.bin");
  CHECK(sim_bits.size() == 256);
  std::uint64_t bits_differ = 0;
  const std::uint64_t n = std::min<std::uint64_t>(8 * run_bits.size(), 8 * sim_bits.size());
  std::uint64_t used = 0;
  if (r.report.contains("analysis") && r.report["analysis"].contains("ledger"))
    for (const char* k : {"box_choice", "extractor"})
      used += r.report["analysis"]["ledger"]["by_purpose"][k].get<std::uint64_t>();
  if (c.protocol == 'A') CHECK(used > 0);  // box choice: one draw per logical device at least
  for (std::uint64_t k = 0; k < std::min(n, used); ++k)
    if (bit_of(run_bits, k) != bit_of(sim_bits, k)) ++bits_differ;
  CHECK(bits_differ == 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("simulate-trials writes the trials dira run records: Protocol B, --trials = --max-trials",
          "[pipeline][simulate_trials]") {
  same_trials_as_run("sim-ks294", 20000, 20000);
}

TEST_CASE("simulate-trials writes the trials dira run records: Protocol A, the protocol's own size",
          "[pipeline][simulate_trials]") {
  same_trials_as_run("sim-guehne4", 0, 64000);  // 32 devices × 2000 uses
}

TEST_CASE("simulate-trials writes the trials dira run records: Protocol C", "[pipeline][simulate_trials]") {
  same_trials_as_run("sim-chsh-photonic", 5000, 5000);
}
