#include "dira/hal/trial_assembly.hpp"

#include "dira/hal/device.hpp"
#include "dira/hal/setting_scheduler.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <set>
#include <stdexcept>

namespace dira::hal {

namespace {
// Channels 0 … 4095 are looked up in a table; anything else (negative, or a device numbering
// its channels sparsely) goes through the role list, off the hot path.
constexpr std::uint32_t kTableChannels = 4096;
// The scan's newest sync when a station has no open trial: −2⁶¹ ps (−26 days), before any tag
// time, so no window contains a tag and none starts after one, and now − (kNoneOpen + offset)
// cannot overflow for tag times below 2⁶² ps (53 days after the stream start).
constexpr std::int64_t kNoneOpen = INT64_MIN / 4;
static_assert(sizeof(std::array<std::uint8_t, protocol::kMaxParties>) == 4);
// A record is begun in 8-byte stores: u with x after it, flags with device after it.
static_assert(offsetof(protocol::Trial, x) == offsetof(protocol::Trial, u) + 4);
static_assert(offsetof(protocol::Trial, device) == offsetof(protocol::Trial, flags) + 4);
}  // namespace

void validate(const TrialAssemblyConfig& c) {
  if (c.parties.empty() || c.parties.size() > static_cast<std::size_t>(protocol::kMaxParties))
    throw std::invalid_argument("trial assembly: 1 to 4 parties");
  if (c.sync_period_ps <= 0) throw std::invalid_argument("trial assembly: sync_period_ps must be positive");
  if (c.detection_width_ps <= 0) throw std::invalid_argument("trial assembly: detection_width_ps must be positive");
  if (c.detection_offset_ps < 0 || c.echo_offset_ps < 0)
    throw std::invalid_argument("trial assembly: window offsets must be ≥ 0");
  if (c.detection_width_ps > c.sync_period_ps || c.echo_width_ps > c.sync_period_ps)
    throw std::invalid_argument("trial assembly: a window longer than the trial period would give a tag two trials");
  if (c.reorder_window_ps < 0) throw std::invalid_argument("trial assembly: reorder_window_ps must be ≥ 0");
  std::set<std::pair<int, int>> used;  // (station, channel)
  for (std::size_t p = 0; p < c.parties.size(); ++p) {
    const auto& s = c.parties[p];
    if (s.station < 0) throw std::invalid_argument("trial assembly: party " + std::to_string(p) + " has station < 0");
    if (s.detector_channels.empty() || s.detector_channels.size() > 32)
      throw std::invalid_argument("trial assembly: party " + std::to_string(p) + " needs 1 to 32 detector channels");
    if (s.echo_channels.size() > 32) throw std::invalid_argument("trial assembly: at most 32 echo channels");
    if (!s.echo_channels.empty() && c.echo_width_ps <= 0)
      throw std::invalid_argument("trial assembly: echo channels need echo_width_ps > 0");
    if (c.settings_from_echo && s.echo_channels.empty())
      throw std::invalid_argument("trial assembly: settings_from_echo, but party " + std::to_string(p) +
                                  " has no setting-echo channels to read its settings from");
    for (int ch : s.detector_channels)
      if (!used.insert({s.station, ch}).second)
        throw std::invalid_argument("trial assembly: channel " + std::to_string(ch) + " of station " +
                                    std::to_string(s.station) + " used twice");
    for (int ch : s.echo_channels)
      if (!used.insert({s.station, ch}).second)
        throw std::invalid_argument("trial assembly: channel " + std::to_string(ch) + " of station " +
                                    std::to_string(s.station) + " used twice");
  }
  // A station's sync channel may be shared by the parties it serves, but it must not be a detector.
  for (const auto& s : c.parties)
    if (used.count({s.station, s.sync_channel}))
      throw std::invalid_argument("trial assembly: sync channel " + std::to_string(s.sync_channel) +
                                  " is also a detector or echo channel");
}

TrialAssembler::TrialAssembler(TrialAssemblyConfig config, std::function<protocol::Trial(std::uint64_t)> intended)
    : config_(std::move(config)), intended_(std::move(intended)) {
  init();
  if (config_.settings_from_echo && intended_)
    throw std::invalid_argument(
        "trial assembly: settings_from_echo reads the settings from the echo; no intended settings may be given");
}

TrialAssembler::TrialAssembler(TrialAssemblyConfig config, const SettingScheduler* scheduler)
    : config_(std::move(config)), scheduler_(scheduler) {
  init();
  if (config_.settings_from_echo && scheduler_)
    throw std::invalid_argument(
        "trial assembly: settings_from_echo reads the settings from the echo; no scheduler may be given");
}

void TrialAssembler::init() {
  validate(config_);
  nparties_ = config_.parties.size();
  int nstations = 0;
  for (const auto& s : config_.parties) nstations = std::max(nstations, s.station + 1);
  stations_.resize(static_cast<std::size_t>(nstations));
  std::uint8_t slots = 0;
  for (std::size_t p = 0; p < nparties_; ++p) {
    const auto& s = config_.parties[p];
    StationState& st = stations_[static_cast<std::size_t>(s.station)];
    if (!st.used) st.slot = slots++;  // at most kMaxParties stations are used
    st.used = true;
    const auto local = st.nparty;
    st.party_list[st.nparty++] = static_cast<std::uint8_t>(p);
    if (p == 0) st.serves_party0 = true;
    auto& roles = st.roles;
    const auto has = [&](int ch) {
      return std::any_of(roles.begin(), roles.end(), [&](const auto& r) { return r.first == ch; });
    };
    if (!has(s.sync_channel))
      roles.push_back({s.sync_channel, Role{kSync, 0, 0, 0}});
    else
      for (auto& r : roles)
        if (r.first == s.sync_channel && r.second.kind != kSync)
          throw std::invalid_argument("trial assembly: sync channel reused");
    for (std::size_t o = 0; o < s.detector_channels.size(); ++o)
      roles.push_back({s.detector_channels[o],
                       Role{kDetection, static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(o), local}});
    for (std::size_t v = 0; v < s.echo_channels.size(); ++v)
      roles.push_back(
          {s.echo_channels[v], Role{kEcho, static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(v), local}});
    if (!s.echo_channels.empty() && !config_.settings_from_echo) echo_check_mask_ |= 1u << p;
  }
  for (auto& st : stations_) {
    if (!st.used) st.ended = true;  // a station number nobody uses never holds trials back
    st.open.assign(16, OpenTrial{});
    st.open_mask = 15;
    // Every station gets the full table: only the entries of its channels are ever read, so
    // its cache footprint is a few lines, and the lookup needs no size but a constant.
    st.table.assign(static_cast<std::size_t>(kTableChannels), Role{});
    for (const auto& [ch, r] : st.roles)
      if (ch >= 0 && static_cast<std::uint32_t>(ch) < kTableChannels) st.table[static_cast<std::size_t>(ch)] = r;
  }
  window_end_ = std::max(config_.detection_offset_ps + config_.detection_width_ps,
                         config_.echo_offset_ps + config_.echo_width_ps);
  win_off_[0] = config_.detection_offset_ps;
  win_off_[1] = config_.echo_offset_ps;
  win_width_[0] = static_cast<std::uint64_t>(config_.detection_width_ps);
  win_width_[1] = static_cast<std::uint64_t>(std::max<std::int64_t>(config_.echo_width_ps, 0));
  // Tags of a trial come no earlier than the smallest window offset after its sync; when that
  // offset is 0 (a tag could share the sync's timestamp) wait half a period instead.
  std::int64_t earliest = config_.detection_offset_ps;
  if (config_.echo_width_ps > 0) earliest = std::min(earliest, config_.echo_offset_ps);
  infer_after_ = earliest > 0 ? std::min(earliest, config_.sync_period_ps / 2) : config_.sync_period_ps / 2;
  // A sync's index is round((t − first) / period) with halves rounding up: the next trial's
  // sync lies in next_expected + [−⌊P/2⌋, P − ⌊P/2⌋). Checking that range spares a division.
  sync_lo_ = -(config_.sync_period_ps / 2);
  sync_hi_ = config_.sync_period_ps - config_.sync_period_ps / 2;
  closed_counts_.assign(1024, 0);
  echoes_.assign(1024 * protocol::kMaxParties, 0);
  pending_mask_ = 1023;
  // The std::function is called at emission, once per emitted trial in order (its contract).
  defer_all_ = static_cast<bool>(intended_);
}

// ---- records ---------------------------------------------------------------------------------
//
// Each trial's output record is built in place, in the output vector itself (as the bare scan
// of bench/bench_trial_assembly.cpp does): begun when the first station opens the trial (index,
// and the settings when the scheduler already holds them), completed by each station as it
// closes the trial (its parties' outcomes, flags, echo checks), counted out by emission once
// every station has closed it. No ring of party trials and no second pass over the trials.

// Trial i's settings are copied when its record is begun if the scheduler holds them then; a
// trial it holds then it still holds at emission (delivery only moves forward, and nothing at
// or past trials_base_ has been assembled), so this is what intended(i) gives at emission.
// Otherwise (not delivered yet: a fault; past the plan: TrialBeyondPlan) the lookup waits for
// the emission, which asks intended(i) in trial order as before, and the echo with it.
[[gnu::always_inline]] inline void TrialAssembler::begin_records(std::uint64_t end) {
  for (std::uint64_t i = opened_; i < end; ++i) {
    if ((i - trials_base_ > pending_mask_) | (i - rec_shift_ >= ready_.size())) [[unlikely]] {
      grow_pending(i);
      grow_records(i + 1);
    }
    // Written field by field in 8-byte stores (u with x, flags with device): a record built in a
    // local and copied is read back in 16-byte halves of bytes just stored one by one, a
    // store-forwarding stall per trial (it was 40 % of the scan).
    std::uint64_t ux = 0, fd = 0;  // u[0..3] and x[0..3] (0); flags and device
    if (scheduler_) {
      if (scheduler_->holds(i, i + 1)) [[likely]] {
        const protocol::Trial& s = scheduler_->intended_held(i);
        std::uint32_t u;
        std::memcpy(&u, s.u.data(), sizeof u);
        // u's four bytes first in memory, x's (0) after them.
        ux = std::endian::native == std::endian::little ? u : std::uint64_t{u} << 32;
        std::memcpy(&fd, &s.flags, sizeof fd);
      } else {
        if (deferred_.empty()) first_issue_ = std::min(first_issue_, i);
        deferred_.push_back(i);
      }
    }
    protocol::Trial& t = record(i);
    t.index = i;
    std::memcpy(t.u.data(), &ux, sizeof ux);
    std::memcpy(&t.flags, &fd, sizeof fd);
    t.time_ps = 0;
    closed_counts_[static_cast<std::size_t>(i) & pending_mask_] = 0;
  }
  if (end > opened_) opened_ = end;
}

void TrialAssembler::grow_records(std::uint64_t end) {
  const auto need = static_cast<std::size_t>(end - rec_shift_);
  if (need <= ready_.size()) return;
  // Within the capacity kept from earlier batches, 4096 records at a time (resize zeroes what
  // it adds, and every record is written in full when begun); beyond it, the vector's doubling.
  ready_.resize(std::max(need, std::min(ready_.capacity(), need + 4095)));
}

void TrialAssembler::grow_pending(std::uint64_t idx) {
  if (idx - trials_base_ <= pending_mask_) return;
  std::size_t cap = pending_mask_ + 1;
  while (cap <= idx - trials_base_) cap *= 2;
  std::vector<std::uint32_t> counts(cap), echoes(cap * protocol::kMaxParties);
  for (std::uint64_t i = trials_base_; i < opened_; ++i) {
    const auto from = static_cast<std::size_t>(i) & pending_mask_, to = static_cast<std::size_t>(i) & (cap - 1);
    counts[to] = closed_counts_[from];
    for (std::size_t p = 0; p < protocol::kMaxParties; ++p)
      echoes[to * protocol::kMaxParties + p] = echoes_[from * protocol::kMaxParties + p];
  }
  closed_counts_.swap(counts);
  echoes_.swap(echoes);
  pending_mask_ = cap - 1;
}

void TrialAssembler::note_issue(std::uint64_t idx, std::size_t party, std::uint32_t echoes, int intended) {
  issues_.push_back({idx, party, echoes, intended});
  first_issue_ = std::min(first_issue_, idx);
}

bool TrialAssembler::deferred(std::uint64_t idx) const {
  if (defer_all_) return true;
  if (deferred_.empty() || idx < deferred_.front()) return false;
  return std::binary_search(deferred_.begin(), deferred_.end(), idx);
}

[[gnu::always_inline]] inline void TrialAssembler::close(StationState& st, std::uint64_t idx) {
  // The station's share of the record: its parties' outcomes by the fixed rule
  // (docs/trial-policy.md: no click → 0, several → the lowest detector), flags, and the echo:
  // the setting itself (hardware-chosen settings) or checked against the setting the record
  // already holds. A wrong echo is noted and reported at emission, in trial order.
  const OpenTrial& o = st.open[static_cast<std::size_t>(idx) & st.open_mask];
  protocol::Trial& t = record(idx);
  const std::size_t pend = static_cast<std::size_t>(idx) & pending_mask_;
  std::uint32_t flags = 0, counts = 0;
  // (first_issue_ ≤ the first deferred trial: the common case decides without a call.)
  const bool defer = echo_check_mask_ != 0 && (defer_all_ || idx >= first_issue_) && deferred(idx);
  for (std::size_t k = 0; k < st.nparty; ++k) {
    const std::size_t p = st.party_list[k];
    const std::uint32_t d = o.bits[k][0], e = o.bits[k][1];
    // countr_zero(0) = 32, and 32 & 31 = 0: the no-click outcome without a branch.
    t.x[p] = static_cast<std::uint8_t>(std::countr_zero(d) & 31);
    const auto none = static_cast<std::uint32_t>(d == 0), several = static_cast<std::uint32_t>((d & (d - 1)) != 0);
    counts += none + (several << 4);
    static_assert(protocol::kTrialNoClick == 1 && protocol::kTrialMultiClick == 2);
    flags |= none | (several << 1);
    if (config_.settings_from_echo) {
      if (e == 0 || (e & (e - 1)) != 0) [[unlikely]] {
        note_issue(idx, p, e, -1);
      } else {
        t.u[p] = static_cast<std::uint8_t>(std::countr_zero(e));
      }
    } else if ((echo_check_mask_ >> p) & 1u) {
      if (defer) [[unlikely]] {
        echoes_[pend * protocol::kMaxParties + p] = e;
      } else {
        const std::uint8_t u = t.u[p];
        const std::uint32_t want = u < 32 ? 1u << u : 0u;
        if (e != want) [[unlikely]]
          note_issue(idx, p, e, u);
      }
    }
  }
  t.flags |= flags;
  // This station's byte of the trial's counts word (the byte's place in the word is immaterial:
  // emission sums all four).
  reinterpret_cast<unsigned char*>(&closed_counts_[pend])[st.slot] = static_cast<unsigned char>(counts);
}

// ---- per-tag scan --------------------------------------------------------------------------

const TrialAssembler::Role& TrialAssembler::role_outside_table(const StationState& st, int channel) {
  static constexpr Role kNone{};
  for (const auto& [c, role] : st.roles)
    if (c == channel) return role;
  return kNone;
}

void TrialAssembler::scan(int station, const Tag* it, const Tag* stop) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  const Role* const table = st.table.data();  // kTableChannels entries
  // What every tag reads lives in locals (registers) for the block; the rest of the station's
  // state (touched once per trial) stays in `st`. Written back before anything out of line
  // reads it, read again afterwards.
  std::int64_t last = 0, infer_at = 0, next_close = 0, newest = 0;
  // The newest open trial's bits per local party. With no trial open, `newest` is kNoneOpen: no
  // tag falls in its windows (nor before them), so `row` is never written and needs no test.
  std::uint32_t(*row)[2] = nullptr;
  const auto load = [&] {
    last = st.last_time;
    infer_at = st.infer_at;
    next_close = st.next_close;
    const bool any = st.syncs > st.complete_below;
    newest = any ? st.newest_sync : kNoneOpen;
    row = st.open[any ? static_cast<std::size_t>(st.syncs - 1) & st.open_mask : 0].bits;
  };
  const auto store = [&] {
    st.last_time = last;
    st.infer_at = infer_at;
    st.next_close = next_close;
    st.newest_sync = newest;
  };
  load();
  for (; it != stop; ++it) {
    const Tag& t = *it;
    const std::int64_t now = t.time_ps;
    // Everything rare behind one well-predicted branch: in-band notes (faults, time marks), time
    // going backwards, a sync overdue.
    if ((t.type != TagType::time_tag) | (now < last) | (now >= infer_at)) [[unlikely]] {
      store();
      const bool go_on = rare_tag(station, t);
      load();
      if (!go_on) continue;
    }
    last = now;
    const auto ch = static_cast<std::uint32_t>(t.channel);
    const Role& r = ch < kTableChannels ? table[ch] : role_outside_table(st, t.channel);
    if (r.kind == kSync) {
      std::uint64_t idx = st.syncs;
      const std::int64_t rel = now - st.next_expected;
      if ((rel < sync_lo_) | (rel >= sync_hi_) | !st.has_sync) [[unlikely]] {
        store();
        const bool fresh = irregular_sync(station, now, idx);  // opens the missing trials before it
        load();
        if (!fresh) {
          ++counters_.stray_tags;  // a duplicate edge within the same period
          goto next;
        }
      }
      // Open trial idx (the inline twin of open()).
      if (idx >= opened_) begin_records(idx + 1);
      if (idx - st.complete_below > st.open_mask) [[unlikely]]
        grow_open(st, idx);
      OpenTrial& o = st.open[static_cast<std::size_t>(idx) & st.open_mask];
      o = OpenTrial{now, {}};
      row = o.bits;
      if (st.serves_party0) record(idx).time_ps = now;
      if (st.complete_below == st.syncs) next_close = now + window_end_;  // it is the only open trial
      st.syncs = idx + 1;
      newest = now;
      st.next_expected += config_.sync_period_ps;
      infer_at = st.next_expected + infer_after_;
    } else if (r.kind != kStray) {
      // Detection or echo: it belongs to the newest sync whose window has opened, if that window
      // has not closed yet (half-open [start, end)). Nearly always the newest sync of all.
      const std::size_t k = r.kind - std::size_t{kDetection};
      const std::int64_t start = newest + win_off_[k];
      // One unsigned comparison: before the window start the difference wraps to a huge value.
      if (static_cast<std::uint64_t>(now - start) < win_width_[k]) [[likely]] {
        row[r.local][k] |= 1u << r.index;
      } else if (now < start) {
        store();
        place_older(station, r, now);
      } else {
        ++counters_.stray_tags;
      }
    } else {
      ++counters_.stray_tags;  // a channel nobody uses
    }
  next:
    // A trial is final for this station once its latest window has closed: the station closes
    // it into its record (the inline twin of advance()).
    if (now >= next_close) [[unlikely]] {
      std::uint64_t c = st.complete_below;
      for (;;) {
        close(st, c);
        if (++c == st.syncs) {
          next_close = INT64_MAX;
          newest = kNoneOpen;
          break;
        }
        next_close = st.open[static_cast<std::size_t>(c) & st.open_mask].sync_ps + window_end_;
        if (now < next_close) break;
      }
      st.complete_below = c;
    }
  }
  store();
}

