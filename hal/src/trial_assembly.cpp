#include "dira/hal/trial_assembly.hpp"

#include "dira/hal/device.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <set>
#include <stdexcept>

namespace dira::hal {

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
    if (s.detector_channels.empty() || s.detector_channels.size() > 32)
      throw std::invalid_argument("trial assembly: party " + std::to_string(p) + " needs 1 to 32 detector channels");
    if (s.echo_channels.size() > 32) throw std::invalid_argument("trial assembly: at most 32 echo channels");
    if (!s.echo_channels.empty() && c.echo_width_ps <= 0)
      throw std::invalid_argument("trial assembly: echo channels need echo_width_ps > 0");
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
  validate(config_);
  int nstations = 0;
  for (const auto& s : config_.parties) nstations = std::max(nstations, s.station + 1);
  stations_.resize(static_cast<std::size_t>(nstations));
  for (std::size_t p = 0; p < config_.parties.size(); ++p) {
    const auto& s = config_.parties[p];
    auto& roles = stations_[static_cast<std::size_t>(s.station)].roles;
    const auto has = [&](int ch) {
      return std::any_of(roles.begin(), roles.end(), [&](const auto& r) { return r.first == ch; });
    };
    if (!has(s.sync_channel))
      roles.push_back({s.sync_channel, Role{-1, 0, 0}});
    else
      for (auto& r : roles)
        if (r.first == s.sync_channel && r.second.kind != 0)
          throw std::invalid_argument("trial assembly: sync channel reused");
    for (std::size_t o = 0; o < s.detector_channels.size(); ++o)
      roles.push_back({s.detector_channels[o], Role{static_cast<int>(p), 1, static_cast<int>(o)}});
    for (std::size_t v = 0; v < s.echo_channels.size(); ++v)
      roles.push_back({s.echo_channels[v], Role{static_cast<int>(p), 2, static_cast<int>(v)}});
  }
  for (std::size_t st = 0; st < stations_.size(); ++st) {
    const bool used = std::any_of(config_.parties.begin(), config_.parties.end(),
                                  [&](const StationLayout& l) { return l.station == static_cast<int>(st); });
    if (!used) stations_[st].ended = true;  // a station number nobody uses never holds trials back
  }
  for (auto& st : stations_) {
    int max_ch = -1;
    for (const auto& [ch, r] : st.roles)
      if (ch >= 0 && ch < 4096) max_ch = std::max(max_ch, ch);
    st.role_by_channel.assign(static_cast<std::size_t>(max_ch + 1), Role{-2, 0, 0});
    for (const auto& [ch, r] : st.roles)
      if (ch >= 0 && ch < 4096) st.role_by_channel[static_cast<std::size_t>(ch)] = r;
  }
  window_end_ = std::max(config_.detection_offset_ps + config_.detection_width_ps,
                         config_.echo_offset_ps + config_.echo_width_ps);
  // Tags of a trial come no earlier than the smallest window offset after its sync; when that
  // offset is 0 (a tag could share the sync's timestamp) wait half a period instead.
  std::int64_t earliest = config_.detection_offset_ps;
  if (config_.echo_width_ps > 0) earliest = std::min(earliest, config_.echo_offset_ps);
  infer_after_ = earliest > 0 ? std::min(earliest, config_.sync_period_ps / 2) : config_.sync_period_ps / 2;
}

[[gnu::always_inline]] inline const TrialAssembler::Role* TrialAssembler::role(int station, int channel) const {
  const StationState& st = stations_[static_cast<std::size_t>(station)];
  if (channel >= 0 && static_cast<std::size_t>(channel) < st.role_by_channel.size()) {
    const Role& r = st.role_by_channel[static_cast<std::size_t>(channel)];
    return r.party == -2 ? nullptr : &r;
  }
  for (const auto& [ch, r] : st.roles)
    if (ch == channel) return &r;
  return nullptr;
}

[[gnu::always_inline]] inline TrialAssembler::PartyTrial& TrialAssembler::slot(std::uint64_t trial, int party) {
  const std::size_t np = config_.parties.size();
  const std::size_t at =
      trials_head_ + static_cast<std::size_t>(trial - trials_base_) * np + static_cast<std::size_t>(party);
  if (trials_.size() <= at) trials_.resize(at + 1 + np);
  return trials_[at];
}

[[gnu::always_inline]] inline void TrialAssembler::advance(int station, std::int64_t now) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  // A trial is final for this station once its latest window has closed.
  if (st.recent_head == st.recent_syncs.size() || st.recent_syncs[st.recent_head] + window_end_ > now) return;
  while (st.recent_head < st.recent_syncs.size() && st.recent_syncs[st.recent_head] + window_end_ <= now) {
    st.complete_below = st.recent_base + 1;
    ++st.recent_head;
    ++st.recent_base;
  }
  if (st.recent_head > 1024 && st.recent_head * 2 > st.recent_syncs.size()) {
    st.recent_syncs.erase(st.recent_syncs.begin(),
                          st.recent_syncs.begin() + static_cast<std::ptrdiff_t>(st.recent_head));
    st.recent_head = 0;
  }
}

