// Keys and CurveZMQ links on 127.0.0.1 (station/keys.hpp, station/link.hpp; issue 14:
// "a client with an unlisted key is refused and logged").
#include "dira/station/keys.hpp"
#include "dira/station/link.hpp"
#include "dira/station/station.hpp"
#include "dira/station/wire.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace dira;
using namespace std::chrono_literals;

namespace {

std::filesystem::path scratch(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("dira-station-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

struct Log {
  std::mutex m;
  std::vector<std::string> lines;
  station::LinkLog sink() {
    return [this](const std::string& s) {
      std::lock_guard<std::mutex> l(m);
      lines.push_back(s);
    };
  }
  bool contains(const std::string& needle) {
    std::lock_guard<std::mutex> l(m);
    for (const auto& s : lines)
      if (s.find(needle) != std::string::npos) return true;
    return false;
  }
};

// Sends `frame` from `link` until the coordinator receives something, at most `limit`.
bool delivered(station::CoordinatorLink& c, station::StationLink& s, const std::vector<std::uint8_t>& frame,
               station::Delivery& got, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    (void)s.send(frame);
    std::vector<std::uint8_t> ignored;
    (void)s.receive(ignored, 1ms);  // lets the station read its monitor
    if (c.receive(got, 50ms)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("keygen: secret key 0600, never overwritten, public key readable", "[station][keys]") {
  const auto dir = scratch("keys");
  const auto keys = station::generate_key_pair();
  CHECK(station::is_z85_key(keys.public_key));
  CHECK(station::is_z85_key(keys.secret_key));
  station::write_key_pair(dir / "alice", keys, "station alice");
  struct stat st {};
  REQUIRE(::stat((dir / "alice.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto back = station::read_secret_key_file(dir / "alice.key");
  CHECK(back.public_key == keys.public_key);
  CHECK(back.secret_key == keys.secret_key);
  CHECK(station::read_public_key_file(dir / "alice.pub") == keys.public_key);
  CHECK_THROWS_WITH(station::read_secret_key_file(dir / "alice.pub"), Catch::Contains("no secret key"));
  // O_EXCL: a second keygen to the same name refuses and leaves the first pair intact.
  CHECK_THROWS_WITH(station::write_key_pair(dir / "alice", station::generate_key_pair(), "again"),
                    Catch::Contains("exists already"));
  CHECK(station::read_secret_key_file(dir / "alice.key").secret_key == keys.secret_key);
  // A secret key others may read is refused (as ssh does).
  ::chmod((dir / "alice.key").c_str(), 0640);
  CHECK_THROWS_WITH(station::read_secret_key_file(dir / "alice.key"), Catch::Contains("chmod 600"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("CurveZMQ: a listed station is admitted and named by its key — an unlisted key is refused and logged",
          "[station][link]") {
  const auto coordinator = station::generate_key_pair();
  const auto alice = station::generate_key_pair();
  const auto mallory = station::generate_key_pair();
  Log clog, alog, mlog;
  station::CoordinatorLink c("tcp://127.0.0.1:*", coordinator, {{"alice", alice.public_key}}, clog.sink());
  const std::string ep = c.endpoint();
  REQUIRE(ep.rfind("tcp://127.0.0.1:", 0) == 0);

  station::StationLink a(ep, coordinator.public_key, alice, alog.sink());
  station::Delivery got;
  // The message claims to come from "bob": the coordinator names it by the key that sent it.
  const auto hello = station::encode_control(0, R"({"type":"hello","station":"bob"})");
  REQUIRE(delivered(c, a, hello, got, 5000ms));
  CHECK(got.station == "alice");
  CHECK(station::decode(got.bytes).text == R"({"type":"hello","station":"bob"})");
  // And the coordinator can answer on that connection.
  REQUIRE(c.send(got.routing_id, station::encode_control(0, R"({"type":"welcome"})")));
  std::vector<std::uint8_t> reply;
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) answered = a.receive(reply, 50ms);
  REQUIRE(answered);
  CHECK(station::decode(reply).text == R"({"type":"welcome"})");

  station::StationLink m(ep, coordinator.public_key, mallory, mlog.sink());
  station::Delivery none;
  CHECK_FALSE(delivered(c, m, hello, none, 1500ms));
  CHECK(c.refused() >= 1);
  CHECK(clog.contains("refused a connection"));
  CHECK(clog.contains(mallory.public_key));
}

TEST_CASE("CurveZMQ: a station talks only to the coordinator whose key it holds", "[station][link]") {
  const auto coordinator = station::generate_key_pair();
  const auto impostor = station::generate_key_pair();
  const auto alice = station::generate_key_pair();
  Log clog, alog;
  // The impostor listens and would even admit alice's key, but lacks the coordinator's secret key.
  station::CoordinatorLink c("tcp://127.0.0.1:*", impostor, {{"alice", alice.public_key}}, clog.sink());
  station::StationLink a(c.endpoint(), coordinator.public_key, alice, alog.sink());
  station::Delivery got;
  CHECK_FALSE(delivered(c, a, station::encode_control(0, "{}"), got, 1500ms));
  CHECK(a.handshake_failures() >= 1);
  CHECK(alog.contains("handshake with the coordinator"));
}

// No frame is larger than its header and kMaxPayload (docs/wire.md), so neither side takes a
// larger message: ZeroMQ refuses it from its announced size, before allocating it, and drops
// the connection (which the station makes again); without the limit a peer could make the other
// side allocate any size before verify() refused it.
TEST_CASE("CurveZMQ: a message larger than the largest frame is dropped unread — the largest frame passes",
          "[station][link]") {
  const auto coordinator = station::generate_key_pair();
  const auto alice = station::generate_key_pair();
  station::CoordinatorLink c("tcp://127.0.0.1:*", coordinator, {{"alice", alice.public_key}}, nullptr);
  station::StationLink a(c.endpoint(), coordinator.public_key, alice, nullptr);
  const auto hello = station::encode_control(0, R"({"type":"hello"})");
  station::Delivery got;
  REQUIRE(delivered(c, a, hello, got, 5000ms));
  // The largest frame arrives whole (hellos that were still on their way are skipped).
  const std::vector<std::uint8_t> largest(station::kHeaderBytes + station::kMaxPayload, 0xCD);
  REQUIRE(a.send(largest));
  bool arrived = false;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!arrived && std::chrono::steady_clock::now() < until)
    arrived = c.receive(got, 50ms) && got.bytes.size() == largest.size();
  CHECK(arrived);
  // A kilobyte more never arrives: the next message the coordinator gets is a hello sent after it.
  REQUIRE(a.send(std::vector<std::uint8_t>(largest.size() + 1024, 0xAB)));
  REQUIRE(delivered(c, a, hello, got, 10000ms));
  CHECK(got.bytes.size() == hello.size());
}

// A station takes control and settings frames from its coordinator, never tags: a tag frame is
// refused before it is decoded. The one sent here is a valid packed frame of the most tags a
// payload holds (16 MiB of 2-byte tags): decoded, it filled 128 MiB and was then ignored.
TEST_CASE("station: a tag frame from the coordinator is refused unread", "[station][link]") {
  const auto coordinator = station::generate_key_pair();
  const auto alice = station::generate_key_pair();
  station::CoordinatorLink c("tcp://127.0.0.1:*", coordinator, {{"alice", alice.public_key}}, nullptr);
  const auto dir = scratch("coordinator-tags");
  station::StationConfig sc;
  sc.name = "alice";
  sc.coordinator = c.endpoint();
  sc.coordinator_key = coordinator.public_key;
  sc.key = alice;
  sc.file = dir / "alice.tags";
  sc.heartbeat = 100ms;
  sc.coordinator_timeout = 20s;
  Log slog;
  std::atomic<bool> interrupt{false};
  std::thread run([&] { (void)station::run_station(sc, {}, slog.sink(), &interrupt); });
  // Its hello, answered with a welcome (not started: no tagger is needed).
  station::Delivery hello;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until && !c.receive(hello, 50ms)) {
  }
  REQUIRE(!hello.bytes.empty());
  REQUIRE(c.send(hello.routing_id, station::encode_control(0, R"({"type":"welcome","v":1,"block":0,"tag":0})")));
  std::vector<std::uint8_t> f = station::encode_packed_tags(1, 0, {});
  f.resize(station::kHeaderBytes + station::kMaxPayload, 0x00);  // tags on channel 0 at time 0
  const auto count = static_cast<std::uint32_t>((station::kMaxPayload - 4) / 2);
  std::memcpy(f.data() + station::kHeaderBytes, &count, 4);
  std::memcpy(f.data() + 24, &station::kMaxPayload, 4);
  std::memset(f.data() + 28, 0, 4);
  const std::uint32_t crc = station::frame_checksum(f[4], f);
  std::memcpy(f.data() + 28, &crc, 4);
  REQUIRE(station::TagFrameReader(f).tags() == count);  // header, checksum and count as a valid frame's
  REQUIRE(c.send(hello.routing_id, f));
  const std::string refusal = "rejected a frame from the coordinator: a coordinator sends no tag frames";
  while (std::chrono::steady_clock::now() < until && !slog.contains(refusal)) std::this_thread::sleep_for(10ms);
  CHECK(slog.contains(refusal));
  interrupt = true;
  run.join();
  std::filesystem::remove_all(dir);
}