bool TrialAssembler::rare_tag(int station, const Tag& t) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  if (t.type != TagType::time_tag) {
    if (t.type == TagType::time_mark) {
      mark(station, t.time_ps);
      return false;
    }
    // Tags were lost (overflow, error, missed events): the affected trials cannot be
    // assembled without guessing, which would be post-selection by the hardware.
    throw HardwareFault(std::string("station ") + std::to_string(station) + ": tagger reported " + to_string(t.type) +
                        " at " + std::to_string(t.time_ps) + " ps (near trial " + std::to_string(st.syncs) +
                        "); detections were lost");
  }
  if (t.time_ps < st.last_time)
    throw HardwareFault("station " + std::to_string(station) + ": time went backwards at " + std::to_string(t.time_ps) +
                        " ps (previous " + std::to_string(st.last_time) + " ps)" +
                        (config_.reorder_window_ps > 0 ? " beyond the reorder window" : ""));
  st.last_time = t.time_ps;
  infer_missing(station, t.time_ps);
  return true;
}

void TrialAssembler::mark(int station, std::int64_t time_ps) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  ++counters_.time_marks;
  // Every tag before time_ps has been delivered: the station's clock moves there, exactly as if
  // a tag had come at time_ps (a stale mark says nothing new). A later tag older than the
  // mark is time going backwards.
  if (time_ps <= st.last_time) return;
  st.last_time = time_ps;
  if (time_ps >= st.infer_at) infer_missing(station, time_ps);
  if (time_ps >= st.next_close) advance(st, time_ps);
}

