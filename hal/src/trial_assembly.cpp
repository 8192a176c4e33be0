#include "dira/hal/trial_assembly.hpp"

#include "dira/hal/device.hpp"
#include "dira/hal/setting_scheduler.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <set>
#include <stdexcept>

namespace dira::hal {

namespace {
// Channels 0 … 4095 are looked up in a table; anything else (negative, or a device numbering
// its channels sparsely) goes through the role list, off the hot path.
constexpr std::uint32_t kTableChannels = 4096;
// Shift that puts byte p of a uint32 where std::array<uint8_t, 4>'s element p lies in memory.
constexpr int kByteShift[4] = {
    std::endian::native == std::endian::little ? 0 : 24, std::endian::native == std::endian::little ? 8 : 16,
    std::endian::native == std::endian::little ? 16 : 8, std::endian::native == std::endian::little ? 24 : 0};
static_assert(sizeof(std::array<std::uint8_t, protocol::kMaxParties>) == 4);
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
  for (std::size_t p = 0; p < nparties_; ++p) {
    const auto& s = config_.parties[p];
    StationState& st = stations_[static_cast<std::size_t>(s.station)];
    st.used = true;
    st.party_list[st.nparty++] = static_cast<std::uint8_t>(p);
    auto& roles = st.roles;
    const auto has = [&](int ch) {
      return std::any_of(roles.begin(), roles.end(), [&](const auto& r) { return r.first == ch; });
    };
    if (!has(s.sync_channel))
      roles.push_back({s.sync_channel, Role{kSync, 0, 0}});
    else
      for (auto& r : roles)
        if (r.first == s.sync_channel && r.second.kind != kSync)
          throw std::invalid_argument("trial assembly: sync channel reused");
    for (std::size_t o = 0; o < s.detector_channels.size(); ++o)
      roles.push_back(
          {s.detector_channels[o], Role{kDetection, static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(o)}});
    for (std::size_t v = 0; v < s.echo_channels.size(); ++v)
      roles.push_back({s.echo_channels[v], Role{kEcho, static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(v)}});
    if (!s.echo_channels.empty() && !config_.settings_from_echo) echo_check_mask_ |= 1u << p;
  }
  for (auto& st : stations_) {
    if (!st.used) st.ended = true;  // a station number nobody uses never holds trials back
    st.sync_times.assign(16, 0);
    st.sync_mask = 15;
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
  // The layouts with a loop of their own (scan_tags<k>): every station serves the same number k
  // of parties, numbered consecutively — one party per station (hardware with a station per
  // party, the stations tagger), or all parties on one station (the simulator's default).
  parties_per_station_ = 0;
  bool uniform = true;
  for (const auto& st : stations_) {
    if (!st.used) continue;
    if (parties_per_station_ == 0) parties_per_station_ = st.nparty;
    uniform &= st.nparty == parties_per_station_;
    for (std::size_t k = 1; k < st.nparty; ++k) uniform &= st.party_list[k] == st.party_list[0] + k;
  }
  if (!uniform) parties_per_station_ = 0;
  ring_.assign(1024 * nparties_, PartyTrial{});
  ring_mask_ = 1023;
}

// ---- per-tag scan --------------------------------------------------------------------------

const TrialAssembler::Role& TrialAssembler::role_outside_table(const StationState& st, int channel) {
  static constexpr Role kNone{};
  for (const auto& [c, role] : st.roles)
    if (c == channel) return role;
  return kNone;
}

void TrialAssembler::scan(int station, const Tag* begin, const Tag* end) {
  switch (parties_per_station_) {
    case 1:
      return scan_tags<1>(station, begin, end);
    case 2:
      return scan_tags<2>(station, begin, end);
    case 3:
      return scan_tags<3>(station, begin, end);
    case 4:
      return scan_tags<4>(station, begin, end);
    default:
      return scan_tags<0>(station, begin, end);
  }
}

// kParties > 0: this station serves kParties consecutive parties (init() checks it), so `row`
// points at the first of its slots, a sync opens exactly kParties slots (an unrolled loop, no
// party list read) and a detection indexes the row by party − first party. kParties = 0: any
// layout, the station's party list read at each sync.
template <std::size_t kParties>
void TrialAssembler::scan_tags(int station, const Tag* it, const Tag* stop) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  const std::size_t own = kParties > 0 ? st.party_list[0] : 0;  // the row's offset to this station's first slot
  const Role* const table = st.table.data();                    // kTableChannels entries
  // What every tag reads lives in locals (registers) for the block; the rest of the station's
  // state (touched once per trial) stays in `st`. Written back before anything out of line
  // reads it, read again afterwards.
  std::int64_t last = 0, infer_at = 0, next_close = 0, newest = 0;
  PartyTrial* row = nullptr;  // the newest open trial's party slots; nullptr when none is open
  const auto load = [&] {
    last = st.last_time;
    infer_at = st.infer_at;
    next_close = st.next_close;
    newest = st.newest_sync;
    row = st.syncs > st.complete_below ? &ring_[(static_cast<std::size_t>(st.syncs - 1) & ring_mask_) * nparties_ + own]
                                       : nullptr;
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
      if (idx - trials_base_ > ring_mask_) [[unlikely]]
        grow(idx);
      if (idx - st.complete_below > st.sync_mask) [[unlikely]]
        grow_syncs(st, idx);
      st.sync_times[static_cast<std::size_t>(idx) & st.sync_mask] = now;
      row = &ring_[(static_cast<std::size_t>(idx) & ring_mask_) * nparties_ + own];
      if constexpr (kParties > 0)
        for (std::size_t k = 0; k < kParties; ++k) row[k] = PartyTrial{{0, 0}, now};
      else
        for (std::size_t k = 0; k < st.nparty; ++k) row[st.party_list[k]] = PartyTrial{{0, 0}, now};
      if (st.complete_below == st.syncs) next_close = now + window_end_;  // it is the only open trial
      st.syncs = idx + 1;
      newest = now;
      st.next_expected += config_.sync_period_ps;
      infer_at = st.next_expected + infer_after_;
      if (st.syncs > opened_) opened_ = st.syncs;
    } else if (r.kind != kStray) {
      // Detection or echo: it belongs to the newest sync whose window has opened, if that window
      // has not closed yet (half-open [start, end)). Nearly always the newest sync of all.
      const std::size_t k = r.kind - std::size_t{kDetection};
      if (row) {
        const std::int64_t start = newest + win_off_[k];
        // One unsigned comparison: before the window start the difference wraps to a huge value.
        if (static_cast<std::uint64_t>(now - start) < win_width_[k]) [[likely]] {
          row[kParties == 1 ? 0 : r.party - own].bits[k] |= 1u << r.index;
        } else if (now < start) {
          store();
          place_older(station, r, now);
        } else {
          ++counters_.stray_tags;
        }
      } else {
        ++counters_.stray_tags;
      }
    } else {
      ++counters_.stray_tags;  // a channel nobody uses
    }
  next:
    // A trial is final for this station once its latest window has closed (the inline twin of
    // advance()).
    if (now >= next_close) [[unlikely]] {
      std::uint64_t done = st.complete_below;
      next_close = INT64_MAX;
      for (; done < st.syncs; ++done) {
        const std::int64_t close = st.sync_times[static_cast<std::size_t>(done) & st.sync_mask] + window_end_;
        if (close > now) {
          next_close = close;
          break;
        }
      }
      st.complete_below = done;
      if (done == st.syncs) row = nullptr;
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
    const std::int64_t start = st.sync_times[static_cast<std::size_t>(i) & st.sync_mask] + win_off_[k];
    if (now < start) continue;
    if (static_cast<std::uint64_t>(now - start) < win_width_[k]) {
      slot(i, r.party).bits[k] |= 1u << r.index;
      return;
    }
    break;
  }
  ++counters_.stray_tags;
}

void TrialAssembler::open(StationState& st, std::uint64_t idx, std::int64_t sync_ps) {
  // Trials [trials_base_, opened_) live in the ring; a station ahead of the others by more
  // than its capacity makes it grow (memory bounded by the skew between stations).
  if (idx - trials_base_ > ring_mask_) [[unlikely]]
    grow(idx);
  if (idx - st.complete_below > st.sync_mask) grow_syncs(st, idx);
  st.sync_times[static_cast<std::size_t>(idx) & st.sync_mask] = sync_ps;
  for (std::size_t k = 0; k < st.nparty; ++k) slot(idx, st.party_list[k]) = PartyTrial{{0, 0}, sync_ps};
  if (st.complete_below == st.syncs) st.next_close = sync_ps + window_end_;  // it is the only open trial
  st.syncs = idx + 1;
  st.newest_sync = sync_ps;
  st.next_expected = st.first_sync + static_cast<std::int64_t>(st.syncs) * config_.sync_period_ps;
  st.infer_at = st.next_expected + infer_after_;
  opened_ = std::max(opened_, st.syncs);
}

void TrialAssembler::grow_syncs(StationState& st, std::uint64_t idx) {
  std::size_t cap = st.sync_mask + 1;
  while (cap <= idx - st.complete_below) cap *= 2;
  std::vector<std::int64_t> next(cap);
  for (std::uint64_t i = st.complete_below; i < st.syncs; ++i)
    next[static_cast<std::size_t>(i) & (cap - 1)] = st.sync_times[static_cast<std::size_t>(i) & st.sync_mask];
  st.sync_times.swap(next);
  st.sync_mask = cap - 1;
}

void TrialAssembler::grow(std::uint64_t idx) {
  std::size_t cap = ring_mask_ + 1;
  while (cap <= idx - trials_base_) cap *= 2;
  std::vector<PartyTrial> next(cap * nparties_);
  for (std::uint64_t i = trials_base_; i < opened_; ++i)
    for (std::size_t p = 0; p < nparties_; ++p)
      next[(static_cast<std::size_t>(i) & (cap - 1)) * nparties_ + p] = slot(i, p);
  ring_.swap(next);
  ring_mask_ = cap - 1;
}

void TrialAssembler::reserve_for(const StationState& st, const TagBlock& tags) {
  // The ring must hold every trial from the oldest not yet emitted to the newest this block
  // opens. A block spans about (last − first) / period trials: growing once to that size here
  // spares the scan doubling the ring (and copying it) a dozen times on the first blocks.
  if (tags.empty()) return;
  const std::int64_t span = tags.back().time_ps - (st.has_sync ? st.newest_sync : tags.front().time_ps);
  if (span <= 0 || span / config_.sync_period_ps > static_cast<std::int64_t>(kReserveTrials)) return;
  const std::uint64_t newest = st.syncs + static_cast<std::uint64_t>(span / config_.sync_period_ps) + 1;
  if (newest - trials_base_ > ring_mask_) grow(newest);
}

void TrialAssembler::advance(StationState& st, std::int64_t now) {
  while (st.complete_below < st.syncs) {
    const std::int64_t close = st.sync_times[static_cast<std::size_t>(st.complete_below) & st.sync_mask] + window_end_;
    if (close > now) {
      st.next_close = close;
      return;
    }
    ++st.complete_below;
  }
  st.next_close = INT64_MAX;
}

// ---- blocks in, trials out ------------------------------------------------------------------

void TrialAssembler::push(int station, const TagBlock& tags) {
  if (station < 0 || static_cast<std::size_t>(station) >= stations_.size())
    throw std::invalid_argument("trial assembly: no station " + std::to_string(station));
  StationState& st = stations_[static_cast<std::size_t>(station)];
  reserve_for(st, tags);
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
  // One emission loop per source of settings, chosen once per batch, not per trial.
  if (config_.settings_from_echo) {
    release_trials(limit, [this](std::uint64_t idx, const PartyTrial* parts, protocol::Trial& t) {
      t = protocol::Trial{};
      for (std::size_t p = 0; p < nparties_; ++p) {
        const std::uint32_t e = parts[p].bits[1];
        if (e == 0 || (e & (e - 1)) != 0) [[unlikely]]
          echo_fault(idx, p, e, -1);
        t.u[p] = static_cast<std::uint8_t>(std::countr_zero(e));
      }
    });
  } else if (scheduler_) {
    const SettingScheduler* s = scheduler_;
    // Normally the whole batch was delivered ahead: one check for the batch. Otherwise trial by
    // trial, so the fault (or the end of the plan) names the first trial concerned.
    if (s->holds(trials_base_, limit))
      release_trials(limit,
                     [s](std::uint64_t idx, const PartyTrial*, protocol::Trial& t) { t = s->intended_held(idx); });
    else
      release_trials(limit, [s](std::uint64_t idx, const PartyTrial*, protocol::Trial& t) { t = s->intended(idx); });
  } else if (intended_) {
    release_trials(limit, [this](std::uint64_t idx, const PartyTrial*, protocol::Trial& t) { t = intended_(idx); });
  } else {
    release_trials(limit, [](std::uint64_t, const PartyTrial*, protocol::Trial& t) { t = protocol::Trial{}; });
  }
}

template <class Settings>
void TrialAssembler::release_trials(std::uint64_t limit, Settings settings) {
  // The party loop unrolled for each party count.
  switch (nparties_) {
    case 1:
      return release_trials_n<1>(limit, settings);
    case 2:
      return release_trials_n<2>(limit, settings);
    case 3:
      return release_trials_n<3>(limit, settings);
    default:
      return release_trials_n<4>(limit, settings);
  }
}

template <std::size_t NP, class Settings>
void TrialAssembler::release_trials_n(std::uint64_t limit, Settings settings) {
  // Records are written in place (vector::push_back per trial costs more than zeroing the batch),
  // over storage kept from earlier batches where there is some (pop_replacing): only growth is
  // zeroed. Every field of a record is written below (the settings callbacks assign the whole
  // Trial first), so stale bytes never reach the output.
  const std::size_t first = ready_n_;
  const std::size_t need = first + static_cast<std::size_t>(limit - trials_base_);
  if (ready_.size() < need) ready_.resize(need);
  protocol::Trial* const out = ready_.data();
  std::size_t w = first;
  std::uint64_t idx = trials_base_, no_click = 0, multi_click = 0, dropped = 0;
  const auto commit = [&] {
    ready_n_ = w;
    trials_base_ = idx;
    counters_.trials += w - first;
    counters_.no_click += no_click;
    counters_.multi_click += multi_click;
    counters_.dropped_fair_sampling += dropped;
  };
  const std::uint32_t echo_check = echo_check_mask_;
  const bool fair_sampling = config_.fair_sampling;
  const PartyTrial* const ring = ring_.data();
  const std::size_t mask = ring_mask_;
  try {
    for (; idx < limit; ++idx) {
      const PartyTrial* parts = &ring[(static_cast<std::size_t>(idx) & mask) * NP];
      // Written in place, field by field: building the record in a local and copying it costs
      // a store-forwarding stall per trial (16-byte loads of bytes just stored one by one).
      protocol::Trial& t = out[w];
      settings(idx, parts, t);
      t.index = idx;
      t.time_ps = parts[0].sync_ps;
      std::uint32_t flags = 0;
      std::uint32_t x = 0;  // the outcomes' four bytes, as they lie in memory
      for (std::size_t p = 0; p < NP; ++p) {
        if ((echo_check >> p) & 1u) {
          const std::uint32_t want = t.u[p] < 32 ? 1u << t.u[p] : 0u;
          if (parts[p].bits[1] != want) [[unlikely]]
            echo_fault(idx, p, parts[p].bits[1], t.u[p]);
        }
        // The fixed outcome rule (docs/trial-policy.md): no click → 0, several → lowest detector.
        // countr_zero(0) = 32, and 32 & 31 = 0: the no-click outcome without a branch.
        const std::uint32_t d = parts[p].bits[0];
        x |= static_cast<std::uint32_t>(std::countr_zero(d) & 31) << kByteShift[p];
        const bool none = d == 0, several = (d & (d - 1)) != 0;
        no_click += none;
        multi_click += several;
        flags |= (none ? protocol::kTrialNoClick : 0u) | (several ? protocol::kTrialMultiClick : 0u);
      }
      // One 4-byte store: outcomes assembled byte by byte on the stack and copied would stall on
      // store forwarding.
      t.x = std::bit_cast<std::array<std::uint8_t, protocol::kMaxParties>>(x);
      t.flags |= flags;
      // Fair sampling (not device-independent): a dropped trial is overwritten by the next one.
      const bool drop = fair_sampling && (flags & protocol::kTrialNoClick) != 0;
      dropped += drop;
      w += !drop;
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

void TrialAssembler::pop(std::vector<protocol::Trial>& out) {
  if (out.empty()) {
    out.swap(ready_);
    out.resize(ready_n_);  // shrinks: the stale tail is dropped, nothing is zeroed
  } else {
    out.insert(out.end(), ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(ready_n_));
  }
  ready_.clear();
  ready_n_ = 0;
}

void TrialAssembler::pop_replacing(std::vector<protocol::Trial>& out) {
  // out's old storage (and size) becomes ready_'s: the next batch overwrites it in place.
  out.swap(ready_);
  out.resize(ready_n_);  // ready_ held at least ready_n_ elements: this only shrinks
  ready_n_ = 0;
}

}  // namespace dira::hal
