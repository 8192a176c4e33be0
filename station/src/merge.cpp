// Merging station streams by sync index (merge.hpp; docs/stations.md, "Merging").
#include "dira/station/merge.hpp"

#include "dira/hal/device.hpp"
#include "dira/station/wire.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace dira::station {

TagQueue::TagQueue(TagQueue&& o) noexcept : buf_(o.buf_), begin_(o.begin_), end_(o.end_), cap_(o.cap_) {
  o.buf_ = nullptr;
  o.begin_ = o.end_ = o.cap_ = 0;
}

TagQueue& TagQueue::operator=(TagQueue&& o) noexcept {
  if (this != &o) {
    std::free(buf_);
    buf_ = o.buf_;
    begin_ = o.begin_;
    end_ = o.end_;
    cap_ = o.cap_;
    o.buf_ = nullptr;
    o.begin_ = o.end_ = o.cap_ = 0;
  }
  return *this;
}

TagQueue::~TagQueue() {
  std::free(buf_);
}

void TagQueue::append(const hal::Tag* tags, std::size_t n) {
  if (n == 0) return;
  std::memcpy(static_cast<void*>(room(n)), tags, n * sizeof(hal::Tag));
  end_ += n;
}

void TagQueue::make_room(std::size_t n) {
  const std::size_t live = size();
  // What is queued moves to the front when that leaves room and the move is cheap against
  // what was consumed (at most as many tags moved as were consumed): amortised O(1) per tag.
  if (begin_ > 0 && live + n <= cap_ && live <= begin_) {
    std::memmove(static_cast<void*>(buf_), buf_ + begin_, live * sizeof(hal::Tag));
    begin_ = 0;
    end_ = live;
    return;
  }
  const std::size_t cap = std::max({live + n, 2 * cap_, std::size_t{4096}});
  auto* fresh = static_cast<hal::Tag*>(std::malloc(cap * sizeof(hal::Tag)));
  if (!fresh) throw std::bad_alloc();
  if (live) std::memcpy(static_cast<void*>(fresh), buf_ + begin_, live * sizeof(hal::Tag));
  std::free(buf_);
  buf_ = fresh;
  cap_ = cap;
  begin_ = 0;
  end_ = live;
}

SyncMerger::SyncMerger(std::size_t stations, int sync_channel, int channel_stride)
    : stations_(stations), sync_channel_(sync_channel), stride_(channel_stride) {
  if (stations == 0) throw std::invalid_argument("merging needs at least one station");
  if (channel_stride < 1) throw std::invalid_argument("channel stride must be at least 1");
}

void SyncMerger::push(std::size_t s, std::span<const hal::Tag> tags) {
  auto& st = stations_.at(s);
  // One branch-free pass (an unsigned comparison catches negative channels too); the message
  // is built only when it fails.
  bool outside = false;
  const auto stride = static_cast<std::uint32_t>(stride_);
  for (const auto& t : tags) outside |= static_cast<std::uint32_t>(t.channel) >= stride;
  if (outside)
    for (const auto& t : tags)
      if (t.channel < 0 || t.channel >= stride_)
        throw hal::HardwareFault("station " + std::to_string(s) + " sent channel " + std::to_string(t.channel) +
                                 ", outside [0, " + std::to_string(stride_) +
                                 "): it would collide with another station's");
  if (!st.raw.empty()) {  // earlier tags still wait for station 0's syncs: queue behind them
    st.raw.append(tags.data(), tags.size());
    align(s, false);
    return;
  }
  // The usual case: aligned straight from the caller's block (no copy into raw); only what
  // waits for station 0's syncs is kept.
  const std::size_t used = align_tags(s, tags.data(), tags.size(), false);
  if (used < tags.size()) st.raw.append(tags.data() + used, tags.size() - used);
}