void TrialAssembler::infer_missing(int station, std::int64_t now) {
  // A sync that should have arrived before this tag's window could open is missing: infer it
  // from the period, so the detections of that trial still find their window.
  StationState& st = stations_[static_cast<std::size_t>(station)];
  while (st.has_sync && now >= st.next_expected + infer_after_) {
    open(st, st.syncs, st.next_expected);
    ++counters_.missing_syncs;
  }
}

bool TrialAssembler::irregular_sync(int station, std::int64_t now, std::uint64_t& idx) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  if (!st.has_sync) {
    st.has_sync = true;
    st.first_sync = now;
    st.next_expected = now;  // the scan adds the period as it opens trial 0
    idx = 0;
    return true;
  }
  // Index by elapsed periods: a missing sync does not shift later trials.
  const std::int64_t period = config_.sync_period_ps;
  idx = static_cast<std::uint64_t>((now - st.first_sync + period / 2) / period);
  if (idx < st.syncs) return false;
  counters_.missing_syncs += idx - st.syncs;
  for (std::uint64_t m = st.syncs; m < idx; ++m)  // inferred syncs of the missing trials
    open(st, m, st.first_sync + static_cast<std::int64_t>(m) * period);
  return true;
}

void TrialAssembler::place_older(int station, const Role& r, std::int64_t now) {
  // The newest sync's window has not opened yet: the tag may belong to an older open trial
  // (window offsets beyond the period, or a sync that arrived before the last detection of
  // the trial before it).
  StationState& st = stations_[static_cast<std::size_t>(station)];
  const auto k = static_cast<std::size_t>(r.kind - kDetection);
  for (std::uint64_t i = st.syncs - 1; i-- > st.complete_below;) {
    OpenTrial& o = st.open[static_cast<std::size_t>(i) & st.open_mask];
    const std::int64_t start = o.sync_ps + win_off_[k];
    if (now < start) continue;
    if (static_cast<std::uint64_t>(now - start) < win_width_[k]) {
      o.bits[r.local][k] |= 1u << r.index;
      return;
    }
    break;
  }
  ++counters_.stray_tags;
}

