#pragma once
/// @file trial_assembly.hpp
/// Time tags → trials. Each party's station has a trial clock (sync channel), one detector
/// channel per outcome and, optionally, one setting-echo channel per setting value. Trials are
/// indexed by sync count (stations are merged by sync index, never by absolute time), and every
/// trial gets an outcome by the fixed rule of docs/trial-policy.md: no post-selection by default.
///
/// Settings reach trial assembly in one of three ways, never by asking a stage for them:
/// - from the SettingScheduler, which delivered them to the modulators before the trials were
///   recorded (`TrialAssembler(config, scheduler)`); the echo, where there is one, must agree;
/// - from the setting-echo channels themselves, when a physical weak source drives the
///   modulators (`TrialAssemblyConfig::settings_from_echo`): hardware-chosen settings;
/// - not at all (settings 0), e.g. replaying a file whose settings are applied elsewhere.

#include "dira/hal/tag.hpp"
#include "dira/protocol/trial.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dira::hal {

class SettingScheduler;

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
  std::int64_t echo_offset_ps = 0;  ///< setting-echo window, same convention
  std::int64_t echo_width_ps = 0;
  /// Fair-sampling mode: trials in which some party saw no click are dropped. NOT device-independent;
  /// every report made in this mode says so.
  bool fair_sampling = false;
  /// Tags may arrive out of order by up to this much (markers vs detections); they are reordered.
  std::int64_t reorder_window_ps = 0;
  /// Hardware-chosen settings: a physical weak source drives the modulators, and Trial::u[p] is
  /// the setting whose echo channel fired in party p's echo window. Every party needs echo
  /// channels, and exactly one echo per party-trial (none or several: HardwareFault naming the
  /// trial and party). No intended settings are given in this mode (Trial::device is 0).
  bool settings_from_echo = false;
};

/// Throws std::invalid_argument describing the first inconsistency (overlapping channels,
/// windows longer than the period, …).
void validate(const TrialAssemblyConfig& config);

struct AssemblyCounters {
  std::uint64_t trials = 0;       ///< emitted
  std::uint64_t no_click = 0;     ///< party-trials with no detection (outcome by rule)
  std::uint64_t multi_click = 0;  ///< party-trials with several detections (outcome by rule)
  std::uint64_t dropped_fair_sampling = 0;
  std::uint64_t missing_syncs = 0;   ///< syncs inferred from the period
  std::uint64_t stray_tags = 0;      ///< detections outside every window (counted, ignored)
  std::uint64_t reordered_tags = 0;  ///< tags that arrived after a later tag of their station (put back in order)
  std::uint64_t time_marks = 0;      ///< TagType::time_mark tags seen
};

/// Streaming assembler. Push tag blocks per station in any interleaving; trials come out in
/// index order once every station has moved past them. Memory is bounded by the reorder window
/// and the skew between stations.
///
/// A station's clock is the time of its latest tag, or of its latest TagType::time_mark ("every
/// tag before this time has been delivered"). A trial is final for a station once its clock
/// has passed the end of the trial's last window; a sync that should have come by then is
/// inferred from the period (counted in missing_syncs). A segment-mode apparatus that stops its
/// trial clock after the last trial of a segment sends a time_mark at or after that trial's
/// window end, so the trial is emitted without waiting for the next segment; a mark at or after
/// the next expected sync plus the inference margin (min(window offset, period / 2)) infers
/// that sync as missing, as any tag there would.
class TrialAssembler {
 public:
  /// Settings through a callback: `intended(trial)` returns the settings the scheduler sent (per
  /// party), used to fill Trial::u (and Trial::device) and to check the echo. Called once per
  /// emitted trial, in increasing order. Kept for callers that have no SettingScheduler; prefer
  /// the scheduler constructor (no call through std::function per trial). An empty function:
  /// settings 0. Throws std::invalid_argument on an invalid config, or when the config takes
  /// settings from the echo and a callback is given as well.
  TrialAssembler(TrialAssemblyConfig config, std::function<protocol::Trial(std::uint64_t)> intended);

