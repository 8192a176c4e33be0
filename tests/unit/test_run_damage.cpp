// Issue 12: a damaged or cut-short run.h5 is an error or a count of missing rows, never a hang
// and never rows of zeros decided over; the run directory's files are private and never reached
// through a symlink. The damage is made by hand (bytes overwritten, the file truncated), so the
// expectations do not come from the reader under test.
#include "../../app/src/run_directory.hpp"
#include "dira/app/run_file.hpp"

#include "scratch_files.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

using namespace dira::app;
namespace P = dira::protocol;

namespace {

std::vector<P::Trial> numbered_trials(std::uint64_t n) {
  std::vector<P::Trial> t(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    t[i].index = i;
    t[i].u = {static_cast<std::uint8_t>(i % 3), static_cast<std::uint8_t>(i % 2), 0, 0};
    t[i].x = {1, static_cast<std::uint8_t>(i % 2), 0, 0};
    t[i].time_ps = static_cast<std::int64_t>(i) * 1000;
  }
  return t;
}

void write_run(const std::filesystem::path& path, const std::vector<P::Trial>& trials) {
  RunFileWriter w(path, "name: damage\n", "{}");
  for (std::size_t at = 0; at < trials.size(); at += 50000)
    w.append_trials({trials.data() + at, std::min<std::size_t>(50000, trials.size() - at)});
  w.append_ledger(std::vector<P::LedgerEntry>{{P::BitPurpose::setting, 0, 8, 0, 0}});
  w.close();
}

/// Reads `path`; the trials handed on must be the recorded ones, in order (never zeros).
struct ReadBack {
  bool threw = false;
  std::string error;
  RunFileContents contents;
  bool in_order = true;
  double seconds = 0;
  std::string first_wrong;
};
ReadBack read_back(const std::filesystem::path& path) {
  ReadBack r;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t expect = 0;
  try {
    r.contents = read_run_file(path, [&](std::span<const P::Trial> b) {
      for (const auto& t : b) {
        if (r.in_order && (t.index != expect || t.time_ps != static_cast<std::int64_t>(expect) * 1000)) {
          r.in_order = false;
          r.first_wrong = "row " + std::to_string(expect) + " came back as index " + std::to_string(t.index) +
                          ", time " + std::to_string(t.time_ps);
        }
        ++expect;
      }
    });
  } catch (const RunFileError& e) {
    r.threw = true;
    r.error = e.what();
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

TEST_CASE("run file damage: a byte overwritten in the first 4 kB is an error or ignored, never a hang",
          "[runfile][damage]") {
  const auto dir = dira::test::scratch_directory("damage", "bytes");
  const auto good = dir / "good.h5";
  const auto trials = numbered_trials(200000);
  write_run(good, trials);
  const std::string bytes = dira::test::read_all(good);
  REQUIRE(bytes.size() > 4096);
  int errors = 0;
  for (std::size_t off = 0; off < 4096; off += 61) {
    std::string damaged = bytes;
    damaged[off] = static_cast<char>(damaged[off] ^ 0x5a);
    const auto path = dir / ("damaged-" + std::to_string(off) + ".h5");
    std::ofstream(path, std::ios::binary) << damaged;
    const ReadBack r = read_back(path);
    INFO("byte " << off << ": " << r.error);
    // HDF5 1.10 in SWMR mode retried a failed checksum with a doubling sleep: hours.
    CHECK(r.seconds < 5);
    CHECK(r.in_order);
    if (r.threw) {
      ++errors;
      CHECK_THAT(r.error, Catch::Contains(path.string()));
    } else {
      // Whatever was handed on is the recorded trials in order, and the rest is counted.
      CHECK(r.contents.trials + r.contents.damaged_rows == r.contents.rows);
    }
    std::filesystem::remove(path);
  }
  CHECK(errors > 0);
  // The superblock's signature: not HDF5 at all.
  std::string sig = bytes;
  sig[0] = 'X';
  std::ofstream(dir / "sig.h5", std::ios::binary) << sig;
  const ReadBack r = read_back(dir / "sig.h5");
  CHECK(r.threw);
  CHECK_THAT(r.error, Catch::Contains("cannot open") && Catch::Contains("as an HDF5 run file"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("run file damage: a file cut short counts its missing rows and hands on only intact ones",
          "[runfile][damage]") {
  const auto dir = dira::test::scratch_directory("damage", "truncated");
  const auto path = dir / "run.h5";
  const auto trials = numbered_trials(300000);  // ≈ 9.6 MB: 5 chunks of 65 536 rows
  write_run(path, trials);
  const auto size = std::filesystem::file_size(path);
  for (const double keep : {0.9, 0.5}) {
    const auto cut = dir / "cut.h5";
    std::filesystem::copy_file(path, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, static_cast<std::uintmax_t>(static_cast<double>(size) * keep));
    const ReadBack r = read_back(cut);
    INFO("kept " << keep << ": " << r.error);
    CHECK(r.seconds < 5);
    CHECK(r.in_order);
    if (!r.threw) {
      CHECK(r.contents.rows == 300000);
      CHECK(r.contents.damaged_rows > 0);
      CHECK(r.contents.trials + r.contents.damaged_rows == 300000);
      CHECK_THAT(r.contents.damage, Catch::Contains("missing or damaged"));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("run file damage: a killed writer's file (SWMR flag set) cut short is read up to the cut",
          "[runfile][damage]") {
  // The case of issue 12: dira and its watchdog killed, the file truncated to 90 %. A child
  // process writes and flushes, then dies without closing (the flag stays set).
  const auto dir = dira::test::scratch_directory("damage", "killed");
  const auto path = dir / "run.h5";
  const auto trials = numbered_trials(300000);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      auto* w = new RunFileWriter(path, "name: killed\n", "{}");
      for (std::size_t at = 0; at < trials.size(); at += 50000) w->append_trials({trials.data() + at, 50000});
      w->flush();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);  // no close: what kill -9 leaves
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  {
    const ReadBack whole = read_back(path);
    INFO(whole.error);
    REQUIRE_FALSE(whole.threw);
    CHECK(whole.contents.trials == 300000);
    CHECK(whole.contents.damaged_rows == 0);
    CHECK(whole.in_order);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) * 9 / 10);
  const ReadBack r = read_back(path);
  INFO(r.error << r.first_wrong << " " << r.contents.damage << " " << r.contents.unverified);
  CHECK(r.seconds < 5);
  CHECK(r.in_order);
  if (!r.threw) {
    CHECK(r.contents.damaged_rows > 0);
    CHECK(r.contents.trials < 300000);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("run file damage: rows out of order (zeros where rows were never written) are not handed on",
          "[runfile][damage]") {
  // Written by hand: 1 000 trials, then 1 000 rows of zeros, then 1 000 more trials. Files
  // written before the per-chunk checksums had only the trial indices to show this.
  const auto dir = dira::test::scratch_directory("damage", "zeros");
  const auto path = dir / "run.h5";
  auto trials = numbered_trials(3000);
  for (std::size_t i = 1000; i < 2000; ++i) trials[i] = P::Trial{};
  write_run(path, trials);
  const ReadBack r = read_back(path);
  REQUIRE_FALSE(r.threw);
  CHECK(r.in_order);
  CHECK(r.contents.trials == 1000);
  CHECK(r.contents.damaged_rows == 2000);
  CHECK_THAT(r.contents.damage, Catch::Contains("rows 1000–2999") && Catch::Contains("does not follow index 999"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("run directory: names that would leave --out are refused before anything is created", "[rundir]") {
  const auto dir = dira::test::scratch_directory("rundir", "names");
  for (const std::string& bad :
       std::vector<std::string>{"../../escape", "/abs/path", std::string(300, 'a'), ".hidden", "a/b", "tab\there"}) {
    INFO(bad);
    CHECK_THROWS_WITH(RunDirectory(dir / "out", bad, "name: x\n"), Catch::Contains("cannot name a run directory"));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
  CHECK_FALSE(std::filesystem::exists(dir / "escape"));
  CHECK_NOTHROW(check_run_name("sim-ks294_v2.1+x"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("run directory: 0700, and every file in it 0600 whatever the umask", "[rundir]") {
  const auto dir = dira::test::scratch_directory("rundir", "modes");
  const mode_t old = ::umask(0);
  {
    RunDirectory rd(dir, "modes", "name: modes\n");
    rd.log("a line");
    RunFileWriter w(rd.file("run.h5"), "", "{}");
    w.close();
    rd.write_private("output.bin", "xyz");
    REQUIRE(rd.write_report("{}\n"));
    SvBitsFile sv(rd.file("sv_bits.bin"));
    sv.append(0b101, 3);
    struct stat st {};
    REQUIRE(::stat(rd.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    for (const char* f : {"config.yaml", "dira.log", "run.h5", "output.bin", "report.json", "sv_bits.bin"}) {
      INFO(f);
      REQUIRE(::stat(rd.file(f).c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
    }
    CHECK_FALSE(std::filesystem::exists(rd.file("report.json.tmp")));
    // Each file got its mode where it was created: the process umask, shared by every thread
    // (a GUI's too), was never changed (before: 077 while a run directory was open).
    const mode_t during = ::umask(0);
    CHECK(during == 0);
  }
  CHECK(::umask(old) == 0);  // as the test set it
  std::filesystem::remove_all(dir);
}

TEST_CASE("sv_bits.bin: appended as drawn, never through a symlink", "[rundir]") {
  const auto dir = dira::test::scratch_directory("rundir", "svbits");
  {
    SvBitsFile sv(dir / "sv_bits.bin");
    sv.append(0b1011, 4);
    // Already in the file (a kill -9 now keeps it), the partial byte zero-padded.
    CHECK(dira::test::read_all(dir / "sv_bits.bin") == std::string(1, static_cast<char>(0xb0)));
    sv.append(0b0110, 4);
    sv.append_bit(true);
    sv.sync();
    CHECK(sv.bits() == 9);
  }
  CHECK(dira::test::read_all(dir / "sv_bits.bin") == std::string("\xb6\x80", 2));
  // A symlink planted where the file goes: refused, and its target untouched.
  std::ofstream(dir / "target") << "keep";
  std::filesystem::create_symlink(dir / "target", dir / "planted");
  CHECK_THROWS_WITH(SvBitsFile(dir / "planted"), Catch::Contains("dira never writes through one"));
  CHECK(dira::test::read_all(dir / "target") == "keep");
  std::filesystem::remove_all(dir);
}

TEST_CASE("run.h5: created 0600 under umask 0, never through a symlink", "[rundir][runfile]") {
  const auto dir = dira::test::scratch_directory("rundir", "runh5");
  const mode_t old = ::umask(0);
  {
    RunFileWriter w(dir / "run.h5", "", "{}");
    w.close();
  }
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat((dir / "run.h5").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_THROWS_WITH(RunFileWriter(dir / "run.h5", "", "{}"), Catch::Contains("already there"));
  std::ofstream(dir / "target") << "keep";
  std::filesystem::create_symlink(dir / "target", dir / "planted.h5");
  CHECK_THROWS_WITH(RunFileWriter(dir / "planted.h5", "", "{}"), Catch::Contains("already there"));
  CHECK(dira::test::read_all(dir / "target") == "keep");
  std::filesystem::remove_all(dir);
}

TEST_CASE("report.json is replaced atomically", "[rundir]") {
  const auto dir = dira::test::scratch_directory("rundir", "atomic");
  write_file_atomically(dir / "report.json", "{\"a\": 1}\n");
  write_file_atomically(dir / "report.json", "{\"a\": 2}\n");
  CHECK(dira::test::read_all(dir / "report.json") == "{\"a\": 2}\n");
  CHECK_FALSE(std::filesystem::exists(dir / "report.json.tmp"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("run file damage: one trial's bytes changed in the file fail their block's checksum", "[runfile][damage]") {
  // The byte is found by content (row 150 000's time_ps, 150 000 000 ps, little-endian), so it
  // is trial data whatever the file's layout; the checksums of /trial_checksums must catch it.
  const auto dir = dira::test::scratch_directory("damage", "flip");
  const auto path = dir / "run.h5";
  write_run(path, numbered_trials(200000));
  std::string bytes = dira::test::read_all(path);
  const std::int64_t want = 150000LL * 1000;
  std::string pattern(8, '\0');
  std::memcpy(pattern.data(), &want, 8);
  const auto at = bytes.find(pattern);
  REQUIRE(at != std::string::npos);
  bytes[at + 1] = static_cast<char>(bytes[at + 1] ^ 0x01);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  const ReadBack r = read_back(path);
  REQUIRE_FALSE(r.threw);
  CHECK(r.in_order);
  // write_run appends 50 000 rows at a time: the block holding row 150 000 is rows 150 000–199 999.
  CHECK(r.contents.trials == 150000);
  CHECK(r.contents.damaged_rows == 50000);
  CHECK_THAT(r.contents.damage, Catch::Contains("rows 150000–199999 fail their checksum"));
  std::filesystem::remove_all(dir);
}
