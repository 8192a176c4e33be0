// The coordinator's hub against a hand-driven station link on 127.0.0.1 (station/coordinator.hpp):
// a tampered or replayed tag frame is rejected, reported (log and health record) and asked for
// again, and the stream continues without a hole; a silent station is reported lost.
#include "allocation_probe.hpp"
#include "dira/hal/device.hpp"
#include "dira/station/coordinator.hpp"
#include "dira/station/wire.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>

using namespace dira;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Log {
  std::mutex m;
  std::string text;
  station::LinkLog sink() {
    return [this](const std::string& s) {
      std::lock_guard<std::mutex> l(m);
      text += s + "\n";
    };
  }
  bool contains(const std::string& needle) {
    std::lock_guard<std::mutex> l(m);
    return text.find(needle) != std::string::npos;
  }
};

// Waits for a control message of `type` from the hub (skipping others), at most 5 s.
json expect(station::StationLink& link, const std::string& type) {
  std::vector<std::uint8_t> in;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end)
    if (link.receive(in, 20ms)) {
      const auto f = station::decode(in);
      if (f.kind != station::FrameKind::control) continue;
      const json j = json::parse(f.text);
      if (j.value("type", "") == type) return j;
    }
  FAIL("no " << type << " from the coordinator");
  return {};
}

hal::TagBlock tags(std::int64_t from, int n) {
  hal::TagBlock t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    t[static_cast<std::size_t>(i)].channel = 2;
    t[static_cast<std::size_t>(i)].time_ps = from + i;
  }
  return t;
}

std::size_t take_all(station::StationHub& hub, std::size_t want, std::chrono::milliseconds limit = 3s) {
  std::vector<std::vector<hal::Tag>> blocks;
  std::vector<bool> ended;
  std::size_t got = 0;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (got < want && std::chrono::steady_clock::now() < end) {
    hub.take(blocks, ended, 20ms);
    for (auto& b : blocks) {
      got += b.size();
      b.clear();
    }
  }
  return got;
}

// Says hello (control frame 0 of the connection) until the hub welcomes, at most 50 tries of
// 100 ms (the connection comes up in the background); returns the welcome, or null if none came.
// `in_order`, if given, checks the welcome's sequence number (the first of the hub's frames).
json hello_until_welcomed(station::StationLink& link,
                          const std::string& hello = R"({"type":"hello","v":1,"settings_for":[]})",
                          station::SequenceCheck* in_order = nullptr) {
  std::vector<std::uint8_t> in;
  for (int i = 0; i < 50; ++i) {
    (void)link.send(station::encode_control(0, hello));
    if (!link.receive(in, 100ms)) continue;
    const auto f = station::decode(in);
    if (f.kind != station::FrameKind::control) continue;
    json j = json::parse(f.text);
    if (j.value("type", "") != "welcome") continue;
    if (in_order) in_order->accept(f.sequence);
    return j;
  }
  return {};
}

// Takes from the hub until take() throws a hardware fault, at most `limit`; its message, or empty.
std::string fault_of_take(station::StationHub& hub, std::chrono::milliseconds limit = 3s) {
  std::vector<std::vector<hal::Tag>> blocks;
  std::vector<bool> ended;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) try {
      hub.take(blocks, ended, 20ms);
    } catch (const hal::HardwareFault& e) {
      return e.what();
    }
  return {};
}

/// A hub on a free loopback port for one station, alice, at a 100 ms heartbeat, logging to `log`.
station::HubConfig alice_hub(const station::KeyPair& coordinator, const station::KeyPair& alice, Log& log) {
  station::HubConfig hc;
  hc.listen = "tcp://127.0.0.1:*";
  hc.key = coordinator;
  hc.stations = {{"alice", alice.public_key}};
  hc.heartbeat = 100ms;
  hc.connect_timeout = 5s;
  hc.log = log.sink();
  return hc;
}

// A hub for alice (alice_hub) and alice's hand-driven link to it, after hello_until_welcomed.
struct AliceConnected {
  station::KeyPair ck = station::generate_key_pair();
  station::KeyPair ak = station::generate_key_pair();
  Log log;
  station::StationHub hub{alice_hub(ck, ak, log)};
  station::StationLink link{hub.endpoint(), ck.public_key, ak, nullptr};
  json welcome = hello_until_welcomed(link);
};

}  // namespace

