#pragma once
/// @file trial_assembly.hpp
/// Time tags → trials. Each party's station has a trial clock (sync channel), one detector
/// channel per outcome and, optionally, one setting-echo channel per setting value. Trials are
/// indexed by sync count (stations are merged by sync index, never by absolute time), and every
/// trial gets an outcome by the fixed rule of docs/trial-policy.md: no post-selection by default.

#include "dira/hal/tag.hpp"
#include "dira/protocol/trial.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dira::hal {

/// Channels of one party's station (as that station's tagger numbers them).
struct StationLayout {
  int station = 0;                     ///< which tagger delivers this party's tags
  int sync_channel = 0;                ///< trial clock
  std::vector<int> detector_channels;  ///< index = outcome
  std::vector<int> echo_channels;      ///< index = setting value; empty: no echo check
};

struct TrialAssemblyConfig {
  std::vector<StationLayout> parties;
  std::int64_t sync_period_ps = 0;       ///< nominal trial-clock period (missing syncs are detected with it)
  std::int64_t detection_offset_ps = 0;  ///< detection window [sync + offset, sync + offset + width)
  std::int64_t detection_width_ps = 0;
  std::int64_t echo_offset_ps = 0;       ///< setting-echo window, same convention
  std::int64_t echo_width_ps = 0;
  /// Fair-sampling mode: trials in which some party saw no click are dropped. NOT device-independent;
  /// every report made in this mode says so.
  bool fair_sampling = false;
  /// Tags may arrive out of order by up to this much (markers vs detections); they are reordered.
  std::int64_t reorder_window_ps = 0;
};

/// Throws std::invalid_argument describing the first inconsistency (overlapping channels,
/// windows longer than the period, …).
void validate(const TrialAssemblyConfig& config);

struct AssemblyCounters {
  std::uint64_t trials = 0;            ///< emitted
  std::uint64_t no_click = 0;          ///< party-trials with no detection (outcome by rule)
  std::uint64_t multi_click = 0;       ///< party-trials with several detections (outcome by rule)
  std::uint64_t dropped_fair_sampling = 0;
  std::uint64_t missing_syncs = 0;     ///< syncs inferred from the period
  std::uint64_t stray_tags = 0;        ///< detections outside every window (counted, ignored)
  std::uint64_t reordered_tags = 0;
};

/// Streaming assembler. Push tag blocks per station in any interleaving; trials come out in
/// index order once every station has moved past them. Memory is bounded by the reorder window
/// and the skew between stations.
class TrialAssembler {
 public:
  /// `intended(trial)` returns the setting the scheduler sent (per party); used to fill Trial::u
  /// and to check the echo. Throws std::invalid_argument on an invalid config.
  TrialAssembler(TrialAssemblyConfig config, std::function<protocol::Trial(std::uint64_t)> intended);

  /// Adds tags of one station (in the station's time order up to the reorder window).
  /// Throws HardwareFault on: an echo that contradicts the intended setting (naming the trial),
  /// error or overflow tags (data were lost: the trial cannot be assembled honestly), time going
  /// backwards beyond the reorder window.
  void push(int station, const TagBlock& tags);
  /// The station's stream ended (normally or not): trials it can no longer complete are flushed.
  void end(int station);
  /// Moves the finished trials into `out` (appends).
  void pop(std::vector<protocol::Trial>& out);

  const AssemblyCounters& counters() const { return counters_; }
  /// Trials the apparatus has begun: syncs seen (or inferred) by the station furthest ahead.
  std::uint64_t recorded_trials() const {
    std::uint64_t n = 0;
    for (const auto& st : stations_) n = std::max(n, st.syncs);
    return n;
  }
  bool fair_sampling() const { return config_.fair_sampling; }

 private:
  struct PartyTrial {
    std::uint32_t detections = 0;  // bit o set: detector o clicked
    std::uint32_t echoes = 0;      // bit s set: echo of setting s seen
    std::int64_t sync_ps = 0;      // the trial's sync as this party's station saw it (or inferred)
  };
  struct Role {
    int party = -1;
    int kind = 0;  // 0 sync, 1 detector, 2 echo
    int index = 0;
  };
  struct StationState {
    std::vector<std::pair<int, Role>> roles;  // channel → role
    std::vector<Role> role_by_channel;        // direct lookup for channels 0 … 4095 (party −2 = unused)
    bool has_sync = false;
    std::int64_t first_sync = 0;
    std::int64_t last_time = INT64_MIN;       // latest tag time processed
    std::uint64_t syncs = 0;                  // trials this station has opened (last index + 1)
    std::int64_t infer_at = INT64_MAX;        // a tag at or after this time means sync `syncs` is missing
    std::vector<std::int64_t> recent_syncs;   // times of open syncs, oldest at recent_head
    std::size_t recent_head = 0;
    std::uint64_t recent_base = 0;            // index of the sync at recent_head
    std::uint64_t complete_below = 0;         // trials < this are final for this station
    bool ended = false;
    std::vector<Tag> pending;                 // reorder buffer
  };
  void process(int station, const Tag& t);
  const Role* role(int station, int channel) const;
  PartyTrial& slot(std::uint64_t trial, int party);
  void advance(int station, std::int64_t now);
  void emit_ready();

  TrialAssemblyConfig config_;
  std::function<protocol::Trial(std::uint64_t)> intended_;
  std::vector<StationState> stations_;
  std::int64_t window_end_ = 0;   // max(detection, echo) window end after the sync
  std::int64_t infer_after_ = 0;  // a sync missing this long after its expected time is inferred
  std::vector<PartyTrial> trials_;  // trials [trials_base_, …) from trials_head_, parties() entries per trial
  std::size_t trials_head_ = 0;     // first live entry (compacted when it passes half the buffer)
  std::uint64_t trials_base_ = 0;
  std::vector<protocol::Trial> ready_;
  AssemblyCounters counters_;
};

}  // namespace dira::hal