void TrialAssembler::open(StationState& st, std::uint64_t idx, std::int64_t sync_ps) {
  // Records [trials_base_, opened_) are being built; a station ahead of the others makes the
  // output grow (memory bounded by the skew between stations).
  if (idx >= opened_) begin_records(idx + 1);
  if (idx - st.complete_below > st.open_mask) grow_open(st, idx);
  st.open[static_cast<std::size_t>(idx) & st.open_mask] = OpenTrial{sync_ps, {}};
  if (st.serves_party0) record(idx).time_ps = sync_ps;
  if (st.complete_below == st.syncs) st.next_close = sync_ps + window_end_;  // it is the only open trial
  st.syncs = idx + 1;
  st.newest_sync = sync_ps;
  st.next_expected = st.first_sync + static_cast<std::int64_t>(st.syncs) * config_.sync_period_ps;
  st.infer_at = st.next_expected + infer_after_;
}

void TrialAssembler::grow_open(StationState& st, std::uint64_t idx) {
  std::size_t cap = st.open_mask + 1;
  while (cap <= idx - st.complete_below) cap *= 2;
  std::vector<OpenTrial> next(cap);
  for (std::uint64_t i = st.complete_below; i < st.syncs; ++i)
    next[static_cast<std::size_t>(i) & (cap - 1)] = st.open[static_cast<std::size_t>(i) & st.open_mask];
  st.open.swap(next);
  st.open_mask = cap - 1;
}