void SyncMerger::push_frame(std::size_t s, std::span<const std::uint8_t> frame) {
  constexpr std::size_t kChunk = 1024;  // tags (16 KiB): decoded and aligned while in L1
  auto& st = stations_.at(s);
  TagFrameReader r(frame, true);
  for (;;) {
    if (st.raw.empty() && (s == 0 || st.anchored)) {
      // The usual case: decoded straight into the free end of the station's aligned queue and
      // aligned there in place (align_tags writes each tag at or before where it read it, and
      // the room made here is what it asks for, so nothing moves); what must wait for station
      // 0's syncs is copied to raw from where it was decoded.
      hal::Tag* at = st.aligned.room(kChunk);
      const std::size_t n = r.read(at, kChunk);
      if (n == 0) return;
      push(s, std::span<const hal::Tag>(at, n));
    } else {  // tags already wait (or the station has no anchor yet): decoded aside, queued behind them
      if (scratch_.size() < kChunk) scratch_.resize(kChunk);
      const std::size_t n = r.read(scratch_.data(), kChunk);
      if (n == 0) return;
      push(s, std::span<const hal::Tag>(scratch_.data(), n));
    }
  }
}

void SyncMerger::end(std::size_t s) {
  stations_.at(s).ended = true;
}

void SyncMerger::align(std::size_t s, bool flush) {
  auto& st = stations_[s];
  if (!st.raw.empty()) st.raw.pop_front(align_tags(s, st.raw.begin(), st.raw.size(), flush));
}

std::size_t SyncMerger::align_tags(std::size_t s, const hal::Tag* tags, std::size_t n, bool flush) {
  auto& st = stations_[s];
  const auto is_sync = [&](const hal::Tag& t) {
    return t.type == hal::TagType::time_tag && t.channel == sync_channel_;
  };
  const std::int32_t shift = static_cast<std::int32_t>(s) * stride_;
  auto& ref = stations_[0];
  std::size_t i = 0;
  if (s == 0) {
    // Copied as they are (unless push_frame decoded them in place), their syncs noted on the way.
    hal::Tag* o = st.aligned.room(n);
    if (o != tags) std::memcpy(static_cast<void*>(o), tags, n * sizeof(hal::Tag));
    for (; i < n; ++i) {
      if (is_sync(tags[i])) {
        sync0_.push_back(tags[i].time_ps);
        ++st.syncs;
      }
    }
    st.aligned.commit(n);
    if (n) st.last = tags[n - 1].time_ps;
  } else {
    if (!st.anchored) {
      // Tags before this station's first sync take the first syncs' difference.
      const hal::Tag* first = std::find_if(tags, tags + n, is_sync);
      if (first != tags + n && ref.syncs > 0 && sync0_base_ == 0) {
        st.anchor = sync0_.front() - first->time_ps;
        st.anchored = true;
      } else if (!flush) {
        return 0;
      }
    }
    // Written through a pointer into room made first (push_back's size update per tag was a
    // store-to-load chain), then cut to what was written.
    hal::Tag* const o0 = st.aligned.room(n);
    hal::Tag* o = o0;
    std::int64_t anchor = st.anchor, last = st.last;
    for (; i < n; ++i) {
      hal::Tag t = tags[i];
      if (is_sync(t)) {
        if (st.syncs >= ref.syncs) {
          if (!flush) break;  // station 0's sync of this index has not arrived yet
        } else {
          anchor = sync0_[static_cast<std::size_t>(st.syncs - sync0_base_)] - t.time_ps;
        }
        ++st.syncs;
        last = t.time_ps + anchor;
        continue;  // the merged stream carries station 0's sync only
      }
      t.time_ps += anchor;
      t.channel += shift;
      *o++ = t;
      last = t.time_ps;
    }
    st.anchor = anchor;
    st.last = last;
    st.aligned.commit(static_cast<std::size_t>(o - o0));
  }
  // Station 0's syncs below every other station's count are no longer needed.
  std::uint64_t need = ref.syncs;
  for (std::size_t k = 1; k < stations_.size(); ++k) need = std::min(need, stations_[k].syncs);
  while (sync0_base_ < need && !sync0_.empty()) {
    sync0_.pop_front();
    ++sync0_base_;
  }
  return i;
}

