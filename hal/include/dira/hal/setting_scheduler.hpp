#pragma once
/// @file setting_scheduler.hpp
/// The stage between the weak-source ledger and the modulators (docs/architecture.md, "Data
/// flow"): it draws the settings of trials ahead of the apparatus and pushes them to every
/// modulator before the tagger can record those trials. Nothing downstream pulls: trial
/// assembly looks up settings already delivered (`intended`), and a trial recorded before its
/// settings were confirmed delivered is a hardware fault that names the trial.
///
/// Delivery modes (declared by the modulators, `Modulator::delivery`):
/// - streaming: before the tagger starts, trials [0, lookahead) are delivered and confirmed;
///   afterwards delivery is kept `lookahead` trials ahead of the last assembled trial, in
///   batches of `batch` trials. The look-ahead must cover what the apparatus records between
///   two calls of advance() (one tagger block): docs/experiment-yaml.md, "scheduler".
/// - segment: draw K settings, upload them to every modulator, confirm, arm, let the
///   apparatus play exactly K trials, then the next segment. A trial past the armed segment is
///   a count mismatch (hardware fault); the echo of each trial is compared with what was
///   uploaded by trial assembly.
/// With no modulators at all (settings applied elsewhere, e.g. a replayed file), settings are
/// still drawn ahead in the same way, so the ledger accounts for the same bits.

#include "dira/hal/device.hpp"
#include "dira/protocol/trial.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace dira::hal {

struct SchedulerConfig {
  std::uint64_t planned = 0;                        ///< trials of the run: nothing is drawn past this (0: none)
  std::uint64_t lookahead = 65536;                  ///< streaming: trials delivered beyond the last assembled one
  std::uint64_t batch = 4096;                       ///< streaming: trials per upload
  std::uint64_t segment_trials = 0;                 ///< segment: K (0: the smallest segment capacity of the modulators)
  std::chrono::milliseconds confirm_timeout{5000};  ///< a modulator that does not confirm in time is a fault
};

/// Draws trial `trial`'s settings into out.u (and out.device for Protocol A) from the weak
/// source, through the ledger. Called once per trial, in increasing order.
using SettingDraw = std::function<void(std::uint64_t trial, protocol::Trial& out)>;

/// The same for a range of trials: the settings of trials first, first + 1, … into out[k]
/// (trial first + k, zeroed before the call). Called with consecutive ranges, in increasing
/// order, never twice for a trial. A range at a time, so that a rule can draw its bits in long
/// runs (protocol::draw_settings_rejection, the run's Protocol B rule).
using SettingRangeDraw = std::function<void(std::uint64_t first, std::span<protocol::Trial> out)>;

/// A modulator and the party whose settings it applies (a party may have several: e.g. an
/// external modulator and the simulator's own).
struct PartyModulator {
  Modulator* device = nullptr;
  int party = 0;
};

/// Modulator p applies party p's settings.
inline std::vector<PartyModulator> one_per_party(const std::vector<Modulator*>& modulators) {
  std::vector<PartyModulator> out;
  for (std::size_t p = 0; p < modulators.size(); ++p) out.push_back({modulators[p], static_cast<int>(p)});
  return out;
}

/// Thrown by SettingScheduler::intended for a trial past the planned count: the apparatus (a
/// replay, a free-running tagger) has more to give than the run takes. Not a fault: the run
/// stops there.
struct TrialBeyondPlan {
  std::uint64_t trial = 0;
};

struct SchedulerCounters {
  std::uint64_t drawn = 0;        ///< trials whose settings were drawn
  std::uint64_t delivered = 0;    ///< trials confirmed at every modulator
  std::uint64_t uploads = 0;      ///< schedule() calls per modulator
  std::uint64_t segments = 0;     ///< segments armed (segment mode)
  double draw_thread_cpu_s = 0;   ///< CPU time of the draw thread (draw_on_thread), once it has stopped
  double waited_for_draws_s = 0;  ///< wall time advance() and settle() waited for the draw thread
};

class SettingScheduler {
 public:
  /// Throws std::invalid_argument when the modulators disagree on the delivery mode or a
  /// segment-mode modulator declares no capacity.
  SettingScheduler(SettingRangeDraw draw, std::vector<PartyModulator> modulators, SchedulerConfig config);
  /// A rule given trial by trial.
  SettingScheduler(SettingDraw draw, std::vector<PartyModulator> modulators, SchedulerConfig config);

  ~SettingScheduler();
  SettingScheduler(const SettingScheduler&) = delete;
  SettingScheduler& operator=(const SettingScheduler&) = delete;

  SettingDelivery mode() const { return mode_; }
  const SchedulerConfig& config() const { return config_; }
  std::uint64_t segment_trials() const { return segment_; }

