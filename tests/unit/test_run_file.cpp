// run.h5: everything written comes back; a reader sees flushed data while the writer is open.
#include "dira/app/run_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>

#include <signal.h>
#include <sys/resource.h>

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
  const auto c = read_run_file(
      path, [&](std::span<const dira::protocol::Trial> b) { back.insert(back.end(), b.begin(), b.end()); });
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

// Issue 12 (tests/faults/disk_fill.sh): after a failed write a file can hold trial rows its ledger
// does not cover. A file that declares ledger_covers_trials (every dira run's) is decided only over
// the trials whose setting bits the ledger accounts for; the rest are reported, never used.
TEST_CASE("run file: trials past the ledger's coverage are not handed on", "[runfile]") {
  using dira::protocol::BitPurpose;
  std::vector<dira::protocol::Trial> trials(1000);
  for (std::size_t i = 0; i < trials.size(); ++i) trials[i].index = i;
  auto write = [&](const std::filesystem::path& path, const std::string& metadata) {
    std::filesystem::remove(path);
    RunFileWriter w(path, "name: test\n", metadata);
    w.append_trials(trials);
    // Settings of trials 0–599 (two entries, the second growing to 599), box choice after them.
    w.append_ledger(std::vector<dira::protocol::LedgerEntry>{{BitPurpose::setting, 0, 800, 0, 399},
                                                             {BitPurpose::setting, 800, 400, 400, 599},
                                                             {BitPurpose::box_choice, 1200, 8, 0, 0}});
    w.close();
  };
  const std::filesystem::path covered = "dira-test-ledger-covered.h5", other = "dira-test-ledger-other.h5";
  write(covered, "{\"software\": \"dira\", \"ledger_covers_trials\": true}");
  std::uint64_t handed = 0, last = 0;
  const auto c = read_run_file(covered, [&](std::span<const dira::protocol::Trial> b) {
    handed += b.size();
    last = b.back().index;
  });
  CHECK(c.rows == 1000);
  CHECK(c.trials == 600);
  CHECK(handed == 600);
  CHECK(last == 599);
  CHECK(c.damaged_rows == 400);
  CHECK_THAT(c.damage, Catch::Contains("rows 600–999") && Catch::Contains("not covered by the ledger") &&
                           Catch::Contains("end at trial 599"));
  // A file that does not declare it (another writer, or one from before the rule): every row.
  write(other, "{\"software\": \"dira\"}");
  CHECK(read_run_file(other, nullptr).trials == 1000);
  std::filesystem::remove(covered);
  std::filesystem::remove(other);
}