[[gnu::always_inline]] inline void TrialAssembler::process(int station, const Tag& t) {
  StationState& st = stations_[static_cast<std::size_t>(station)];
  if (t.type != TagType::time_tag) {
    // Tags were lost (overflow, error, missed events): the affected trials cannot be
    // assembled without guessing, which would be post-selection by the hardware.
    throw HardwareFault(std::string("station ") + std::to_string(station) + ": tagger reported " + to_string(t.type) +
                        " at " + std::to_string(t.time_ps) + " ps (near trial " + std::to_string(st.syncs) +
                        "); detections were lost");
  }
  if (t.time_ps < st.last_time) {
    if (config_.reorder_window_ps > 0) ++counters_.reordered_tags;
    throw HardwareFault("station " + std::to_string(station) + ": time went backwards at " + std::to_string(t.time_ps) +
                        " ps (previous " + std::to_string(st.last_time) + " ps) beyond the reorder window");
  }
  st.last_time = t.time_ps;
  // A sync that should have arrived before this tag's window could open is missing: infer it
  // from the period, so the detections of that trial still find their window.
  if (t.time_ps >= st.infer_at) {
    for (;;) {
      const std::int64_t expected = st.first_sync + static_cast<std::int64_t>(st.syncs) * config_.sync_period_ps;
      if (t.time_ps < expected + infer_after_) break;
      if (st.recent_head == st.recent_syncs.size()) st.recent_base = st.syncs;
      st.recent_syncs.push_back(expected);
      for (std::size_t p = 0; p < config_.parties.size(); ++p)
        if (config_.parties[p].station == station) slot(st.syncs, static_cast<int>(p)).sync_ps = expected;
      ++st.syncs;
      ++counters_.missing_syncs;
    }
    st.infer_at = st.first_sync + static_cast<std::int64_t>(st.syncs) * config_.sync_period_ps + infer_after_;
  }
  const Role* r = role(station, t.channel);
  if (!r) {
    ++counters_.stray_tags;  // a channel nobody uses
    advance(station, t.time_ps);
    return;
  }
  if (r->kind == 0) {
    std::uint64_t idx = 0;
    if (!st.has_sync) {
      st.has_sync = true;
      st.first_sync = t.time_ps;
    } else {
      // Index by elapsed periods: a missing sync does not shift later trials.
      idx =
          static_cast<std::uint64_t>((t.time_ps - st.first_sync + config_.sync_period_ps / 2) / config_.sync_period_ps);
      if (idx < st.syncs) {
        ++counters_.stray_tags;  // a duplicate edge within the same period
        advance(station, t.time_ps);
        return;
      }
      counters_.missing_syncs += idx - st.syncs;
      for (std::uint64_t m = st.syncs; m < idx; ++m) {  // inferred syncs of the missing trials
        if (st.recent_head == st.recent_syncs.size()) st.recent_base = m;
        const std::int64_t inferred = st.first_sync + static_cast<std::int64_t>(m) * config_.sync_period_ps;
        st.recent_syncs.push_back(inferred);
        for (std::size_t p = 0; p < config_.parties.size(); ++p)
          if (config_.parties[p].station == station) slot(m, static_cast<int>(p)).sync_ps = inferred;
      }
    }
    if (st.recent_head == st.recent_syncs.size()) st.recent_base = idx;
    st.recent_syncs.push_back(t.time_ps);
    st.syncs = idx + 1;
    st.infer_at = st.first_sync + static_cast<std::int64_t>(st.syncs) * config_.sync_period_ps + infer_after_;
    for (std::size_t p = 0; p < config_.parties.size(); ++p)
      if (config_.parties[p].station == station) slot(idx, static_cast<int>(p)).sync_ps = t.time_ps;
    advance(station, t.time_ps);
    return;
  }
  // Detection or echo: find the sync whose window holds it (half-open [start, end)).
  const std::int64_t off = r->kind == 1 ? config_.detection_offset_ps : config_.echo_offset_ps;
  const std::int64_t width = r->kind == 1 ? config_.detection_width_ps : config_.echo_width_ps;
  bool placed = false;
  for (std::size_t i = st.recent_syncs.size(); i-- > st.recent_head;) {
    const std::int64_t start = st.recent_syncs[i] + off;
    if (t.time_ps < start) continue;
    if (t.time_ps < start + width) {
      PartyTrial& pt = slot(st.recent_base + (i - st.recent_head), r->party);
      if (r->kind == 1)
        pt.detections |= 1u << r->index;
      else
        pt.echoes |= 1u << r->index;
      placed = true;
    }
    break;
  }
  if (!placed) ++counters_.stray_tags;
  advance(station, t.time_ps);
}

