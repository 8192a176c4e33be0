// Merging station streams by sync index (merge.hpp; docs/stations.md, "Merging").
#include "dira/station/merge.hpp"

#include "dira/hal/device.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dira::station {

SyncMerger::SyncMerger(std::size_t stations, int sync_channel, int channel_stride)
    : stations_(stations), sync_channel_(sync_channel), stride_(channel_stride) {
  if (stations == 0) throw std::invalid_argument("merging needs at least one station");
  if (channel_stride < 1) throw std::invalid_argument("channel stride must be at least 1");
}

void SyncMerger::push(std::size_t s, std::span<const hal::Tag> tags) {
  auto& st = stations_.at(s);
  for (const auto& t : tags)
    if (t.channel < 0 || t.channel >= stride_)
      throw hal::HardwareFault("station " + std::to_string(s) + " sent channel " + std::to_string(t.channel) +
                               ", outside [0, " + std::to_string(stride_) +
                               "): it would collide with another station's");
  st.raw.insert(st.raw.end(), tags.begin(), tags.end());
}

void SyncMerger::end(std::size_t s) {
  stations_.at(s).ended = true;
}

void SyncMerger::align(std::size_t s, bool flush) {
  auto& st = stations_[s];
  const auto is_sync = [&](const hal::Tag& t) {
    return t.type == hal::TagType::time_tag && t.channel == sync_channel_;
  };
  const std::int32_t shift = static_cast<std::int32_t>(s) * stride_;
  auto& ref = stations_[0];
  std::size_t i = st.raw_at;
  if (s == 0) {
    for (; i < st.raw.size(); ++i) {
      const hal::Tag& t = st.raw[i];
      if (is_sync(t)) {
        sync0_.push_back(t.time_ps);
        ++st.syncs;
      }
      st.aligned.push_back(t);
      st.last = t.time_ps;
    }
  } else {
    if (!st.anchored) {
      // Tags before this station's first sync take the first syncs' difference.
      auto first = std::find_if(st.raw.begin() + static_cast<std::ptrdiff_t>(i), st.raw.end(), is_sync);
      if (first != st.raw.end() && ref.syncs > 0 && sync0_base_ == 0) {
        st.anchor = sync0_.front() - first->time_ps;
        st.anchored = true;
      } else if (!flush) {
        return;
      }
    }
    for (; i < st.raw.size(); ++i) {
      hal::Tag t = st.raw[i];
      if (is_sync(t)) {
        if (st.syncs >= ref.syncs) {
          if (!flush) break;  // station 0's sync of this index has not arrived yet
        } else {
          st.anchor = sync0_[static_cast<std::size_t>(st.syncs - sync0_base_)] - t.time_ps;
        }
        ++st.syncs;
        st.last = t.time_ps + st.anchor;
        continue;  // the merged stream carries station 0's sync only
      }
      t.time_ps += st.anchor;
      t.channel += shift;
      st.aligned.push_back(t);
      st.last = t.time_ps;
    }
  }
  st.raw_at = i;
  if (st.raw_at == st.raw.size()) {
    st.raw.clear();
    st.raw_at = 0;
  }
  // Station 0's syncs below every other station's count are no longer needed.
  std::uint64_t need = ref.syncs;
  for (std::size_t k = 1; k < stations_.size(); ++k) need = std::min(need, stations_[k].syncs);
  while (sync0_base_ < need && !sync0_.empty()) {
    sync0_.pop_front();
    ++sync0_base_;
  }
}

void SyncMerger::pop(hal::TagBlock& out) {
  bool all_ended = true;
  for (const auto& st : stations_) all_ended = all_ended && st.ended;
  for (std::size_t s = 0; s < stations_.size(); ++s) align(s, all_ended);
  // Nothing a station may still send can precede its latest aligned time: emit what lies
  // before the earliest of those over the stations that have not ended.
  std::int64_t horizon = INT64_MAX;
  for (const auto& st : stations_)
    if (!(st.ended && st.raw_at == st.raw.size())) horizon = std::min(horizon, st.last);
  const bool everything = horizon == INT64_MAX;
  const std::size_t n = stations_.size();
  for (;;) {
    // The earliest head that may go, ties to the lower station.
    std::size_t best = n;
    for (std::size_t s = 0; s < n; ++s) {
      const auto& st = stations_[s];
      if (st.aligned_at == st.aligned.size()) continue;
      const std::int64_t t = st.aligned[st.aligned_at].time_ps;
      if (!everything && t >= horizon) continue;
      if (best == n || t < stations_[best].aligned[stations_[best].aligned_at].time_ps) best = s;
    }
    if (best == n) break;
    // Then the run of its tags that stays before every other head (one comparison per tag).
    std::int64_t limit = everything ? INT64_MAX : horizon;
    for (std::size_t s = 0; s < n; ++s)
      if (s != best && stations_[s].aligned_at < stations_[s].aligned.size())
        limit = std::min(limit, stations_[s].aligned[stations_[s].aligned_at].time_ps + (s > best ? 1 : 0));
    auto& st = stations_[best];
    std::size_t j = st.aligned_at + 1;
    while (j < st.aligned.size() && st.aligned[j].time_ps < limit) ++j;
    out.insert(out.end(), st.aligned.begin() + static_cast<std::ptrdiff_t>(st.aligned_at),
               st.aligned.begin() + static_cast<std::ptrdiff_t>(j));
    st.aligned_at = j;
  }
  for (auto& st : stations_)
    if (st.aligned_at == st.aligned.size()) {
      st.aligned.clear();
      st.aligned_at = 0;
    } else if (st.aligned_at > 65536 && st.aligned_at * 2 > st.aligned.size()) {
      st.aligned.erase(st.aligned.begin(), st.aligned.begin() + static_cast<std::ptrdiff_t>(st.aligned_at));
      st.aligned_at = 0;
    }
}

bool SyncMerger::finished() const {
  for (const auto& st : stations_)
    if (!st.ended || st.raw_at != st.raw.size() || st.aligned_at != st.aligned.size()) return false;
  return true;
}

std::uint64_t SyncMerger::pending(std::size_t s) const {
  const Station& st = stations_[s];
  return (st.raw.size() - st.raw_at) + (st.aligned.size() - st.aligned_at);
}

}  // namespace dira::station