void TrialAssembler::advance(StationState& st, std::int64_t now) {
  while (st.complete_below < st.syncs) {
    const std::int64_t close_at =
        st.open[static_cast<std::size_t>(st.complete_below) & st.open_mask].sync_ps + window_end_;
    if (close_at > now) {
      st.next_close = close_at;
      return;
    }
    close(st, st.complete_below);
    ++st.complete_below;
  }
  st.next_close = INT64_MAX;
}

// ---- blocks in, trials out ------------------------------------------------------------------

void TrialAssembler::push(int station, const TagBlock& tags) {
  if (station < 0 || static_cast<std::size_t>(station) >= stations_.size())
    throw std::invalid_argument("trial assembly: no station " + std::to_string(station));
  StationState& st = stations_[static_cast<std::size_t>(station)];
  try {
    if (config_.reorder_window_ps == 0) {
      scan(station, tags.data(), tags.data() + tags.size());
    } else if (!tags.empty()) {
      // Tags younger than the reorder window stay pending; the rest are processed in time order.
      // The buffer is only sorted when tags did arrive out of order; a time_mark lets every tag
      // up to it through at once.
      std::int64_t block_newest = INT64_MIN, marked = INT64_MIN, prev = INT64_MIN;
      bool block_sorted = true;
      std::uint64_t late = 0;  // tags older than a tag that arrived before them
      for (const Tag& t : tags) {
        late += t.time_ps < std::max(st.arrival_max, block_newest);
        block_sorted &= t.time_ps >= prev;
        prev = t.time_ps;
        block_newest = std::max(block_newest, t.time_ps);
        if (t.type == TagType::time_mark) marked = std::max(marked, t.time_ps);
      }
      counters_.reordered_tags += late;
      st.arrival_max = std::max(st.arrival_max, block_newest);
      const std::int64_t horizon = std::max(block_newest - config_.reorder_window_ps, marked);
      const auto by_time = [](std::int64_t h, const Tag& t) { return h < t.time_ps; };
      if (late == 0) {
        // In order: the pending tail (sorted, none later than this block's first tag), then the
        // block. Nothing is copied but what stays pending.
        auto& pend = st.pending;
        const auto pcut = std::upper_bound(pend.begin(), pend.end(), horizon, by_time);
        scan(station, pend.data(), pend.data() + (pcut - pend.begin()));
        if (pcut == pend.end()) {
          const Tag* cut = std::upper_bound(tags.data(), tags.data() + tags.size(), horizon, by_time);
          scan(station, tags.data(), cut);
          pend.assign(cut, tags.data() + tags.size());
        } else {
          pend.erase(pend.begin(), pcut);
          pend.insert(pend.end(), tags.begin(), tags.end());
        }
      } else {
        auto& pend = st.pending;
        const std::size_t old = pend.size();
        pend.insert(pend.end(), tags.begin(), tags.end());
        const auto mid = pend.begin() + static_cast<std::ptrdiff_t>(old);
        const auto earlier = [](const Tag& a, const Tag& b) { return a.time_ps < b.time_ps; };
        // Stable: tags with equal times keep their arrival order, older blocks first.
        if (!block_sorted) std::stable_sort(mid, pend.end(), earlier);
        if (old > 0 && mid->time_ps < (mid - 1)->time_ps) std::inplace_merge(pend.begin(), mid, pend.end(), earlier);
        const auto cut = std::upper_bound(pend.begin(), pend.end(), horizon, by_time);
        scan(station, pend.data(), pend.data() + (cut - pend.begin()));
        pend.erase(pend.begin(), cut);
      }
    }
  } catch (const HardwareFault&) {
    // Trials finished before the fault are kept (DESIGN.md: a hardware fault keeps every byte
    // acquired). Should one of them fail its own check, that earlier fault is the one reported.
    emit_ready();
    throw;
  }
  emit_ready();
}