void SyncMerger::pop(hal::TagBlock& out) {
  bool all_ended = true;
  for (const auto& st : stations_) all_ended = all_ended && st.ended;
  for (std::size_t s = 0; s < stations_.size(); ++s) align(s, all_ended);
  // Nothing a station may still send can precede its latest aligned time: emit what lies
  // before the earliest of those over the stations that have not ended.
  std::int64_t horizon = INT64_MAX;
  for (const auto& st : stations_)
    if (!(st.ended && st.raw.empty())) horizon = std::min(horizon, st.last);
  const bool everything = horizon == INT64_MAX;
  const std::size_t n = stations_.size();
  // A k-way merge, one tag at a time: with several stations the streams interleave within
  // every trial (runs of one or two tags), so per-run bookkeeping would cost more than the
  // tags. The earliest head goes first, ties to the lower station; a head at or after the
  // horizon waits (it may still be preceded).
  constexpr std::size_t kInline = 8;
  const hal::Tag* head_buf[kInline];
  const hal::Tag* end_buf[kInline];
  std::vector<const hal::Tag*> head_vec, end_vec;
  const hal::Tag** head = head_buf;
  const hal::Tag** end = end_buf;
  if (n > kInline) {
    head_vec.resize(n);
    end_vec.resize(n);
    head = head_vec.data();
    end = end_vec.data();
  }
  // What may go from each station: its queue up to the first tag at or after the horizon (a
  // head there waits, and the station's later tags wait behind it).
  std::size_t avail = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const auto& st = stations_[s];
    const hal::Tag* h = st.aligned.begin();
    const hal::Tag* e = st.aligned.end();
    if (!everything) e = std::find_if(h, e, [&](const hal::Tag& t) { return t.time_ps >= horizon; });
    head[s] = h;
    end[s] = e;
    avail += static_cast<std::size_t>(e - h);
  }
  // Written through a pointer into room made a chunk at a time (resize zero-fills it; a chunk
  // is still in the cache when the tags are written over it).
  const std::size_t total = out.size() + avail;
  if (out.capacity() < total) out.reserve(std::max(total, 2 * out.capacity()));
  constexpr std::size_t kChunk = 4096;
  while (out.size() < total) {
    const std::size_t done = out.size();
    out.resize(std::min(total, done + kChunk));
    hal::Tag* o = out.data() + done;
    hal::Tag* const oe = out.data() + out.size();
    if (n == 2) {
      const hal::Tag *a = head[0], *ae = end[0], *b = head[1], *be = end[1];
      while (o < oe && a < ae && b < be) *o++ = b->time_ps < a->time_ps ? *b++ : *a++;
      head[0] = a;
      head[1] = b;
    } else if (n > 2) {
      while (o < oe) {
        std::size_t best = n;
        for (std::size_t s = 0; s < n; ++s)
          if (head[s] < end[s] && (best == n || head[s]->time_ps < head[best]->time_ps)) best = s;
        if (best == n) break;
        *o++ = *head[best]++;
      }
    }
    // Once every other station's range is used up, the one left goes in order (with one
    // station, all of it).
    for (std::size_t s = 0; s < n; ++s) {
      const auto k = std::min(end[s] - head[s], oe - o);
      o = std::copy(head[s], head[s] + k, o);
      head[s] += k;
    }
  }
  for (std::size_t s = 0; s < n; ++s) {
    auto& st = stations_[s];
    st.aligned.pop_front(static_cast<std::size_t>(head[s] - st.aligned.begin()));
  }
}

bool SyncMerger::finished() const {
  for (const auto& st : stations_)
    if (!st.ended || !st.raw.empty() || !st.aligned.empty()) return false;
  return true;
}

std::uint64_t SyncMerger::pending(std::size_t s) const {
  const Station& st = stations_[s];
  return st.raw.size() + st.aligned.size();
}

}  // namespace dira::station
