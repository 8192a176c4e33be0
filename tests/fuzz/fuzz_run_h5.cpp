// libFuzzer target: run.h5 as `dira analyze` reads it (app::read_run_file, issue 12), damaged.
//
// A whole run.h5 is at least ~2 MB (HDF5 allocates the trials' chunk of 65 536 rows whole), far too
// big to mutate as one input. So the input is a damage pattern applied to a small valid run file
// that this target writes once at start-up with dira's RunFileWriter (300 trials in 3 appends, so
// 3 checksum rows; a ledger; statistics; a report), into a private temporary directory:
//   bytes 0-3  little-endian offset into the file (modulo its size); bit 31 set: the file is cut
//              at that offset instead (a truncated file);
//   bytes 4-   XORed into the file from the offset on (so all zeros is the intact file, and a
//              mutation flips bits of real HDF5 structures: superblock, object headers, B-trees,
//              chunk index, and the rows themselves).
// The damaged file is read by read_run_file through its path, exactly as `dira analyze` does; the
// file is then restored for the next input. Any input must give contents (trials handed on in
// strictly increasing index order, never more than the file's rows, trials + damaged ≤ rows) or a
// RunFileError; any other exception, a crash, a sanitizer report, or a hang (libFuzzer -timeout) is
// a finding. Crashes inside libhdf5 itself are findings too: docs/reliability.md lists them.
#include "dira/app/run_file.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Template {
  fs::path dir, file;
  std::vector<std::uint8_t> bytes;  // the intact file
  int fd = -1;                      // the file the reader opens, damaged and restored in place
};

void remove_dir(const Template& t) {
  std::error_code ec;
  fs::remove_all(t.dir, ec);
}