TEST_CASE("run file: a write past the file-size limit is a RunFileError, not a crash", "[runfile]") {
  // ulimit -f stands in for a full disk: the kernel answers EFBIG once the file would grow
  // past the limit (SIGXFSZ ignored, as dira run does). Every append must either succeed or
  // throw RunFileError; the rows written before stay readable.
  const std::filesystem::path path = "dira-test-run-efbig.h5";
  std::filesystem::remove(path);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit old_limit {};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  std::vector<dira::protocol::Trial> block(4096);
  for (std::size_t i = 0; i < block.size(); ++i) block[i].index = i;
  std::uint64_t written = 0;
  bool threw = false;
  {
    RunFileWriter w(path, "name: efbig\n", "{}");
    w.flush();
    struct rlimit lim = old_limit;
    lim.rlim_cur = 4u << 20;  // 4 MiB ≈ 130 000 trials of 32 bytes
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    try {
      for (int k = 0; k < 1000; ++k) {
        w.append_trials(block);
        written += block.size();
        if (k % 8 == 0) w.flush();
      }
    } catch (const RunFileError&) {
      threw = true;
    }
    try {
      w.close();
    } catch (const RunFileError&) {
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
  }
  ::signal(SIGXFSZ, old_handler);
  CHECK(threw);
  CHECK(written < 1000 * 4096);
  CHECK(written > 0);
  std::filesystem::remove(path);
}

// CI saw it (tests/faults/disk_fill.sh): after the final flush failed, the run decided over rows
// and ledger entries that were only in HDF5's caches — the decision's reader, opened in the same
// process, shares the writer's open file — and the file on disk then held fewer covered trials.
// close() must close even when its flush fails, so a later reader sees the file as on disk: here
// the same as a byte copy of it (another inode, so HDF5 cannot share anything with the writer).
TEST_CASE("run file: close after a failed flush leaves readers only what reached the disk", "[runfile]") {
  using dira::protocol::BitPurpose;
  const std::filesystem::path path = "dira-test-run-failed-close.h5", copy = "dira-test-run-failed-close-copy.h5";
  std::filesystem::remove(path);
  std::filesystem::remove(copy);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit old_limit {};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  std::vector<dira::protocol::Trial> block(4096);
  bool flush_failed = false, close_failed = false, open_after = true;
  {
    RunFileWriter w(path, "name: failed-close\n", "{\"ledger_covers_trials\": true}");
    w.flush();
    struct rlimit lim = old_limit;
    lim.rlim_cur = 2u << 20;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    std::uint64_t n = 0;
    try {
      for (int k = 0; k < 1000; ++k) {
        for (std::size_t i = 0; i < block.size(); ++i) block[i].index = n + i, block[i].time_ps = n + i;
        w.append_trials(block);
        n += block.size();
        // The ledger's one setting entry grows with the trials, rewritten at every flush (as dira run does).
        w.write_ledger_from(0, std::vector<dira::protocol::LedgerEntry>{{BitPurpose::setting, 0, 2 * n, 0, n - 1}});
        w.flush();
      }
    } catch (const RunFileError&) {
      flush_failed = true;
    }
    try {
      w.close();
    } catch (const RunFileError&) {
      close_failed = true;
    }
    open_after = w.is_open();
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
  }
  ::signal(SIGXFSZ, old_handler);
  REQUIRE(flush_failed);
  CHECK(close_failed);  // the unwritable rows are still in the caches when close flushes
  CHECK_FALSE(open_after);
  std::filesystem::copy_file(path, copy);
  // The file may end before the space HDF5 allotted (a write cut at the limit): then neither opens
  // ("truncated file"; dira's watchdog applies h5clear --increment), and the same must hold here.
  auto read = [](const std::filesystem::path& p) {
    try {
      return std::optional<RunFileContents>(read_run_file(p, nullptr));
    } catch (const RunFileError&) {
      return std::optional<RunFileContents>();
    }
  };
  const auto here = read(path), disk = read(copy);
  REQUIRE(here.has_value() == disk.has_value());
  if (here) {
    CHECK(here->rows == disk->rows);
    CHECK(here->trials == disk->trials);
    REQUIRE(here->ledger.size() == disk->ledger.size());
    if (!here->ledger.empty()) CHECK(here->ledger[0].last_item == disk->ledger[0].last_item);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(copy);
}

TEST_CASE("run file: raw tags round-trip with their station", "[runfile]") {
  const std::filesystem::path path = "dira-test-run-tags.h5";
  std::filesystem::remove(path);
  std::vector<dira::hal::Tag> tags;
  for (int i = 0; i < 70000; ++i)  // more than one read block (65 536)
    tags.push_back({i % 50 == 0 ? dira::hal::TagType::missed_events : dira::hal::TagType::time_tag, 0,
                    static_cast<std::uint16_t>(i % 50 == 0 ? 3 : 0), i % 7, 1000LL * i});
  {
    RunFileWriter w(path, "name: tags\n", "{}", true);
    w.append_tags(1, {tags.data(), 40000});
    w.append_tags(2, {tags.data() + 40000, 30000});
    w.close();
  }
  std::vector<RecordedTag> back;
  const auto n =
      read_run_file_tags(path, [&](std::span<const RecordedTag> b) { back.insert(back.end(), b.begin(), b.end()); });
  REQUIRE(n == 70000);
  REQUIRE(back.size() == 70000);
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].station == (i < 40000 ? 1 : 2));
    if (back[i].tag.type != tags[i].type || back[i].tag.channel != tags[i].channel ||
        back[i].tag.time_ps != tags[i].time_ps || back[i].tag.missed != tags[i].missed) {
      FAIL("tag " << i << " differs");
    }
  }
  CHECK(read_run_file(path, nullptr).tags == 70000);
  std::filesystem::remove(path);
}