  /// Settings pushed ahead by `scheduler` (not owned; must outlive the assembler): trial i's
  /// settings are `scheduler->intended(i)`, which only looks up what was delivered — the
  /// assembler never causes a draw. A trial recorded before its settings were delivered is the
  /// scheduler's HardwareFault, naming the trial. nullptr: no scheduled settings (settings 0,
  /// or the echo with `settings_from_echo`). Throws std::invalid_argument on an invalid config,
  /// or when the config takes settings from the echo and a scheduler is given as well.
  explicit TrialAssembler(TrialAssemblyConfig config, const SettingScheduler* scheduler = nullptr);

  /// No intended settings (same as a null scheduler); keeps `TrialAssembler(config, nullptr)`
  /// unambiguous.
  TrialAssembler(TrialAssemblyConfig config, std::nullptr_t)
      : TrialAssembler(std::move(config), static_cast<const SettingScheduler*>(nullptr)) {}

  /// Adds tags of one station (in the station's time order up to the reorder window).
  /// Throws HardwareFault on: an echo that contradicts the intended setting, or (hardware-chosen
  /// settings) no echo or several echoes, naming the trial and party; error, overflow or
  /// missed-event tags (data were lost: the trial cannot be assembled honestly); time going
  /// backwards beyond the reorder window (a time_mark counts as a promise: a later tag older
  /// than it is time going backwards). Trials assembled before a fault can still be popped.
  void push(int station, const TagBlock& tags);
  /// The station's stream ended (normally or not): trials it can no longer complete are flushed.
  void end(int station);
  /// Moves the finished trials into `out` (appends; when `out` is empty, buffers are swapped,
  /// so a caller that reuses one vector causes no copy and no allocation).
  void pop(std::vector<protocol::Trial>& out);
  /// Replaces `out`'s contents with the finished trials. `out`'s old elements are dropped and its
  /// storage kept for the next trials as it is, not zeroed: a caller that hands the same vectors
  /// back block after block (the session's queue) writes each record once, where pop() into a
  /// cleared vector has every batch zeroed first (`vector::resize`, ≈ 5 ns per trial).
  void pop_replacing(std::vector<protocol::Trial>& out);

  const AssemblyCounters& counters() const { return counters_; }
  /// Trials the apparatus has begun: syncs seen (or inferred) by the station furthest ahead.
  std::uint64_t recorded_trials() const {
    std::uint64_t n = 0;
    for (const auto& st : stations_) n = std::max(n, st.syncs);
    return n;
  }
  bool fair_sampling() const { return config_.fair_sampling; }
  bool settings_from_echo() const { return config_.settings_from_echo; }

 private:
  enum Kind : std::uint8_t { kStray = 0, kSync = 1, kDetection = 2, kEcho = 3 };
  struct PartyTrial {
    std::uint32_t bits[2] = {0, 0};  // [0] bit o: detector o clicked; [1] bit s: echo of setting s seen
    std::int64_t sync_ps = 0;        // the trial's sync as this party's station saw it (or inferred)
  };
  struct Role {
    Kind kind = kStray;
    std::uint8_t party = 0;
    std::uint8_t index = 0;  // outcome or setting
  };
  struct StationState {
    // Hot: read or written for every tag.
    std::int64_t last_time = INT64_MIN;   // the station's clock: latest tag (or time_mark) processed
    std::int64_t infer_at = INT64_MAX;    // a tag at or after this time means sync `syncs` is missing
    std::int64_t next_close = INT64_MAX;  // when the oldest open trial's last window closes
    std::int64_t newest_sync = 0;         // time of sync `syncs - 1`
    std::int64_t next_expected = 0;       // first_sync + syncs · period
    std::uint64_t syncs = 0;              // trials this station has opened (last index + 1)
    std::uint64_t complete_below = 0;     // trials < this are final for this station; [this, syncs) are open
    std::vector<Role> table;              // channel → role for channels 0 … 4095
    // Sync times of the open trials [complete_below, syncs), by index & sync_mask: a few
    // entries that stay in L1, where the shared ring of party trials spans a whole tag block.
    std::vector<std::int64_t> sync_times;
    std::size_t sync_mask = 0;
    // Cold.
    std::vector<std::pair<int, Role>> roles;              // every channel's role (channels outside the table)
    std::uint8_t party_list[protocol::kMaxParties] = {};  // parties this station serves
    std::uint8_t nparty = 0;
    bool used = false;
    bool has_sync = false;
    std::int64_t first_sync = 0;
    std::int64_t arrival_max = INT64_MIN;  // latest time pushed (reorder accounting)
    bool ended = false;
    std::vector<Tag> pending;  // reorder buffer (only tags younger than the reorder window)
  };

