#pragma once
/// @file ptu_replay.hpp
/// A PTU file replayed as a hal::TimeTagger (driver "ptu"), the streaming file reader under it,
/// and the per-file summary behind `dira ptu-info`. Records are read and decoded in blocks; the
/// file is never loaded whole.

#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dira::drivers::picoquant {

/// Reads a PTU file's header, then its records block by block.
class PtuFileReader {
 public:
  /// Opens `path` and reads the header. Throws std::runtime_error if the file cannot be opened,
  /// PtuFormatError if the header is invalid.
  explicit PtuFileReader(const std::string& path);
  /// Reads from a stream positioned at the file's first byte (tests, memory).
  PtuFileReader(std::unique_ptr<std::istream> in, std::string name);

  const PtuHeader& header() const { return header_; }
  const std::string& name() const { return name_; }
  /// Decodes up to `max_records` further records, appending their tags to `out`. Returns false
  /// when every record announced by the header has been read (nothing was appended). Throws
  /// PtuFormatError when the file ends early (naming the offset where the data stop and the
  /// record expected there) or a record is invalid.
  bool read(hal::TagBlock& out, std::size_t max_records);
  std::uint64_t records_read() const { return decoder_.counts().records; }
  const DecodeCounts& counts() const { return decoder_.counts(); }

 private:
  void init();
  std::unique_ptr<std::istream> in_;
  std::string name_;
  PtuHeader header_;
  RecordDecoder decoder_;
  std::vector<std::uint32_t> words_;
  std::vector<char> bytes_;
};

/// Everything `dira ptu-info` prints about a file.
struct PtuSummary {
  PtuHeader header;
  DecodeCounts counts;
  std::map<int, std::uint64_t> tags_per_channel;  ///< dira channel → tags (sync 0, detectors, markers 1000 + m)
  std::optional<std::int64_t> first_time_ps, last_time_ps;  ///< earliest and latest tag time
};
/// Reads the whole file (block by block). Throws like PtuFileReader.
PtuSummary summarize(PtuFileReader& reader, std::size_t block_records = 65536);
PtuSummary summarize_file(const std::string& path, std::size_t block_records = 65536);

/// A PTU file as a time tagger. Settings: file (text), pace (real ≥ 0: 0 = as fast as possible,
/// 1 = the file's own rate, 2 = twice as fast), block_records (integer). Read-only: record_type,
/// records, global_resolution_ps, resolution_ps (from the header).
///
/// next() gives StreamStart, then TagBlocks of at most block_records records' tags, then one
/// StreamEnd (error = true with the PtuFormatError message if the file is corrupt), then empty
/// blocks. With pace > 0 a tag at t ps is not delivered before start() + t / pace of wall time.
class PtuReplay : public hal::TimeTagger {
 public:
  PtuReplay() = default;
  /// Applies settings (see class comment); throws std::invalid_argument for a bad setting and
  /// PtuFormatError / std::runtime_error if `file` cannot be read.
  explicit PtuReplay(const std::map<std::string, hal::SettingValue>& settings);

  std::string driver() const override { return "ptu"; }
  std::string identity() const override;
  const std::vector<hal::Capability>& capabilities() const override;
  /// Setting `file` reads its header at once (so errors show before start()).
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  /// Opens the file at its first record. Throws std::logic_error if no file is set.
  void start() override;
  void stop() override;
  hal::TaggerEvent next(std::chrono::milliseconds timeout) override;
  /// Sync 0, the detector channels the record type can carry, markers 1001..1004.
  std::vector<int> channels() const override;

  const std::optional<PtuHeader>& header() const { return header_; }

 private:
  enum class State { idle, started, streaming, ended };
  void refill();
  std::string file_;
  double pace_ = 0;
  std::int64_t block_records_ = 65536;
  std::optional<PtuHeader> header_;
  std::unique_ptr<PtuFileReader> reader_;
  State state_ = State::idle;
  hal::TagBlock pending_;  // paced mode: decoded, not yet delivered
  std::size_t pending_pos_ = 0;
  bool eof_ = false;
  bool stopped_ = false;
  std::optional<std::string> error_;  // a PtuFormatError met while reading: the StreamEnd reason
  std::chrono::steady_clock::time_point t0_;
};

/// The capabilities of the "ptu" driver.
const std::vector<hal::Capability>& ptu_capabilities();

}  // namespace dira::drivers::picoquant

namespace dira::drivers {
/// Registers the "ptu" time-tagger driver (PicoQuant TTTR replay; no scan: files are not on a bus).
void register_picoquant(hal::DriverRegistry& registry);
}  // namespace dira::drivers
