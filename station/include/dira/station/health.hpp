#pragma once
/// @file health.hpp
/// What the coordinator knows of each station, as plain values (docs/stations.md, "Station
/// health"): the GUI's station view and report.json's `stations` record. No ZeroMQ, no hal:
/// app and GUI code include this header only.
///
/// Two ways to read it:
/// - `station_health()`: a snapshot of every station of the coordinator running in this
///   process, any time, from any thread (also while `dira run` still waits for its stations to
///   connect, before the first Progress snapshot);
/// - `app::Progress::stations` (session.hpp): the same snapshot, taken with each progress
///   snapshot a run publishes.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dira::station {

/// The state of one station's link, as the coordinator sees it.
enum class LinkState {
  waiting,    ///< listed, has not said hello yet
  connected,  ///< heard from within the last two heartbeats
  lost,       ///< silent for more than two heartbeats (issue 14: reported within 2 heartbeats)
  ended,      ///< its stream ended and every block of it was received
};
const char* to_string(LinkState s);

/// Whether the coordinator is receiving a station's stream live or catching up from the
/// station's local file after the station came back (docs/stations.md, "Faults").
enum class Backfill {
  none,         ///< never needed
  backfilling,  ///< the station is resending blocks it recorded while away
  complete,     ///< the last backfill caught up: the merged record has no hole
};
const char* to_string(Backfill b);

struct StationHealth {
  std::string name;
  LinkState link = LinkState::waiting;
  double heartbeat_age_s = -1;     ///< seconds since the last message from it (−1: never heard)
  double tag_rate = 0;             ///< tags received per second, over the last ≈ 1 s
  std::uint64_t tags = 0;          ///< tags received
  std::uint64_t station_tags = 0;  ///< tags the station reports having acquired (its last heartbeat)
  /// Tags acquired at the station (its last heartbeat) and not yet received here: what is in
  /// its file waiting to be sent or in flight. max(0, station_tags − tags).
  std::uint64_t backlog_tags = 0;
  /// Tags received and not yet handed to trial assembly (waiting for the other stations' syncs).
  std::uint64_t unmerged_tags = 0;
  std::int64_t clock_offset_ps = 0;  ///< its clock minus station 0's, at the latest sync merged
  Backfill backfill = Backfill::none;
  std::uint64_t backfill_blocks_left = 0;  ///< while backfilling: blocks still to come from its file
  std::uint64_t backfills = 0;             ///< how many times it came back with blocks to resend
  std::uint64_t rejected_frames = 0;
  std::uint64_t drops = 0;       ///< times it was declared lost
  std::uint64_t reconnects = 0;  ///< hellos on a new connection after the first
};

/// Every station of every coordinator hub alive in this process (normally one `dira run`), in
/// station order; empty when this process coordinates no stations. Thread-safe (a mutex per
/// hub, held for a copy); cheap enough to call at 25 Hz.
std::vector<StationHealth> station_health();

/// The health record as report.json and health_file write it (docs/stations.md): one object
/// per station with the fields above, enums as their names.
nlohmann::json health_json(const std::vector<StationHealth>& stations);

}  // namespace dira::station