void TrialAssembler::push(int station, const TagBlock& tags) {
  if (station < 0 || static_cast<std::size_t>(station) >= stations_.size())
    throw std::invalid_argument("trial assembly: no station " + std::to_string(station));
  StationState& st = stations_[static_cast<std::size_t>(station)];
  if (config_.reorder_window_ps == 0) {
    for (const Tag& t : tags) process(station, t);
  } else {
    // Keep tags younger than the reorder window pending; process the rest in time order.
    st.pending.insert(st.pending.end(), tags.begin(), tags.end());
    std::stable_sort(st.pending.begin(), st.pending.end(),
                     [](const Tag& a, const Tag& b) { return a.time_ps < b.time_ps; });
    std::int64_t newest = INT64_MIN;
    for (const Tag& t : tags) newest = std::max(newest, t.time_ps);
    const std::int64_t horizon = newest - config_.reorder_window_ps;
    std::size_t k = 0;
    for (; k < st.pending.size() && st.pending[k].time_ps <= horizon; ++k) process(station, st.pending[k]);
    st.pending.erase(st.pending.begin(), st.pending.begin() + static_cast<std::ptrdiff_t>(k));
  }
  emit_ready();
}

void TrialAssembler::end(int station) {
  if (station < 0 || static_cast<std::size_t>(station) >= stations_.size()) return;
  StationState& st = stations_[static_cast<std::size_t>(station)];
  for (const Tag& t : st.pending) process(station, t);
  st.pending.clear();
  // Windows still open when the stream stopped may be missing tags: only trials whose
  // windows closed before the last tag are final. The rest are not emitted.
  st.ended = true;
  emit_ready();
}

void TrialAssembler::emit_ready() {
  // Trials below every station's completion mark are final.
  std::uint64_t limit = UINT64_MAX;
  bool any_open = false;
  for (const auto& st : stations_) {
    if (st.roles.empty()) continue;
    any_open = true;
    limit = std::min(limit, st.complete_below);
  }
  if (!any_open) return;
  const std::size_t np = config_.parties.size();
  while (trials_base_ < limit) {
    if (trials_.size() < trials_head_ + np) trials_.resize(trials_head_ + np);
    const std::uint64_t idx = trials_base_;
    const PartyTrial* parts = &trials_[trials_head_];
    protocol::Trial t = intended_ ? intended_(idx) : protocol::Trial{};
    t.index = idx;
    t.time_ps = parts[0].sync_ps;
    bool drop = false;
    for (std::size_t p = 0; p < np; ++p) {
      const PartyTrial& pt = parts[p];
      const auto& layout = config_.parties[p];
      if (!layout.echo_channels.empty()) {
        const std::uint32_t want = 1u << t.u[p];
        if (pt.echoes != want) {
          std::string seen;
          for (std::size_t v = 0; v < layout.echo_channels.size(); ++v)
            if (pt.echoes & (1u << v)) seen += (seen.empty() ? "" : ",") + std::to_string(v);
          throw HardwareFault("trial " + std::to_string(idx) + ", party " + std::to_string(p) + ": modulator echo " +
                              (seen.empty() ? std::string("missing") : "shows setting " + seen) + ", intended " +
                              std::to_string(t.u[p]));
        }
      }
      // The fixed outcome rule (docs/trial-policy.md): no click → 0, several → lowest detector.
      if (pt.detections == 0) {
        t.x[p] = 0;
        t.flags |= protocol::kTrialNoClick;
        ++counters_.no_click;
        if (config_.fair_sampling) drop = true;
      } else {
        t.x[p] = static_cast<std::uint8_t>(std::countr_zero(pt.detections));
        if ((pt.detections & (pt.detections - 1)) != 0) {  // more than one detector
          t.flags |= protocol::kTrialMultiClick;
          ++counters_.multi_click;
        }
      }
    }
    for (std::size_t p = 0; p < np; ++p) trials_[trials_head_ + p] = PartyTrial{};
    trials_head_ += np;
    ++trials_base_;
    if (trials_head_ > 4096 && trials_head_ * 2 > trials_.size()) {  // compact: memory stays bounded
      trials_.erase(trials_.begin(), trials_.begin() + static_cast<std::ptrdiff_t>(trials_head_));
      trials_head_ = 0;
    }
    if (drop) {
      ++counters_.dropped_fair_sampling;
      continue;
    }
    ready_.push_back(t);
    ++counters_.trials;
  }
}

void TrialAssembler::pop(std::vector<protocol::Trial>& out) {
  out.insert(out.end(), ready_.begin(), ready_.end());
  ready_.clear();
}

}  // namespace dira::hal
