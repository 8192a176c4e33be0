#pragma once
/// @file run_file.hpp
/// `run.h5`: HDF5, written incrementally in SWMR mode so a reader (h5py, HDFView, h5dump) can
/// follow a live run and a kill -9 leaves every flushed trial readable. Layout in docs/run-file.md.

#include "dira/hal/tag.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace dira::app {

/// One row of the statistics time series.
struct StatisticsRow {
  double elapsed_s = 0;
  std::uint64_t trials = 0;
  double bell = 0, bell_half_width = 0;
  double ustar = 0, ustar_half_width = 0;
};

/// Thrown when the run file cannot be created or written (disk full, permissions).
class RunFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RunFileWriter {
 public:
  /// Creates the file (fails if it exists), writes `config_yaml` and `metadata_json` as
  /// attributes, creates every dataset (with `raw_tags`, also "tags") and switches to SWMR
  /// writing (datasets cannot be added after that).
  RunFileWriter(const std::filesystem::path& path, const std::string& config_yaml, const std::string& metadata_json,
                bool raw_tags = false);
  ~RunFileWriter();
  RunFileWriter(const RunFileWriter&) = delete;
  RunFileWriter& operator=(const RunFileWriter&) = delete;

  void append_trials(std::span<const protocol::Trial> trials);
  /// Appends a block of raw tags from `station` (only if created with raw_tags).
  void append_tags(int station, std::span<const hal::Tag> tags);
  /// Appends ledger entries (call with the entries added since the last call).
  void append_ledger(std::span<const protocol::LedgerEntry> entries);
  /// Writes `entries` as ledger rows row, row+1, …, replacing what those rows held: the
  /// ledger's last entry keeps growing during a run, and is rewritten at every flush so a
  /// crash loses at most the bits drawn since then.
  void write_ledger_from(std::uint64_t row, std::span<const protocol::LedgerEntry> entries);
  void append_statistics(const StatisticsRow& row);
  /// Appends to the JSON text log of decisions and the final report (bytes, UTF-8).
  void append_report(const std::string& json);
  /// Makes everything written so far durable and visible to SWMR readers.
  void flush();
  /// Closes the file; throws RunFileError if the last flush fails (the file is closed anyway:
  /// what did not reach the disk is gone, and later readers see only what did).
  void close();
  bool is_open() const;
  std::uint64_t trials_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RunFileContents {
  std::string config_yaml, metadata_json;
  std::uint64_t rows = 0;    ///< rows of /trials (its extent)
  std::uint64_t trials = 0;  ///< intact trials handed to the sink: the rows before the first damaged one
  /// Rows from the first one that is unreadable (chunk checksum, past the end of a truncated
  /// file) or out of order (trial indices strictly increase) to the end: never handed on.
  std::uint64_t damaged_rows = 0;
  std::string damage;        ///< why, naming the rows (empty: none)
  std::string damage_other;  ///< unreadable ledger / statistics / report rows (empty: none)
  /// Rows handed on or damaged that no checksum covers (their checksum rows lost, or a file from
  /// before the checksums is not counted here): checked by the trial order only.
  std::uint64_t unverified_rows = 0;
  std::string unverified;  ///< which rows and why (empty: none)
  std::vector<protocol::LedgerEntry> ledger;
  std::vector<StatisticsRow> statistics;
  std::string report;      ///< concatenated report text (may be empty for a crashed run)
  std::uint64_t tags = 0;  ///< raw tags recorded (0 unless outputs.raw_tags)
};

/// One recorded raw tag and the station it came from.
struct RecordedTag {
  int station = 0;
  hal::Tag tag;
};

/// Streams the raw tags of a run file (outputs.raw_tags) in recording order; returns how many.
std::uint64_t read_run_file_tags(const std::filesystem::path& path,
                                 const std::function<void(std::span<const RecordedTag>)>& sink);

/// Reads a run file written by RunFileWriter (complete, interrupted or crashed). Trials are
/// streamed to `sink` in blocks so memory stays flat, up to the first damaged row (see
/// RunFileContents::damaged_rows). Throws RunFileError, with HDF5's reason, when the file cannot
/// be opened at all; never waits on a damaged file (SWMR metadata retries are bounded).
RunFileContents read_run_file(const std::filesystem::path& path,
                              const std::function<void(std::span<const protocol::Trial>)>& sink);

}  // namespace dira::app