TEST_CASE("hub: a tampered or replayed tag frame is rejected, reported and resent — nothing is lost",
          "[station][hub]") {
  const auto ck = station::generate_key_pair();
  const auto ak = station::generate_key_pair();
  Log log;
  const station::HubConfig hc = alice_hub(ck, ak, log);
  station::StationHub hub(hc);
  station::StationLink link(hub.endpoint(), ck.public_key, ak, nullptr);
  const json welcome = hello_until_welcomed(link);
  REQUIRE(welcome.value("type", "") == "welcome");
  CHECK(welcome["block"] == 0);
  hub.wait_connected();

  REQUIRE(link.send(station::encode_tags(0, 0, tags(0, 100))));
  CHECK(take_all(hub, 100) == 100);

  // Block 1 with one payload bit flipped on the way: refused, reported, asked for again.
  auto bad = station::encode_tags(1, 100, tags(100, 100));
  bad[station::kHeaderBytes + 40] ^= 0x04;
  REQUIRE(link.send(bad));
  const json resume = expect(link, "resume");
  CHECK(resume["block"] == 1);
  CHECK(resume["tag"] == 100);
  CHECK(log.contains("station alice: rejected a frame: checksum mismatch"));
  CHECK(take_all(hub, 1, 300ms) == 0);  // nothing of it reached the merge

  // The station resends block 1 from its file; then a replay of block 0 (valid checksum, old
  // sequence) is refused too.
  REQUIRE(link.send(station::encode_tags(1, 100, tags(100, 100))));
  CHECK(take_all(hub, 100) == 100);
  REQUIRE(link.send(station::encode_tags(0, 0, tags(0, 100))));
  CHECK(expect(link, "resume")["block"] == 2);
  CHECK(log.contains("block 0 at tag 0, expected block 2 at tag 200"));
  REQUIRE(link.send(station::encode_tags(2, 200, tags(200, 50))));
  CHECK(take_all(hub, 50) == 50);

  const auto h = hub.health();
  REQUIRE(h.size() == 1);
  CHECK(h[0].rejected_frames == 2);
  CHECK(h[0].tags == 250);

  // Silence: lost after two heartbeats; past the station timeout take() is a hardware fault.
  std::this_thread::sleep_for(300ms);
  CHECK(log.contains("station alice lost"));
  CHECK(hub.health()[0].link == station::LinkState::lost);
}

TEST_CASE("hub: a station away longer than the timeout is a hardware fault", "[station][hub]") {
  const auto ck = station::generate_key_pair();
  const auto ak = station::generate_key_pair();
  Log log;
  station::HubConfig hc = alice_hub(ck, ak, log);
  hc.heartbeat = 50ms;
  hc.station_timeout = 300ms;
  station::StationHub hub(hc);
  {
    station::StationLink link(hub.endpoint(), ck.public_key, ak, nullptr);
    (void)hello_until_welcomed(link);
    hub.wait_connected();
  }  // the station goes away
  std::vector<std::vector<hal::Tag>> blocks;
  std::vector<bool> ended;
  bool fault = false;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!fault && std::chrono::steady_clock::now() < end) try {
      hub.take(blocks, ended, 20ms);
    } catch (const hal::HardwareFault& e) {
      fault = true;
      CHECK(std::string(e.what()).find("station alice has been away for more than 300 ms") != std::string::npos);
    }
  CHECK(fault);
}

TEST_CASE("hub: stations that do not connect in time are named", "[station][hub]") {
  station::HubConfig hc;
  hc.listen = "tcp://127.0.0.1:*";
  hc.key = station::generate_key_pair();
  hc.stations = {{"alice", station::generate_key_pair().public_key}, {"bob", station::generate_key_pair().public_key}};
  hc.connect_timeout = 200ms;
  station::StationHub hub(hc);
  CHECK_THROWS_WITH(hub.wait_connected(), Catch::Contains("alice, bob"));
}

namespace dira::station::detail {
void remember_hub(const std::string& listen, const std::shared_ptr<StationHub>& hub);  // coordinator.cpp
}

