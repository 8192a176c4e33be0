// Merging station streams by sync index (station/merge.hpp). The expected merged stream is
// built independently: events are generated on one true time axis, each station sees them on
// its own skewed clock, and the expectation is simply every event on the true axis, sorted.
#include "dira/hal/device.hpp"
#include "dira/station/merge.hpp"
#include "dira/station/wire.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <tuple>

using namespace dira;

namespace {

struct Event {
  std::int64_t true_ps;
  std::size_t station;
  std::size_t order;  // within its station's stream
  hal::Tag local;     // as the station's tagger reports it
};

// `trials` trial-clock edges seen by every station; each station has detections on channels
// 2…5 inside a window after its sync. Station s's clock reads true + offset_s(k) during trial
// k: a fixed offset (±1 ms) plus a slow random walk (drift), constant within a trial.
std::vector<Event> apparatus(std::size_t stations, std::size_t trials, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> offset(stations, 0);
  for (std::size_t s = 1; s < stations; ++s) offset[s] = (s % 2 ? 1 : -1) * 1'000'000'000;  // ±1 ms
  std::vector<Event> ev;
  std::vector<std::size_t> order(stations, 0);
  const std::int64_t period = 100'000;
  for (std::size_t k = 0; k < trials; ++k) {
    for (std::size_t s = 0; s < stations; ++s) {
      if (s > 0) offset[s] += static_cast<std::int64_t>(rng() % 21) - 10;  // drift
      const std::int64_t sync = 5'000 + static_cast<std::int64_t>(k) * period;
      auto add = [&](std::int64_t t, int ch) {
        hal::Tag tag;
        tag.channel = ch;
        tag.time_ps = t + offset[s];
        ev.push_back({t, s, order[s]++, tag});
      };
      add(sync, 1);
      const int clicks = static_cast<int>(rng() % 3);
      std::int64_t t = sync + 9'000;
      for (int c = 0; c < clicks; ++c) {
        t += static_cast<std::int64_t>(rng() % 500);
        add(t, 2 + static_cast<int>(rng() % 4));
      }
    }
  }
  return ev;
}

hal::TagBlock expected(const std::vector<Event>& ev, int stride) {
  std::vector<const Event*> keep;
  for (const auto& e : ev)
    if (e.station == 0 || e.local.channel != 1) keep.push_back(&e);
  std::stable_sort(keep.begin(), keep.end(), [](const Event* a, const Event* b) {
    return std::tie(a->true_ps, a->station, a->order) < std::tie(b->true_ps, b->station, b->order);
  });
  hal::TagBlock out;
  for (const auto* e : keep) {
    hal::Tag t = e->local;
    t.time_ps = e->true_ps;
    t.channel += static_cast<int>(e->station) * stride;
    out.push_back(t);
  }
  return out;
}

// Pushes each station's stream in random-sized blocks of 1…`max_block` tags, interleaved at
// random (per-station delays; with `favour_last` the last open station is picked more often),
// popping as it goes. `push(merger, station, tags, first)` hands a block over: `first` is the
// index of its first tag in the station's stream.
template <class Push>
hal::TagBlock merge_interleaved(const std::vector<Event>& ev, std::size_t stations, std::uint64_t seed, int stride,
                                std::size_t max_block, bool favour_last, Push push) {
  std::vector<hal::TagBlock> streams(stations);
  for (const auto& e : ev) streams[e.station].push_back(e.local);
  station::SyncMerger m(stations, 1, stride);
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> at(stations, 0);
  hal::TagBlock out;
  for (;;) {
    std::vector<std::size_t> open;
    for (std::size_t s = 0; s < stations; ++s)
      if (at[s] < streams[s].size()) open.push_back(s);
    if (open.empty()) break;
    // Stations send at different rates (the last open one more often): different per-station delays.
    std::size_t s = open[rng() % open.size()];
    if (favour_last && rng() % 4 == 0) s = open.back();
    const std::size_t n = std::min<std::size_t>(1 + rng() % max_block, streams[s].size() - at[s]);
    push(m, s, std::span<const hal::Tag>(streams[s]).subspan(at[s], n), at[s]);
    at[s] += n;
    if (at[s] == streams[s].size()) m.end(s);
    m.pop(out);
  }
  m.pop(out);
  CHECK(m.finished());
  return out;
}

// Blocks of up to 200 tags pushed as tags (SyncMerger::push).
hal::TagBlock merge_randomly(const std::vector<Event>& ev, std::size_t stations, std::uint64_t seed, int stride) {
  return merge_interleaved(
      ev, stations, seed, stride, 200, true,
      [](station::SyncMerger& m, std::size_t s, std::span<const hal::Tag> tags, std::size_t) { m.push(s, tags); });
}

bool same(const hal::TagBlock& a, const hal::TagBlock& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].time_ps != b[i].time_ps || a[i].channel != b[i].channel || a[i].type != b[i].type) return false;
  return true;
}

}  // namespace

TEST_CASE("merge by sync index: clock offsets of ±1 ms, drift and per-station delays give the true stream",
          "[station][merge]") {
  for (std::size_t stations : {1u, 2u, 4u}) {
    const auto ev = apparatus(stations, 3000, 11 + stations);
    const auto want = expected(ev, 256);
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      INFO("stations " << stations << " seed " << seed);
      const auto got = merge_randomly(ev, stations, seed, 256);
      CHECK(got.size() == want.size());
      CHECK(same(got, want));
    }
  }
}

TEST_CASE("merge: a channel outside the stride is a hardware fault, nothing is emitted before station 0's sync",
          "[station][merge]") {
  station::SyncMerger m(2, 1, 16);
  hal::Tag bad;
  bad.channel = 16;
  CHECK_THROWS_AS(m.push(1, std::span(&bad, 1)), hal::HardwareFault);
  // Station 1 is ahead, station 0 has sent nothing: nothing may go out yet.
  hal::TagBlock s1(3);
  s1[0].channel = 1;
  s1[0].time_ps = 100;
  s1[1].channel = 2;
  s1[1].time_ps = 150;
  s1[2].channel = 1;
  s1[2].time_ps = 200;
  m.push(1, s1);
  hal::TagBlock out;
  m.pop(out);
  CHECK(out.empty());
  hal::TagBlock s0(2);
  s0[0].channel = 1;
  s0[0].time_ps = 1000;
  s0[1].channel = 3;
  s0[1].time_ps = 1020;
  m.push(0, s0);
  m.end(0);
  m.end(1);
  m.pop(out);
  // Station 1's tag at 150 is 50 ps after its first sync: 1050 on station 0's axis, channel 16 + 2.
  REQUIRE(out.size() == 3);
  CHECK(out[0].time_ps == 1000);
  CHECK(out[1].time_ps == 1020);
  CHECK(out[2].time_ps == 1050);
  CHECK(out[2].channel == 18);
  CHECK(m.offset(1) == -900);
}

TEST_CASE("merge: tag frames pushed whole (push_frame, decoded a chunk at a time) give the true stream",
          "[station][merge]") {
  const std::size_t stations = 2;
  const auto ev = apparatus(stations, 20000, 11);
  // Frames of up to 5000 tags: several of push_frame's 1024-tag chunks, cut anywhere.
  const hal::TagBlock out =
      merge_interleaved(ev, stations, 12, 256, 5000, false,
                        [](station::SyncMerger& m, std::size_t s, std::span<const hal::Tag> tags, std::size_t first) {
                          m.push_frame(s, station::encode_packed_tags(0, first, tags));
                        });
  CHECK(same(out, expected(ev, 256)));
}