void TrialAssembler::end(int station) {
  if (station < 0 || static_cast<std::size_t>(station) >= stations_.size()) return;
  StationState& st = stations_[static_cast<std::size_t>(station)];
  try {
    scan(station, st.pending.data(), st.pending.data() + st.pending.size());
  } catch (const HardwareFault&) {
    emit_ready();  // as in push(): what was finished before the fault is kept
    throw;
  }
  st.pending.clear();
  // Windows still open when the stream stopped may be missing tags: only trials whose
  // windows closed before the last tag (or time mark) are final. The rest are not emitted.
  st.ended = true;
  emit_ready();
}

void TrialAssembler::sum_counts(std::uint64_t first, std::uint64_t end) {
  // Byte s of a counts word: station s's no-click parties (low nibble, ≤ 4) and multi-click
  // parties (high nibble). Summed as four byte lanes at once, folded before a lane could carry
  // (≤ 4 per trial and lane: 63 trials at most).
  std::uint64_t none = 0, several = 0;
  const auto fold = [](std::uint32_t lanes) {
    return static_cast<std::uint64_t>((lanes & 0xFFu) + ((lanes >> 8) & 0xFFu) + ((lanes >> 16) & 0xFFu) +
                                      (lanes >> 24));
  };
  while (first < end) {
    const std::uint64_t chunk = std::min<std::uint64_t>(end - first, 63);
    std::uint32_t lo = 0, hi = 0;
    for (std::uint64_t i = first; i < first + chunk; ++i) {
      const std::uint32_t w = closed_counts_[static_cast<std::size_t>(i) & pending_mask_];
      lo += w & 0x0F0F0F0Fu;
      hi += (w >> 4) & 0x0F0F0F0Fu;
    }
    none += fold(lo);
    several += fold(hi);
    first += chunk;
  }
  counters_.no_click += none;
  counters_.multi_click += several;
}

