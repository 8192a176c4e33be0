#pragma once
/// @file run_recorder.hpp
/// The recording side of acquisition: on the session's thread while acquire() drives the
/// tagger on its own, every block goes to the live protocol, to run.h5 and to the display
/// counters; run.h5 is flushed every half second (the ledger, a statistics row), storage is
/// checked every 65 536 trials so a run stops cleanly before the disk is full, and progress
/// snapshots go out at the interval the front end asked for.

#include "acquisition.hpp"
#include "live_protocol.hpp"
#include "run_directory.hpp"
#include "run_statistics.hpp"

#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dira::app {

struct RecorderSettings {
  double bytes_per_trial = 32;  ///< run.h5 bytes per trial (storage checks)
  bool raw_tags = false;
  int station = 0;  ///< the station whose raw tags are recorded
  double progress_interval_s = 1;
  std::uint64_t planned = 0;
  double duration_s = 0;
};

class RunRecorder {
 public:
  RunRecorder(RunFileWriter& file, const RunDirectory& dir, RunStatistics& stats, LiveProtocol& protocol,
              RecorderSettings settings, std::function<void(const Progress&)> progress,
              std::chrono::steady_clock::time_point start);
  /// acquire()'s consumer: records a block (`ledger`: the ledger as of this block). Returns the
  /// status to stop with: storage_full, storage_error, or complete when the protocol may stop.
  std::optional<RunStatus> record(const AcquiredBlock& block, const std::vector<protocol::LedgerEntry>& ledger);
  /// acquire()'s idle callback: progress and flushes continue while nothing arrives.
  void idle(bool paused);
  /// After acquisition: the ledger through its last entry and a last statistics row, flushed.
  /// Throws RunFileError.
  void finish(const std::vector<protocol::LedgerEntry>& ledger);
  /// Ledger entries added after finish() (box choice, extractor: drawn by the analysis).
  void append_ledger(const std::vector<protocol::LedgerEntry>& ledger);
  /// A progress snapshot now, at `stage` (acquiring, paused, analysing, done); the "done"
  /// snapshot carries the run's decision.
  void progress(const std::string& stage, const std::string& decision = {});

  std::uint64_t trials() const { return trials_; }
  /// False after a write error: nothing more can be recorded.
  bool recording() const { return recording_; }
  /// Why recording stopped (storage), if it did.
  const std::string& fault() const { return fault_; }

 private:
  void publish(bool final_flush);
  double elapsed() const;

  RunFileWriter& file_;
  const RunDirectory& dir_;
  RunStatistics& stats_;
  LiveProtocol& protocol_;
  RecorderSettings settings_;
  std::function<void(const Progress&)> progress_;
  std::chrono::steady_clock::time_point start_, last_progress_, last_flush_;
  std::uint64_t trials_ = 0, trials_at_last_check_ = 0;
  std::vector<protocol::LedgerEntry> ledger_;
  std::size_t ledger_written_ = 0;
  bool recording_ = true;
  std::string fault_;
};

}  // namespace dira::app