// The health the GUI reads (station/health.hpp): a station that comes back with blocks in its
// file the coordinator has not received is backfilling until they arrived, its backlog is what
// it reported acquiring minus what arrived, and what arrived waits as unmerged until taken.
TEST_CASE("hub: health for the GUI — backlog, backfill, tag rate, station_health()", "[station][hub]") {
  const auto ck = station::generate_key_pair();
  const auto ak = station::generate_key_pair();
  Log log;
  const station::HubConfig hc = alice_hub(ck, ak, log);
  auto hub = std::make_shared<station::StationHub>(hc);
  CHECK(station::station_health().empty());  // this hub is not a run's yet
  station::detail::remember_hub(hub->endpoint(), hub);
  {
    const auto h = station::station_health();
    REQUIRE(h.size() == 1);
    CHECK(h[0].name == "alice");
    CHECK(h[0].link == station::LinkState::waiting);
    CHECK(h[0].heartbeat_age_s == -1);
  }
  station::StationLink link(hub->endpoint(), ck.public_key, ak, nullptr);
  // A station whose file already holds 3 blocks of 100 tags (restarted after the coordinator lost it).
  const json welcome = hello_until_welcomed(link, R"({"type":"hello","v":1,"settings_for":[],"blocks":3,"tags":300})");
  REQUIRE(welcome.value("type", "") == "welcome");
  {
    const auto h = hub->health();
    CHECK(h[0].link == station::LinkState::connected);
    CHECK(h[0].backfill == station::Backfill::backfilling);
    CHECK(h[0].backfill_blocks_left == 3);
    CHECK(h[0].backfills == 1);
    CHECK(h[0].station_tags == 300);
    CHECK(h[0].backlog_tags == 300);
    CHECK(h[0].heartbeat_age_s >= 0);
  }
  for (int b = 0; b < 3; ++b) REQUIRE(link.send(station::encode_tags(b, 100 * b, tags(100 * b, 100))));
  // Wait until the three blocks arrived (without taking them).
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (hub->health()[0].tags < 300 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  {
    const auto h = station::station_health();
    REQUIRE(h.size() == 1);
    CHECK(h[0].tags == 300);
    CHECK(h[0].backfill == station::Backfill::complete);
    CHECK(h[0].backfill_blocks_left == 0);
    CHECK(h[0].backlog_tags == 0);
    CHECK(h[0].unmerged_tags == 300);  // received, not yet taken
  }
  CHECK(log.contains("station alice caught up from its file"));
  CHECK(take_all(*hub, 300) == 300);
  CHECK(hub->health()[0].unmerged_tags == 0);
  // The rate is measured over windows of ≥ 0.5 s: 300 tags arrived in one window, so the
  // rate that window reports is in (0, 300 / 0.5].
  double rate = 0;
  const auto rate_until = std::chrono::steady_clock::now() + 3s;
  while (rate == 0 && std::chrono::steady_clock::now() < rate_until) {
    rate = hub->health()[0].tag_rate;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(rate > 0);
  CHECK(rate <= 600);
  // The report's record names the enums.
  const json j = station::health_json(hub->health());
  CHECK(j[0]["station"] == "alice");
  CHECK(j[0]["backfill"] == "complete");
  CHECK(j[0]["backfills"] == 1);
  CHECK(j[0]["tags_received"] == 300);
}

TEST_CASE("hub: settings and stop queued by the session's threads arrive in sequence among the hub's own heartbeats",
          "[station][hub]") {
  // The scheduler queues settings (and the session start/stop) from its own threads while the
  // hub's I/O thread sends heartbeats: every frame must reach the station numbered in the order
  // it arrives, or the station refuses it (docs/wire.md, "Sequence"). A 5 ms heartbeat and a
  // batch of settings every millisecond make a heartbeat fall between queueing and sending
  // hundreds of times (the old hub numbered frames when queued: the heartbeat overtook them).
  const auto ck = station::generate_key_pair();
  const auto ak = station::generate_key_pair();
  Log log;
  station::HubConfig hc = alice_hub(ck, ak, log);
  hc.heartbeat = 5ms;
  station::StationHub hub(hc);
  station::StationLink link(hub.endpoint(), ck.public_key, ak, nullptr);
  station::SequenceCheck in_order;
  const bool welcomed =
      !hello_until_welcomed(link, R"({"type":"hello","v":1,"settings_for":[0]})", &in_order).is_null();
  std::uint64_t out = 1;  // the hello was control frame 0
  std::vector<std::uint8_t> in;
  REQUIRE(welcomed);
  hub.wait_connected();

  std::size_t refused = 0, settings_frames = 0;
  bool stopped = false;
  auto drain = [&](std::chrono::milliseconds wait) {
    while (link.receive(in, wait)) {
      const auto f = station::decode(in);
      try {
        in_order.accept(f.sequence);
      } catch (const station::WireError&) {
        ++refused;
      }
      if (f.kind == station::FrameKind::settings) ++settings_frames;
      if (f.kind == station::FrameKind::control && json::parse(f.text).value("type", "") == "stop") stopped = true;
      wait = 0ms;
    }
  };
  const std::vector<std::uint8_t> batch(64, 1);
  constexpr int kBatches = 400;
  std::thread scheduler([&] {
    for (int k = 0; k < kBatches; ++k) {
      hub.send_settings(0, static_cast<std::uint64_t>(k) * batch.size(), batch);
      std::this_thread::sleep_for(1ms);
    }
    hub.stop();
  });
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!stopped && std::chrono::steady_clock::now() < end) {
    (void)link.send(station::encode_control(out++, R"({"type":"heartbeat","tags":0,"blocks":0})"));
    drain(2ms);
  }
  scheduler.join();
  CHECK(stopped);
  CHECK(settings_frames == kBatches);
  CHECK(refused == 0);
}

// A tag frame whose checksum is right but whose tags do not decode was written so by the
// station's encoder (into its record too): a resend would bring the same bytes, so the run ends
// as a hardware fault naming the station, instead of asking for it forever.
TEST_CASE("hub: a block that passes its checksum but does not decode ends the run as a hardware fault",
          "[station][hub]") {
  AliceConnected t;
  auto [hub, link, welcome, log] = std::tie(t.hub, t.link, t.welcome, t.log);
  REQUIRE(welcome.value("type", "") == "welcome");
  hub.wait_connected();
  // Tag 0's header byte (the payload's fifth byte) made 0x81, which no tag has; checksum resealed.
  auto f = station::encode_packed_tags(0, 0, tags(0, 100));
  f[station::kHeaderBytes + 4] = 0x81;
  std::memset(f.data() + 28, 0, 4);
  const std::uint32_t c = station::frame_checksum(f[4], f);
  std::memcpy(f.data() + 28, &c, 4);
  REQUIRE(link.send(f));
  const std::string fault = fault_of_take(hub);
  CHECK(fault.find("station alice sent a block whose checksum is right but whose tags do not decode") !=
        std::string::npos);
  CHECK(fault.find("header byte 129") != std::string::npos);
}

// The same from a peer that forges the count: a 16 MiB packed frame claiming the 8 Mi tags its
// length allows (2 bytes a tag), whose first tag is already malformed. take() makes room for
// the tags as they decode, never for the claim at once (it used to zero-fill 128 MiB first).
TEST_CASE("hub: take() makes no room for a forged tag count before the tags decode", "[station][hub]") {
  AliceConnected t;
  auto [hub, link, welcome, log] = std::tie(t.hub, t.link, t.welcome, t.log);
  REQUIRE(welcome.value("type", "") == "welcome");
  hub.wait_connected();
  std::vector<std::uint8_t> f = station::encode_packed_tags(0, 0, {});
  f.resize(station::kHeaderBytes + station::kMaxPayload, 0x00);
  const auto claim = static_cast<std::uint32_t>((station::kMaxPayload - 4) / 2);
  std::memcpy(f.data() + station::kHeaderBytes, &claim, 4);
  f[station::kHeaderBytes + 4] = 0x81;  // tag 0's header byte: no tag has it
  std::memcpy(f.data() + 24, &station::kMaxPayload, 4);
  std::memset(f.data() + 28, 0, 4);
  const std::uint32_t c = station::frame_checksum(f[4], f);
  std::memcpy(f.data() + 28, &c, 4);
  REQUIRE(link.send(f));
  station::testing::AllocationProbe probe;  // this thread's: take()'s, not the hub's receiving thread
  const std::string fault = fault_of_take(hub, 10s);
  CHECK(fault.find("station alice sent a block whose checksum is right but whose tags do not decode") !=
        std::string::npos);
  CHECK(fault.find("header byte 129") != std::string::npos);
  CHECK(probe.largest() <= f.size());
}

// Flow control (docs/wire.md): a station may start a block only below the credit it was
// granted (a block may run past it by its own size). A block that starts at or past it comes
// from a station that ignores flow control, or is forged, and would let the peer make the
// coordinator hold any number of frames: the hub drops it unheld and the run ends as a hardware
// fault naming the station. Nothing is taken before, so the credit stays the welcome's.
TEST_CASE("hub: a block starting at or past the station's credit ends the run as a hardware fault", "[station][hub]") {
  AliceConnected t;
  auto [hub, link, welcome, log] = std::tie(t.hub, t.link, t.welcome, t.log);
  REQUIRE(welcome.value("type", "") == "welcome");
  hub.wait_connected();
  const auto credit = welcome.value("credit", std::uint64_t{0});
  REQUIRE(credit > 1);
  const auto n = static_cast<int>(credit - 1);
  // Block 0 ends one tag short of the credit; block 1 starts below it and runs past it (allowed);
  // block 2 starts past it.
  REQUIRE(link.send(station::encode_packed_tags(0, 0, tags(0, n))));
  REQUIRE(link.send(station::encode_packed_tags(1, credit - 1, tags(n, 2))));
  REQUIRE(link.send(station::encode_packed_tags(2, credit + 1, tags(n + 2, 1))));
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (hub.health()[0].rejected_frames == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  const auto h = hub.health();
  CHECK(h[0].rejected_frames == 1);
  CHECK(h[0].tags == credit + 1);  // blocks 0 and 1 were received; block 2 was not
  const std::string fault = fault_of_take(hub);
  CHECK(fault.find("station alice sent block 2 starting at tag " + std::to_string(credit + 1) +
                   ", at or past the credit of " + std::to_string(credit)) != std::string::npos);
  CHECK(log.contains("does not obey flow control"));
}
