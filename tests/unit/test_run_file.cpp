// run.h5: everything written comes back; a reader sees flushed data while the writer is open.
#include "dira/app/run_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace dira::app;

TEST_CASE("run file: trials, ledger, statistics and report round-trip", "[runfile]") {
  const std::filesystem::path path = "dira-test-run.h5";
  std::filesystem::remove(path);
  std::vector<dira::protocol::Trial> trials(100000);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    trials[i].index = i;
    trials[i].u = {static_cast<std::uint8_t>(i % 9), static_cast<std::uint8_t>((i / 9) % 9), 0, 0};
    trials[i].x = {static_cast<std::uint8_t>(i % 4), static_cast<std::uint8_t>((i / 4) % 4), 0, 0};
    trials[i].flags = static_cast<std::uint32_t>(i % 3);
  }
  {
    RunFileWriter w(path, "name: test\n", "{\"software\": \"dira\"}");
    w.append_trials({trials.data(), 60000});
    w.flush();
    // A second, SWMR reader sees the flushed trials while the writer is still open.
    const auto live = read_run_file(path, nullptr);
    CHECK(live.trials == 60000);
    w.append_trials({trials.data() + 60000, 40000});
    w.append_ledger(std::vector<dira::protocol::LedgerEntry>{{dira::protocol::BitPurpose::setting, 0, 8, 0, 0},
                                                             {dira::protocol::BitPurpose::extractor, 8, 100, 0, 0}});
    w.append_statistics({1.5, 100000, 0.01, 0.002, 0.0008, 0.0001});
    w.append_report("{\"decision\": \"accept\"}");
    w.close();
  }
  std::vector<dira::protocol::Trial> back;
  const auto c = read_run_file(path, [&](std::span<const dira::protocol::Trial> b) { back.insert(back.end(), b.begin(), b.end()); });
  CHECK(c.config_yaml == "name: test\n");
  CHECK(c.metadata_json == "{\"software\": \"dira\"}");
  REQUIRE(back.size() == trials.size());
  for (std::size_t i = 0; i < back.size(); i += 997) {
    CHECK(back[i].index == trials[i].index);
    CHECK(back[i].u == trials[i].u);
    CHECK(back[i].x == trials[i].x);
    CHECK(back[i].flags == trials[i].flags);
  }
  REQUIRE(c.ledger.size() == 2);
  CHECK(c.ledger[1].purpose == dira::protocol::BitPurpose::extractor);
  CHECK(c.ledger[1].bit_count == 100);
  REQUIRE(c.statistics.size() == 1);
  CHECK(c.statistics[0].bell == 0.01);
  CHECK(c.report == "{\"decision\": \"accept\"}");
  // An existing file is never overwritten.
  CHECK_THROWS_AS(RunFileWriter(path, "", ""), RunFileError);
  std::filesystem::remove(path);
}