void TrialAssembler::emit_ready() {
  // Trials below every station's completion mark are final.
  std::uint64_t limit = UINT64_MAX;
  bool any_open = false;
  for (const auto& st : stations_) {
    if (!st.used) continue;
    any_open = true;
    limit = std::min(limit, st.complete_below);
  }
  if (!any_open || limit <= trials_base_) return;
  if (!defer_all_ && !config_.fair_sampling && first_issue_ >= limit) {
    // Every record is complete where it lies: the batch is counted out, nothing is copied.
    sum_counts(trials_base_, limit);
    const std::uint64_t n = limit - trials_base_;
    ready_n_ += static_cast<std::size_t>(n);
    counters_.trials += n;
    trials_base_ = limit;  // rec_shift_ = trials_base_ − ready_n_ is unchanged
    return;
  }
  emit_checked(limit);
}

void TrialAssembler::emit_checked(std::uint64_t limit) {
  // Trial by trial, in order: settings looked up now (std::function, or not delivered when the
  // record was begun), wrong echoes reported for the first trial that has one, fair sampling's
  // drops (a dropped record is overwritten by the next one kept).
  std::uint64_t idx = trials_base_;
  std::size_t w = ready_n_;
  std::uint64_t dropped = 0;
  const std::uint64_t first = idx;
  const auto commit = [&] {
    sum_counts(first, idx);
    counters_.trials += w - ready_n_;
    counters_.dropped_fair_sampling += dropped;
    // The records still being built follow the last one kept.
    const auto from = static_cast<std::size_t>(idx - rec_shift_);
    if (from != w && opened_ > idx)
      std::memmove(static_cast<void*>(ready_.data() + w), ready_.data() + from,
                   static_cast<std::size_t>(opened_ - idx) * sizeof(protocol::Trial));
    ready_n_ = w;
    trials_base_ = idx;
    rec_shift_ = trials_base_ - ready_n_;
    while (!deferred_.empty() && deferred_.front() < idx) deferred_.erase(deferred_.begin());
    first_issue_ = deferred_.empty() ? UINT64_MAX : deferred_.front();
    for (const auto& issue : issues_) first_issue_ = std::min(first_issue_, issue.trial);
  };
  try {
    for (; idx < limit; ++idx) {
      protocol::Trial& t = record(idx);
      if (idx >= first_issue_ || defer_all_) {
        if (deferred(idx)) {
          const protocol::Trial s = intended_    ? intended_(idx)
                                    : scheduler_ ? scheduler_->intended(idx)
                                                 : protocol::Trial{};
          t.u = s.u;
          t.device = s.device;
          t.flags |= s.flags;
          const std::size_t pend = static_cast<std::size_t>(idx) & pending_mask_;
          for (std::size_t p = 0; p < nparties_; ++p) {
            if (!((echo_check_mask_ >> p) & 1u)) continue;
            const std::uint32_t e = echoes_[pend * protocol::kMaxParties + p];
            const std::uint32_t want = t.u[p] < 32 ? 1u << t.u[p] : 0u;
            if (e != want) echo_fault(idx, p, e, t.u[p]);
          }
        }
        const EchoIssue* worst = nullptr;
        for (const auto& issue : issues_)
          if (issue.trial == idx && (!worst || issue.party < worst->party)) worst = &issue;
        if (worst) echo_fault(idx, worst->party, worst->echoes, worst->intended);
      }
      // Fair sampling (not device-independent): a dropped trial is overwritten by the next one.
      if (config_.fair_sampling && (t.flags & protocol::kTrialNoClick) != 0) {
        ++dropped;
        continue;
      }
      if (&ready_[w] != &t) ready_[w] = t;
      ++w;
    }
  } catch (...) {
    commit();  // the trials before the faulty one are kept
    throw;
  }
  commit();
}