Template make_template() {
  Template t;
  const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  // libFuzzer ends with _Exit (time limit, a crash, -merge's child), so the at-exit cleanup below
  // does not always run: directories left by processes that no longer exist are removed here.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    const std::string prefix = "dira-fuzz-run-h5-";
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  std::string pattern = (base / ("dira-fuzz-run-h5-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data())) {
    std::perror("fuzz_run_h5: mkdtemp");
    std::abort();
  }
  t.dir = pattern;
  const fs::path written = t.dir / "template.h5";
  {
    dira::app::RunFileWriter w(written, "name: fuzz-run-h5\n", R"({"software":"fuzz"})");
    std::uint64_t index = 0;
    for (int block = 0; block < 3; ++block) {  // 3 appends: 3 checksum rows
      std::vector<dira::protocol::Trial> trials(100);
      for (auto& tr : trials) {
        tr.index = index;
        tr.u = {static_cast<std::uint8_t>(index % 9), static_cast<std::uint8_t>(index * 7 % 9), 0, 0};
        tr.x = {static_cast<std::uint8_t>(index % 4), static_cast<std::uint8_t>(index / 3 % 4), 0, 0};
        tr.flags = index % 17 == 0 ? 1u : 0u;
        tr.time_ps = static_cast<std::int64_t>(index + 1) * 1000000;
        ++index;
      }
      w.append_trials(trials);
      w.append_statistics({0.5 * (block + 1), index, 0.001, 0.01, 0.0008, 0.001});
      w.flush();
    }
    const dira::protocol::LedgerEntry settings{dira::protocol::BitPurpose::setting, 0, 4200, 0, 299};
    const dira::protocol::LedgerEntry box{dira::protocol::BitPurpose::box_choice, 4200, 16, 0, 3};
    w.append_ledger(std::vector<dira::protocol::LedgerEntry>{settings, box});
    w.append_report(R"({"state":"completed","decision":"incomplete"})");
    w.flush();
    w.close();
  }
  std::ifstream in(written, std::ios::binary);
  t.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  // DIRA_FUZZ_RUN_H5_TEMPLATE=PATH: a copy of the intact file there, to look at its layout (h5dump,
  // h5debug) or choose seed offsets (make_run_h5_seeds.py).
  if (const char* keep = std::getenv("DIRA_FUZZ_RUN_H5_TEMPLATE")) {
    fs::copy_file(written, keep, fs::copy_options::overwrite_existing, ec);
  }
  t.file = t.dir / "run.h5";
  t.fd = ::open(t.file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (t.fd < 0 || t.bytes.empty() ||
      ::pwrite(t.fd, t.bytes.data(), t.bytes.size(), 0) != static_cast<ssize_t>(t.bytes.size())) {
    std::perror("fuzz_run_h5: writing the template");
    std::abort();
  }
  return t;
}

Template& the_template() {
  static Template t = make_template();
  static const bool cleanup = [] {
    std::atexit([] { remove_dir(the_template()); });
    return true;
  }();
  (void)cleanup;
  return t;
}

void write_all(int fd, const std::uint8_t* p, std::size_t n, std::size_t at) {
  if (::pwrite(fd, p, n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
    std::perror("fuzz_run_h5: pwrite");
    std::abort();
  }
}

}  // namespace

// libFuzzer calls this once before the first input: the template is written outside every
// input's execution, so what HDF5 keeps from writing it is not counted against an input (the
// replay driver does not call it; the_template() then writes it at the first input).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)the_template();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Template& t = the_template();
  static const bool verbose = std::getenv("DIRA_FUZZ_VERBOSE") != nullptr;  // what the reader said, per input
  if (size < 4) return 0;
  const std::uint32_t word = static_cast<std::uint32_t>(data[0]) | static_cast<std::uint32_t>(data[1]) << 8 |
                             static_cast<std::uint32_t>(data[2]) << 16 | static_cast<std::uint32_t>(data[3]) << 24;
  const bool cut = (word & 0x80000000u) != 0;
  const std::size_t at = (word & 0x7fffffffu) % t.bytes.size();
  const std::size_t n = cut ? 0 : std::min(size - 4, t.bytes.size() - at);
  if (cut) {
    if (::ftruncate(t.fd, static_cast<off_t>(at)) != 0) std::abort();
  } else {
    std::vector<std::uint8_t> damaged(t.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                      t.bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
    for (std::size_t i = 0; i < n; ++i) damaged[i] ^= data[4 + i];
    write_all(t.fd, damaged.data(), n, at);
  }

  try {
    std::uint64_t handed = 0;
    bool first = true;
    std::uint64_t last = 0;
    const auto contents = dira::app::read_run_file(t.file, [&](std::span<const dira::protocol::Trial> block) {
      for (const auto& tr : block) {
        if (!first && tr.index <= last) std::abort();  // the reader promises strictly increasing indices
        first = false;
        last = tr.index;
        ++handed;
      }
    });
    if (handed != contents.trials) std::abort();
    if (contents.trials > contents.rows || contents.damaged_rows > contents.rows - contents.trials) std::abort();
    if (verbose)
      std::printf("%zu bytes at %zu%s: %llu rows, %llu trials, %llu damaged (%s), %llu unverified; %s\n", n, at,
                  cut ? " (cut)" : "", static_cast<unsigned long long>(contents.rows),
                  static_cast<unsigned long long>(contents.trials),
                  static_cast<unsigned long long>(contents.damaged_rows), contents.damage.c_str(),
                  static_cast<unsigned long long>(contents.unverified_rows), contents.damage_other.c_str());
  } catch (const dira::app::RunFileError& e) {
    // refused, naming the file and HDF5's reason: the expected answer to a file it cannot open
    if (verbose) std::printf("%zu bytes at %zu%s: refused: %s\n", n, at, cut ? " (cut)" : "", e.what());
  } catch (...) {
    std::abort();  // anything else escaping the reader is a defect
  }

  // Restore the intact file for the next input.
  if (cut) {
    write_all(t.fd, t.bytes.data() + at, t.bytes.size() - at, at);
  } else {
    write_all(t.fd, t.bytes.data() + at, n, at);
  }
  return 0;
}
