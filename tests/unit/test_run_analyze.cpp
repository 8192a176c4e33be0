// `dira analyze RUN_DIR` without report.json: what the run recorded decides what it says, never
// the words of dira.log. A run that wrote its report into run.h5 but not report.json is compared
// with run.h5's copy; one that ended without writing report.json anywhere (a full disk) left the
// empty file report.json.unwritten (RunDirectory::write_report); one that crashed left neither.
// The run directories are made by a real run and then changed by hand (report.json removed,
// run.h5 rewritten without its report), so the expectations do not come from the reader.
#include "../../app/src/run_directory.hpp"
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include "scratch_files.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace dira::app;
namespace P = dira::protocol;

namespace {

/// A short run of the shipped sim-ks294 experiment (fewer trials than its n: decision incomplete).
RunResult short_run(const std::filesystem::path& out) {
  const auto c =
      load_experiment_file(std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config/experiments/sim-ks294.yaml");
  RunOptions o;
  o.out = out;
  o.max_trials = 20000;
  return run_experiment(c, o);
}

/// run.h5 written again with the same attributes, trials and ledger but no report: what a run
/// that could not write its report anywhere (or was killed before) leaves.
void drop_report_from_run_file(const std::filesystem::path& run_h5) {
  std::vector<P::Trial> trials;
  const RunFileContents before =
      read_run_file(run_h5, [&](std::span<const P::Trial> b) { trials.insert(trials.end(), b.begin(), b.end()); });
  REQUIRE(!before.report.empty());
  std::filesystem::remove(run_h5);
  RunFileWriter w(run_h5, before.config_yaml, before.metadata_json);
  w.append_trials(trials);
  w.append_ledger(before.ledger);
  w.close();
  REQUIRE(read_run_file(run_h5, [](std::span<const P::Trial>) {}).report.empty());
}

}  // namespace

TEST_CASE("analyze without report.json: the live report is run.h5's copy when the run wrote one", "[analyze]") {
  const auto out = dira::test::scratch_directory("analyze", "h5copy");
  const RunResult r = short_run(out);
  REQUIRE(r.decision == "incomplete");
  std::filesystem::remove(r.directory / "report.json");

  const auto a = analyze_run_directory(r.directory);
  CHECK(a["live_state"] == r.report["state"]);
  CHECK(a["live_report"] == "run.h5");
  CHECK(a["reproduces_live_decision"] == true);
  REQUIRE(a.contains("notes"));
  CHECK_THAT(a["notes"].dump(), Catch::Contains("is missing: the live report is run.h5's copy"));

  // run.h5's copy names the configuration that ran, as report.json does: a changed config.yaml is
  // refused, not re-decided under this run's name.
  const std::string config = dira::test::read_all(r.directory / "config.yaml");
  std::ofstream(r.directory / "config.yaml", std::ios::app) << "# edited\n";
  CHECK_THROWS_WITH(analyze_run_directory(r.directory), Catch::Contains("run.h5's report records"));
  std::ofstream(r.directory / "config.yaml", std::ios::trunc) << config;
  CHECK(analyze_run_directory(r.directory)["reproduces_live_decision"] == true);
  std::filesystem::remove_all(out);
}

TEST_CASE("analyze without any report: report.json.unwritten, not dira.log's words, tells a full disk from a crash",
          "[analyze]") {
  const auto out = dira::test::scratch_directory("analyze", "noreport");
  const RunResult r = short_run(out);
  std::filesystem::remove(r.directory / "report.json");
  drop_report_from_run_file(r.directory / "run.h5");

  CHECK_THAT(analyze_run_directory(r.directory)["live_state"].get<std::string>(),
             Catch::StartsWith("no report.json: the run did not finish (crashed or killed)"));
  // A log line that merely says so is not the record (before: dira.log was searched for it).
  std::ofstream(r.directory / "dira.log", std::ios::app) << "0.000 cannot write report.json: No space left\n";
  CHECK_THAT(analyze_run_directory(r.directory)["live_state"].get<std::string>(),
             Catch::StartsWith("no report.json: the run did not finish"));
  std::ofstream(r.directory / kReportUnwrittenFile).close();
  const auto a = analyze_run_directory(r.directory);
  CHECK_THAT(a["live_state"].get<std::string>(),
             Catch::StartsWith("no report.json: the run ended but could not write it (report.json.unwritten"));
  CHECK(a["decision"] == "incomplete");  // still decided over the trials recorded
  std::filesystem::remove_all(out);
}

TEST_CASE("run directory: a report.json that cannot be written leaves report.json.unwritten (0600)", "[rundir]") {
  const auto dir = dira::test::scratch_directory("rundir", "unwritten");
  {
    RunDirectory rd(dir, "unwritten", "name: unwritten\n");
    // A non-empty directory where report.json goes: the rename of report.json.tmp over it fails.
    std::filesystem::create_directories(rd.file("report.json") / "occupied");
    CHECK_FALSE(rd.write_report("{}\n"));
    struct stat st {};
    REQUIRE(::stat(rd.file(kReportUnwrittenFile).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(st.st_size == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(std::filesystem::exists(rd.file("report.json.tmp")));
    CHECK_THAT(dira::test::read_all(rd.file("dira.log")), Catch::Contains("cannot write report.json"));
  }
  std::filesystem::remove_all(dir);
}
