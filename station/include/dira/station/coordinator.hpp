#pragma once
/// @file coordinator.hpp
/// The coordinator's side of the stations (docs/stations.md): network drivers that make a set
/// of stations look like one apparatus to an ordinary `dira run` session, so the
/// SettingScheduler, trial assembly, recorder and protocol run unchanged.
///
/// - driver `stations` (time_tagger): listens for the stations (CurveZMQ, listed keys only),
///   receives their tag blocks and merges them into one stream by sync index: each station's
///   tags are moved onto the reference station's (station 0's) time axis by the difference of
///   the two stations' sync of the same index, so clock offsets and per-station delays do not
///   change which trial a tag belongs to. Station s's channel c becomes s · channel_stride + c;
///   only station 0's sync tags are kept (the layout's one sync channel).
/// - driver `station_modulator` (modulator, streaming delivery): party p's settings, sent to
///   every station that applies party p's settings, confirmed when each has acknowledged them.
///
/// Both share one StationHub per listen endpoint; the hub owns the link and one I/O thread
/// (heartbeats both ways, liveness, acknowledgements, backfill requests).

#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"
#include "dira/station/health.hpp"
#include "dira/station/keys.hpp"
#include "dira/station/link.hpp"
#include "dira/station/wire.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dira::station {

struct HubConfig {
  std::string listen;                                         ///< e.g. tcp://127.0.0.1:5555
  KeyPair key;                                                ///< the coordinator's key pair
  std::vector<std::pair<std::string, std::string>> stations;  ///< name → public key, in station order
  std::chrono::milliseconds heartbeat{200};                   ///< heartbeat period, both ways
  std::chrono::milliseconds station_timeout{5000};            ///< a station away this long is a hardware fault
  std::chrono::milliseconds connect_timeout{30000};           ///< every station must say hello within this
  LinkLog log;
};

class StationHub;

/// Registers `stations` and `station_modulator` (docs/stations.md, "Coordinator"), and
/// `station_records`.
void register_station_drivers(hal::DriverRegistry& registry);
/// Registers `station_records`: a time tagger replaying the stations' local records (the
/// `files` setting, comma-separated in station order) merged by sync index exactly as the
/// coordinator merges the live streams; what `dira analyze --stations` runs a session on.
void register_station_records_driver(hal::DriverRegistry& registry);

/// The hub listening at `listen`, if a `stations` tagger created one in this process.
std::shared_ptr<StationHub> find_hub(const std::string& listen);

/// The coordinator's side of every station link. Thread-safe.
class StationHub {
 public:
  /// Binds and starts the I/O thread. Throws std::runtime_error when it cannot listen.
  explicit StationHub(HubConfig config);
  ~StationHub();
  StationHub(const StationHub&) = delete;
  StationHub& operator=(const StationHub&) = delete;

  std::string endpoint() const;
  std::size_t station_count() const;
  /// Blocks until every station has said hello; throws hal::HardwareFault naming those that
  /// did not within the connect timeout.
  void wait_connected();
  /// Party p's settings for trials [first, first + settings.size()), to every station that
  /// applies them (now, and again to a station that reconnects without them).
  void send_settings(int party, std::uint64_t first, std::span<const std::uint8_t> settings);
  /// True once every station applying party p's settings acknowledged trials < end.
  bool settings_confirmed(int party, std::uint64_t end);
  void start();
  void stop();
  /// Moves the tag blocks received from each station into `blocks[s]` (appended) and sets
  /// `ended[s]` for stations whose stream ended and was received completely. Waits at most
  /// `timeout` for something new. Throws hal::HardwareFault when a station has been away longer
  /// than the station timeout, broke flow control (a block starting at or past its credit,
  /// docs/wire.md) or sent a block that does not decode (the run then ends with every trial
  /// before kept). Room for a frame's tags is made a chunk at a time as they decode.
  void take(std::vector<std::vector<hal::Tag>>& blocks, std::vector<bool>& ended, std::chrono::milliseconds timeout);
  /// The same, as the tag frames themselves (`frames[s]`, in stream order): each verified
  /// (header, checksum, sequence, position) and not yet decoded, for SyncMerger::push_frame,
  /// which decodes it straight into the merge (the coordinator's hot path: no 16-byte copy of
  /// every tag between the hub and the merge). What `frames` held when called is taken as
  /// consumed: its buffers are reused for the frames to come (pass them back rather than
  /// clearing them). A frame that does not decode is a hardware fault (undecodable_block).
  void take_frames(std::vector<std::vector<std::vector<std::uint8_t>>>& frames, std::vector<bool>& ended,
                   std::chrono::milliseconds timeout);
  /// Station s's clock offset as the merge measured it, and its tags the merge still holds
  /// (for the health record).
  void note_merge(std::size_t s, std::int64_t offset_ps, std::uint64_t unmerged_tags);
  std::vector<StationHealth> health() const;
  /// CPU time (seconds) of the hub's I/O thread so far: receiving and checking every frame
  /// (bench/README.md, "Stations"). The CurveZMQ decryption runs in ZeroMQ's own I/O thread,
  /// the tags' decoding in the merge's thread, not here.
  double io_cpu_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The hardware fault's message for a tag frame of `station` that passed its checksum and
/// sequence checks but whose tags do not decode (`e`): not a transmission error (the checksum
/// is right) but a station whose encoder wrote a malformed block — into its record too, so a
/// resend would bring the same bytes. The run ends, every trial merged before kept.
std::string undecodable_block(const std::string& station, const WireError& e);

}  // namespace dira::station
