#pragma once
/// @file run_directory.hpp
/// The run directory of `dira run` (docs/run-file.md): where it is created, its log, the
/// private files (0600), the storage checks, and the watchdog that keeps run.h5 readable by
/// standard tools when dira dies without closing it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace dira::app {

/// Bytes run.h5 can still grow by: free space in `dir` for this user, and the file-size limit
/// (ulimit -f) less the file's size. 1e300 when neither can be read.
double room_for_run_file(const std::filesystem::path& dir, const std::filesystem::path& file);

/// Storage pre-check before anything is created: throws RunFileError when fewer than 16 MB are
/// free under `parent` (or allowed by ulimit -f); returns a warning (empty: none) when the
/// estimated run size does not fit, in which case the run will stop cleanly (storage-full).
std::string check_storage_before_run(const std::filesystem::path& parent, double bytes_needed,
                                     std::uint64_t planned_trials);

/// HDF5 marks a file open for SWMR writing in its superblock; after a kill -9 that flag
/// stays and standard tools (h5dump, HDFView, h5py without swmr=True) refuse the file until
/// `h5clear -s` clears it. This watchdog is a shell started before run.h5 is opened, in its
/// own session (so a Ctrl-C to the terminal's process group does not reach it), reading a
/// pipe whose only writer is this process: if the pipe reaches end-of-file while the run is
/// still open, dira died, and the watchdog runs the standard `h5clear -s` on run.h5 (with
/// `--increment` when a write cut short by a full disk left the file ending before the space
/// HDF5 had allotted, which no reader opens otherwise). On a clean close dira kills the
/// watchdog first. Power loss or killing the watchdog too still
/// needs `h5clear -s` by hand (docs/run-file.md).
class CrashFlagWatchdog {
 public:
  CrashFlagWatchdog(const std::filesystem::path& h5, const std::filesystem::path& log);
  ~CrashFlagWatchdog() { disarm(); }
  CrashFlagWatchdog(const CrashFlagWatchdog&) = delete;
  CrashFlagWatchdog& operator=(const CrashFlagWatchdog&) = delete;
  bool armed() const { return pid_ > 0; }
  /// The file could not be closed: let the watchdog act now (h5clear) and wait for it.
  void fire();
  /// The file is closed cleanly: stop the watchdog without letting it act.
  void disarm();

 private:
  int pid_ = -1;
  int write_end_ = -1;
};

/// Throws RunFileError unless `name` (the experiment's `name:`) can name a directory directly
/// under --out: 1 to 100 characters from letters, digits, '-', '_', '.', '+', not starting
/// with '.'. So `../../escape`, `/abs/path` or a 300-character name are refused before
/// anything is created, with the rule in the message.
void check_run_name(const std::string& name);

/// Creates `path` (which must not exist; a symlink there is not followed) readable and
/// writable by its owner only, writes `bytes` and makes them durable (fsync). Throws
/// RunFileError naming the file.
void write_private_file(const std::filesystem::path& path, const std::string& bytes);

/// Replaces `path` atomically: writes `path`.tmp (0600, not through a symlink), fsyncs it,
/// renames it over `path` and fsyncs the directory, so a reader sees the old file, the new
/// one, or none, never a part. Throws RunFileError naming the file.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

/// sv_bits.bin: the weak-source bits drawn after the settings (Protocol A's box choice, the
/// extractor's second source), packed most significant bit first, appended as they are drawn
/// so `dira analyze` can re-decide after a kill (docs/run-file.md). Created empty in the run
/// directory when the run starts, with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600: a file or a
/// symlink planted there makes the run refuse to start instead of writing secret bits into it.
class SvBitsFile {
 public:
  explicit SvBitsFile(const std::filesystem::path& path);
  ~SvBitsFile();
  SvBitsFile(const SvBitsFile&) = delete;
  SvBitsFile& operator=(const SvBitsFile&) = delete;
  /// Appends the low `count` bits of `value`, most significant first, and hands them to the
  /// kernel (a kill -9 then keeps them; whole bytes, the last one zero-padded).
  void append(std::uint64_t value, unsigned count);
  /// Appends one bit; handed to the kernel every 4 096 bytes and at sync().
  void append_bit(bool bit);
  /// Hands everything to the kernel and fsyncs. Throws RunFileError.
  void sync();
  std::uint64_t bits() const { return bits_; }

 private:
  void write_pending();
  int fd_ = -1;
  std::filesystem::path path_;
  std::string pending_;              ///< bytes not yet written, the partial last byte included
  std::uint64_t bytes_written_ = 0;  ///< whole bytes already in the file
  std::uint64_t bits_ = 0;
};

/// The empty file a run leaves in its directory when it ended but could not write report.json
/// (a full disk): `dira analyze` tells such a run from a crash by it. Empty, so creating it needs
/// an inode and a directory entry but no data block — on a full disk it is more likely to be made
/// than any line of text.
inline constexpr const char* kReportUnwrittenFile = "report.json.unwritten";

class RunDirectory {
 public:
  /// Creates `parent`/<name>-<UTC stamp>[-k] with mode 0700, writes config.yaml (the
  /// experiment's exact text) and opens dira.log. Every file in it is created 0600 whatever the
  /// umask by the code that creates it (write_private_file, write_file_atomically, SvBitsFile,
  /// RunFileWriter for run.h5); the process umask is never changed (it is shared by every thread,
  /// a GUI's too). Throws RunFileError when it cannot (check_run_name's rule,
  /// a write error: the half-made directory is removed).
  RunDirectory(const std::filesystem::path& parent, const std::string& name, const std::string& config_text);
  ~RunDirectory() = default;
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;
  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  /// A line in dira.log, stamped with seconds since the directory was created.
  void log(const std::string& line);
  /// Writes a file readable by its owner only (certified output): write_private_file.
  void write_private(const std::string& name, const std::string& bytes) const;
  /// Writes report.json atomically (write_file_atomically). False when it could not — the report
  /// is then in run.h5 (if it could be written there) and on stdout with --json only: a line in
  /// dira.log says why, and the empty file kReportUnwrittenFile records that the run ended.
  bool write_report(const std::string& json_text);

 private:
  std::filesystem::path dir_;
  std::ofstream log_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dira::app
