#pragma once
/// @file station.hpp
/// One station (`dira station STATION.yaml`; docs/stations.md): its tagger and modulators
/// acquire; every tag block is appended to the station's own file before anything is sent
/// (crash-safe: checksummed frames, a torn tail is cut on reopening); a link thread streams the
/// file to the coordinator, resends from it on request, applies the settings it receives ahead
/// of the trials, and exchanges heartbeats.

#include "dira/hal/device.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/station/keys.hpp"
#include "dira/station/link.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace dira::station {

/// The station's local record: the tag frames exactly as sent (wire format, docs/wire.md),
/// appended one after another. Reopening verifies every frame and cuts a torn or corrupt tail
/// (what a crash mid-write leaves), so block b is always at the same offset and a restarted
/// station continues the same stream. Appending is for one thread; reading may be concurrent.
class StationFile {
 public:
  /// Opens (creating if needed) and verifies the file. Throws std::runtime_error when it cannot.
  explicit StationFile(const std::filesystem::path& path);
  ~StationFile();
  StationFile(const StationFile&) = delete;
  StationFile& operator=(const StationFile&) = delete;

  /// Appends one frame (written through to the page cache before it returns; fdatasync every
  /// `sync_every` bytes). Throws std::runtime_error on a write error (disk full).
  void append(const std::vector<std::uint8_t>& frame, std::uint64_t tags);
  /// Frame b as it was appended. Throws std::out_of_range for b ≥ blocks().
  std::vector<std::uint8_t> read(std::uint64_t b) const;
  /// The same into `out` (resized): a sender that keeps one buffer neither allocates nor
  /// zero-fills a block's worth of bytes per block (bench/README.md, "Stations").
  void read_into(std::uint64_t b, std::vector<std::uint8_t>& out) const;
  std::uint64_t blocks() const;
  std::uint64_t tags() const;
  /// The stream position of block b's first tag (b ≤ blocks(); b = blocks() gives tags()).
  std::uint64_t first_tag(std::uint64_t b) const;
  /// Bytes cut from the end when the file was opened (a torn last frame).
  std::uint64_t truncated_bytes() const { return truncated_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  mutable std::mutex m_;
  std::vector<std::uint64_t> offsets_;     // offsets_[b] = where frame b starts; back() = end of file
  std::vector<std::uint64_t> first_tags_;  // first_tags_[b] = stream position of frame b's first tag
  std::uint64_t tags_ = 0;
  std::uint64_t truncated_ = 0;
  std::uint64_t unsynced_ = 0;
};

struct StationConfig {
  std::string name;
  std::string coordinator;        ///< the coordinator's endpoint
  std::string coordinator_key;    ///< its public key (Z85)
  KeyPair key;                    ///< this station's key pair
  std::vector<int> settings_for;  ///< parties whose settings this station's modulators apply
  std::filesystem::path file;     ///< the local record
  std::chrono::milliseconds heartbeat{200};
  /// Before the coordinator first answers, and after the stream ended: how long to wait for it.
  std::chrono::milliseconds coordinator_timeout{60000};
  /// Test hooks (docs/stations.md, "Testing"): a clock offset added to every tag time, and a
  /// latency added before each block is sent.
  std::int64_t clock_offset_ps = 0;
  std::chrono::milliseconds send_delay{0};
  /// With StationDevices::setting_source: the trials whose settings it chooses (the simulated
  /// apparatus's `trials`).
  std::uint64_t own_setting_trials = 0;
};

/// Modulators of the station by party (nullptr: this station does not apply that party's).
struct StationDevices {
  hal::TimeTagger* tagger = nullptr;
  std::vector<hal::Modulator*> modulators;
  /// `settings_chosen_by: hardware` on a simulated apparatus (docs/stations.md, "Hardware-chosen
  /// settings"): the station's own weak source, standing in for a physical source wired to its
  /// modulators. Per trial, one bit per party of `settings_for`, in that order, is that party's
  /// setting (0 or 1). The station then takes no settings from the coordinator; the tagger's
  /// setting echo carries them to it. nullptr: the coordinator sends the settings.
  protocol::SvSource* setting_source = nullptr;
};

struct StationResult {
  int exit_code = 0;  ///< 0: stream complete and delivered (or the coordinator stopped it); 4: hardware fault
  std::string status;
  std::uint64_t tags = 0;
  std::uint64_t blocks = 0;
  /// CPU time of the station's two threads (seconds): acquisition (tagger, packing, the local
  /// record) and link (reading the record back, sending). The rest of the process's CPU is
  /// ZeroMQ's I/O thread: CurveZMQ encryption and TCP (bench/README.md, "Stations").
  double acquisition_cpu_s = 0;
  double link_cpu_s = 0;
};

/// Runs the station until its stream ended and was delivered, the coordinator said stop, or
/// `interrupt` is set. Nothing acquired is lost: it is in the file before it is sent.
StationResult run_station(const StationConfig& config, StationDevices devices, LinkLog log,
                          const std::atomic<bool>* interrupt = nullptr);

}  // namespace dira::station
