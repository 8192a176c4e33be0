#pragma once
/// @file merge.hpp
/// Merging the tag streams of several stations into one, by sync index (docs/stations.md,
/// "Merging"). Stations' clocks are independent (offsets, drift) and their streams arrive with
/// different delays, so absolute times cannot be compared; the k-th sync of every station is
/// the same trial clock edge. Station s's tags after its k-th sync are moved onto station 0's
/// time axis by (sync_0(k) − sync_s(k)); tags before its first sync by the first syncs'
/// difference. Station s's channel c becomes s · stride + c, and only station 0's syncs are
/// kept (the merged layout has one sync channel). Pure: no I/O, no threads.

#include "dira/hal/tag.hpp"

#include <climits>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace dira::station {

/// A FIFO of tags in one malloc'd buffer: appended at the back, consumed from the front, never
/// zero-filled. (std::vector<hal::Tag> zero-fills every resize — hal::Tag has default member
/// initialisers — which cost the merge a write of every tag before the real one, bench/README.md
/// "Stations". hal::Tag is an implicit-lifetime aggregate, so its objects begin in malloc'd
/// storage when written, as C++20 allows.)
class TagQueue {
 public:
  TagQueue() = default;
  TagQueue(TagQueue&& o) noexcept;
  TagQueue& operator=(TagQueue&& o) noexcept;
  TagQueue(const TagQueue&) = delete;
  TagQueue& operator=(const TagQueue&) = delete;
  ~TagQueue();
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }
  hal::Tag* begin() { return buf_ + begin_; }
  hal::Tag* end() { return buf_ + end_; }
  const hal::Tag* begin() const { return buf_ + begin_; }
  const hal::Tag* end() const { return buf_ + end_; }
  /// Room for `n` more tags at end() (what is queued may move); returns end().
  hal::Tag* room(std::size_t n) {
    if (end_ + n > cap_) make_room(n);
    return buf_ + end_;
  }
  /// The first `n` tags written at end() are queued.
  void commit(std::size_t n) { end_ += n; }
  void append(const hal::Tag* tags, std::size_t n);
  /// Drops the first `n` tags.
  void pop_front(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

 private:
  void make_room(std::size_t n);
  hal::Tag* buf_ = nullptr;
  std::size_t begin_ = 0, end_ = 0, cap_ = 0;
};

class SyncMerger {
 public:
  /// Throws std::invalid_argument for no stations, or a stride < 1.
  SyncMerger(std::size_t stations, int sync_channel, int channel_stride);

  /// Tags of station s in its own time order. Throws hal::HardwareFault for a channel outside
  /// [0, stride) (it would collide with another station's channels).
  void push(std::size_t s, std::span<const hal::Tag> tags);
  /// The tags of a tag frame of station s (kind 2 or 4, whose checksum the hub verified:
  /// StationHub::take_frames), decoded 1024 at a time straight into the free end of the
  /// station's aligned queue and aligned there in place (into a small buffer first while tags
  /// wait for station 0's syncs): the coordinator's hot path (bench/README.md, "Stations").
  /// Throws WireError for a payload that does not decode (the tags of the frame before the
  /// failing chunk are pushed; the run ends: undecodable_block), and what push() throws.
  void push_frame(std::size_t s, std::span<const std::uint8_t> frame);
  /// Station s's stream ended: it holds nothing back any more.
  void end(std::size_t s);
  /// Appends every tag that no later input can precede, in merged time order.
  void pop(hal::TagBlock& out);
  /// Every station ended and everything was popped.
  bool finished() const;
  /// Station s's clock minus station 0's at its latest merged sync (0 before its first).
  std::int64_t offset(std::size_t s) const { return stations_[s].anchor == 0 ? 0 : -stations_[s].anchor; }
  /// Station s's tags pushed and not yet popped (waiting for the other stations).
  std::uint64_t pending(std::size_t s) const;
  /// Syncs seen per station (station s's tags wait until station 0 has seen as many).
  std::uint64_t syncs(std::size_t s) const { return stations_[s].syncs; }

 private:
  struct Station {
    TagQueue raw;      // received, not yet aligned (waiting for station 0's syncs)
    TagQueue aligned;  // on station 0's axis, not yet merged
    std::uint64_t syncs = 0;
    std::int64_t anchor = 0;  // added to this station's times
    bool anchored = false;
    std::int64_t last = INT64_MIN;  // latest aligned time (what it can no longer precede)
    bool ended = false;
  };
  void align(std::size_t s, bool flush);
  /// Aligns station s's tags [tags, tags + n) onto station 0's axis (appended to its aligned
  /// queue) up to the first that must wait for station 0's syncs; returns how many it took.
  std::size_t align_tags(std::size_t s, const hal::Tag* tags, std::size_t n, bool flush);

  std::vector<Station> stations_;
  std::vector<hal::Tag> scratch_;  // push_frame's chunk
  int sync_channel_;
  int stride_;
  std::deque<std::int64_t> sync0_;  // station 0's sync times from index sync0_base_
  std::uint64_t sync0_base_ = 0;
};

}  // namespace dira::station