  void init();
  void scan(int station, const Tag* begin, const Tag* end);
  template <std::size_t kParties>
  void scan_tags(int station, const Tag* begin, const Tag* end);
  static const Role& role_outside_table(const StationState& st, int channel);
  bool rare_tag(int station, const Tag& t);
  void mark(int station, std::int64_t time_ps);
  void infer_missing(int station, std::int64_t now);
  bool irregular_sync(int station, std::int64_t now, std::uint64_t& idx);
  void place_older(int station, const Role& r, std::int64_t now);
  void open(StationState& st, std::uint64_t idx, std::int64_t sync_ps);
  void grow(std::uint64_t idx);
  void grow_syncs(StationState& st, std::uint64_t idx);
  void advance(StationState& st, std::int64_t now);
  // At most this many trials are reserved ahead from one block's time span: a 64 k-tag block
  // spans ≈ 22 k trials at 3 tags per party-trial. A block whose tags claim a longer span (a long
  // pause, or a last tag with a glitched time that ends the run as a fault before any trial
  // there is opened) reserves nothing; the scan grows the ring as it opens trials, as before.
  static constexpr std::uint64_t kReserveTrials = std::uint64_t{1} << 18;
  void reserve_for(const StationState& st, const TagBlock& tags);
  PartyTrial& slot(std::uint64_t trial, std::size_t party) {
    return ring_[(static_cast<std::size_t>(trial) & ring_mask_) * nparties_ + party];
  }
  void emit_ready();
  template <class Settings>
  void release_trials(std::uint64_t limit, Settings settings);
  template <std::size_t NP, class Settings>
  void release_trials_n(std::uint64_t limit, Settings settings);
  [[noreturn]] void echo_fault(std::uint64_t idx, std::size_t party, std::uint32_t echoes, int intended) const;

  TrialAssemblyConfig config_;
  std::function<protocol::Trial(std::uint64_t)> intended_;
  const SettingScheduler* scheduler_ = nullptr;
  std::size_t nparties_ = 0;
  // Every station serves this many consecutive parties (scan_tags<k>); 0: stations differ.
  std::size_t parties_per_station_ = 0;
  std::uint32_t echo_check_mask_ = 0;  // bit p: party p's echo is checked against the intended setting
  std::vector<StationState> stations_;
  std::int64_t win_off_[2] = {0, 0};  // detection, echo window offsets
  std::uint64_t win_width_[2] = {0, 0};
  std::int64_t window_end_ = 0;             // max(detection, echo) window end after the sync
  std::int64_t infer_after_ = 0;            // a sync missing this long after its expected time is inferred
  std::int64_t sync_lo_ = 0, sync_hi_ = 0;  // a sync at next_expected + [lo, hi) is the next trial
  // Party trials of trials [trials_base_, opened_) in a ring indexed by (trial & ring_mask_) · parties + party.
  std::vector<PartyTrial> ring_;
  std::size_t ring_mask_ = 0;
  std::uint64_t trials_base_ = 0;  // next trial to emit
  std::uint64_t opened_ = 0;       // max over stations of syncs
  // Finished trials are ready_[0, ready_n_); the elements past them are storage kept from an
  // earlier batch (constructed, stale), overwritten before they are counted.
  std::vector<protocol::Trial> ready_;
  std::size_t ready_n_ = 0;
  AssemblyCounters counters_;
};

}  // namespace dira::hal
