#pragma once
/// @file run_directory.hpp
/// The run directory of `dira run` (docs/run-file.md): where it is created, its log, the
/// private files (0600), the storage checks, and the watchdog that keeps run.h5 readable by
/// standard tools when dira dies without closing it.

#include <chrono>
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
/// still open, dira died, and the watchdog runs the standard `h5clear -s` on run.h5. On a
/// clean close dira kills the watchdog first. Power loss or killing the watchdog too still
/// needs `h5clear -s` by hand (docs/run-file.md).
class CrashFlagWatchdog {
 public:
  CrashFlagWatchdog(const std::filesystem::path& h5, const std::filesystem::path& log);
  ~CrashFlagWatchdog() { disarm(); }
  CrashFlagWatchdog(const CrashFlagWatchdog&) = delete;
  CrashFlagWatchdog& operator=(const CrashFlagWatchdog&) = delete;
  bool armed() const { return pid_ > 0; }
  /// The file could not be closed: let the watchdog act now (h5clear -s) and wait for it.
  void fire();
  /// The file is closed cleanly: stop the watchdog without letting it act.
  void disarm();

 private:
  int pid_ = -1;
  int write_end_ = -1;
};

class RunDirectory {
 public:
  /// Creates `parent`/<name>-<UTC stamp>[-k], writes config.yaml (the experiment's exact text)
  /// and opens dira.log. Throws RunFileError when it cannot.
  RunDirectory(const std::filesystem::path& parent, const std::string& name, const std::string& config_text);
  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  /// A line in dira.log, stamped with seconds since the directory was created.
  void log(const std::string& line);
  /// Writes a file readable by its owner only (certified output, weak-source bits).
  void write_private(const std::string& name, const std::string& bytes) const;

 private:
  std::filesystem::path dir_;
  std::ofstream log_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dira::app