void TrialAssembler::echo_fault(std::uint64_t idx, std::size_t party, std::uint32_t echoes, int intended) const {
  std::string seen;
  for (int v = 0; v < 32; ++v)
    if (echoes & (1u << v)) seen += (seen.empty() ? "" : ",") + std::to_string(v);
  const std::string where = "trial " + std::to_string(idx) + ", party " + std::to_string(party) + ": ";
  if (intended < 0)  // hardware-chosen settings: the echo is the setting
    throw HardwareFault(
        where + (seen.empty() ? std::string("no setting echo") : "setting echoes on several values (" + seen + ")") +
        "; hardware-chosen settings need exactly one echo per trial");
  throw HardwareFault(where + "modulator echo " + (seen.empty() ? std::string("missing") : "shows setting " + seen) +
                      ", intended " + std::to_string(intended));
}

void TrialAssembler::take_open_tail(protocol::Trial* from) {
  // The records still being built, [trials_base_, opened_), move to the front of ready_.
  const auto tail = static_cast<std::size_t>(opened_ - trials_base_);
  if (ready_.size() < tail) ready_.resize(tail);
  if (tail) std::memmove(static_cast<void*>(ready_.data()), from, tail * sizeof(protocol::Trial));
  ready_n_ = 0;
  rec_shift_ = trials_base_;
}

void TrialAssembler::pop(std::vector<protocol::Trial>& out) {
  if (out.empty()) {
    const std::size_t n = ready_n_;
    out.swap(ready_);
    take_open_tail(out.data() + n);
    out.resize(n);  // shrinks: the records being built were copied out first
  } else {
    out.insert(out.end(), ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(ready_n_));
    take_open_tail(ready_.data() + ready_n_);
  }
}

void TrialAssembler::pop_replacing(std::vector<protocol::Trial>& out) {
  // out's old storage (and size) becomes ready_'s: the next batch overwrites it in place.
  const std::size_t n = ready_n_;
  out.swap(ready_);
  take_open_tail(out.data() + n);
  out.resize(n);  // ready_ held at least n elements: this only shrinks
}

}  // namespace dira::hal