  /// Before the tagger starts: streaming delivers and confirms [0, lookahead); segment mode
  /// uploads, confirms and arms the first segment.
  void prime();
  /// Trials < `assembled` are final; the apparatus has begun `recorded` trials (syncs seen).
  /// Throws HardwareFault when recorded > delivered(): trials were recorded before their
  /// settings were delivered (streaming), or past the armed segment (segment: a count
  /// mismatch, checked before the next segment is armed). Streaming: tops delivery up to
  /// assembled + lookahead. Segment: once `assembled` reaches the end of the armed segment,
  /// draws, uploads, confirms and arms the next one. Throws HardwareFault if a modulator does
  /// not confirm.
  void advance(std::uint64_t assembled, std::uint64_t recorded = 0);

  /// Streaming delivery: from the next advance() on, the settings are drawn on a thread of the
  /// scheduler's own, `depth` top-ups ahead (the weak-source bits and the setting rule are about a
  /// third of the acquisition thread's work at 10^7 trials/s). Each advance() asks the thread
  /// for the top-up the rule below gives — the same trials, drawn in the same order, as without
  /// the thread, so the bits each trial takes and the bits drawn when the run stops are the
  /// same — and delivers the top-up asked for `depth` advance() calls earlier, waiting for it
  /// if it is not drawn yet. The one difference: a top-up reaches the modulators `depth`
  /// advance() calls later, so the look-ahead must cover depth + 1 tagger blocks, not one; the
  /// check that nothing was recorded before its settings were delivered is unchanged (against
  /// what was delivered before this advance()). Which top-up is delivered at which advance()
  /// depends only on the calls, never on timing, and each is uploaded on its own (the same
  /// uploads as without the thread). A depth above 1 lets the thread draw while the
  /// acquisition thread is descheduled, instead of making it wait at the next advance() (with
  /// two cores for three busy threads, depth 1 keeps two of them in lockstep on one core).
  /// Meant for an apparatus gated by its modulators (the simulator), which cannot record ahead
  /// of them. `settled` is called on the draw thread after each top-up it has drawn, before it
  /// begins the next: the draw function's state (the ledger) may be read there (the caller
  /// guards what it copies, as it is read on another thread). Segment mode: no effect.
  void draw_on_thread(std::function<void()> settled, std::size_t depth = 1);
  /// Waits for the draws under way and delivers them, as advance() would have. Afterwards the
  /// draw function's state may be read until the next advance(). Rethrows what a draw threw
  /// (SourceExhausted) and the modulators' faults.
  void settle();
  /// Waits for the draws under way without delivering them (a run that ended in a fault); never
  /// throws. Afterwards the draw function's state may be read.
  void stop_drawing() noexcept;

  /// Settings of trial i as delivered. Throws TrialBeyondPlan for i ≥ the planned count, and
  /// HardwareFault when trial i was not delivered:
  /// recorded before its settings reached the modulators, or (segment mode) past the armed
  /// segment — the apparatus played more trials than were uploaded.
  const protocol::Trial& intended(std::uint64_t i) const {
    if (i >= delivered_ || i < base_) fault_not_delivered(i);
    return ring_[static_cast<std::size_t>(i) & mask_];
  }
  /// True when trials [first, end) are all delivered and still held, so that every intended(i)
  /// in that range would return without a fault: trial assembly then reads them with
  /// intended_held(), checking once per batch instead of once per trial.
  bool holds(std::uint64_t first, std::uint64_t end) const { return first >= base_ && end <= delivered_; }
  /// Settings of trial i, without intended()'s checks: only for i in a range holds() confirmed.
  const protocol::Trial& intended_held(std::uint64_t i) const { return ring_[static_cast<std::size_t>(i) & mask_]; }
  /// Trials [0, delivered()) are confirmed at every modulator.
  std::uint64_t delivered() const { return delivered_; }
  /// True when every planned trial has been delivered.
  bool complete() const { return delivered_ >= config_.planned; }
  const SchedulerCounters& counters() const { return counters_; }

 private:
  [[noreturn]] void fault_not_delivered(std::uint64_t i) const;
  void deliver(std::uint64_t end);                          // draws, uploads and confirms trials [delivered_, end)
  void draw_range(std::uint64_t first, std::uint64_t end);  // into the ring (the thread, or inline)
  void upload(std::uint64_t end);                           // uploads and confirms the drawn trials [delivered_, end)
  void confirm(std::uint64_t end);
  void collect(
      std::uint64_t asked_before);  // delivers the top-ups asked for before that advance() call (waits for each)
  struct DrawThread;

  SettingRangeDraw draw_;
  std::vector<PartyModulator> modulators_;
  SchedulerConfig config_;
  SettingDelivery mode_ = SettingDelivery::streaming;
  std::uint64_t segment_ = 0;
  std::vector<protocol::Trial> ring_;
  std::size_t mask_ = 0;
  std::uint64_t base_ = 0;       // oldest trial still held
  std::uint64_t delivered_ = 0;  // trials [0, delivered_) confirmed
  std::uint64_t requested_ = 0;  // trials [0, requested_) drawn or being drawn (≥ delivered_)
  std::unique_ptr<DrawThread> drawer_;
  std::vector<std::uint8_t> party_settings_;
  SchedulerCounters counters_;
};

}  // namespace dira::hal
