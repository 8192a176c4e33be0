// Wire format version 1 (station/include/dira/station/wire.hpp, docs/wire.md).
#include "dira/station/wire.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

using namespace dira;
using station::FrameKind;
using station::WireError;

namespace {

// Bit-at-a-time CRC-32 straight from its definition (reflected polynomial 0xEDB88320): a
// different algorithm from the slicing-by-8 implementation under test.
std::uint32_t crc32_bitwise(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

hal::TagBlock some_tags(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  hal::TagBlock t(n);
  std::int64_t time = 0;
  for (auto& tag : t) {
    time += static_cast<std::int64_t>(rng() % 100000);
    tag.type = hal::TagType::time_tag;
    tag.channel = static_cast<std::int32_t>(rng() % 64);
    tag.time_ps = time;
  }
  return t;
}

}  // namespace

TEST_CASE("crc32 is the IEEE CRC-32", "[station][wire]") {
  // Check value of CRC-32/ISO-HDLC in the CRC catalogue (Greg Cook's "Catalogue of parametrised
  // CRC algorithms"): "123456789" → 0xCBF43926.
  const std::string check = "123456789";
  CHECK(station::crc32({reinterpret_cast<const std::uint8_t*>(check.data()), check.size()}) == 0xCBF43926u);
  CHECK(station::crc32({}) == 0u);
  // Every length 0…67 (all alignments of the 8-byte loop and its tail), against the bitwise definition,
  // and continuing a CRC over a split buffer gives the CRC of the whole.
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buf(67);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t n = 0; n <= buf.size(); ++n) {
    const std::span<const std::uint8_t> s(buf.data(), n);
    CHECK(station::crc32(s) == crc32_bitwise(buf.data(), n));
    const std::size_t half = n / 3;
    CHECK(station::crc32(s.subspan(half), station::crc32(s.first(half))) == crc32_bitwise(buf.data(), n));
  }
}

TEST_CASE("frames round-trip: control, tags, settings", "[station][wire]") {
  const auto c = station::decode(station::encode_control(5, R"({"type":"hello","v":1})"));
  CHECK(c.kind == FrameKind::control);
  CHECK(c.sequence == 5);
  CHECK(c.text == R"({"type":"hello","v":1})");

  auto tags = some_tags(1000, 1);
  tags[3].type = hal::TagType::time_mark;
  tags[4].type = hal::TagType::missed_events;
  tags[4].missed = 17;
  tags[5].channel = -3;
  const auto f = station::encode_tags(9, 123456789012ull, tags);
  CHECK(f.size() == station::kHeaderBytes + 16 * tags.size());
  const auto t = station::decode(f);
  CHECK(t.kind == FrameKind::tags);
  CHECK(t.sequence == 9);
  CHECK(t.position == 123456789012ull);
  REQUIRE(t.tags.size() == tags.size());
  CHECK(std::memcmp(t.tags.data(), tags.data(), tags.size() * sizeof(hal::Tag)) == 0);

  hal::TagBlock into{hal::Tag{}};
  std::uint64_t seq = 0;
  CHECK(station::decode_tags_into(f, seq, into) == 123456789012ull);
  CHECK(seq == 9);
  CHECK(into.size() == tags.size() + 1);  // appended
  CHECK(into.back().time_ps == tags.back().time_ps);

  const std::vector<std::uint8_t> settings{0, 1, 8, 3, 2};
  const auto s = station::decode(station::encode_settings(2, 4096, 1, settings));
  CHECK(s.kind == FrameKind::settings);
  CHECK(s.position == 4096);
  CHECK(s.party == 1);
  CHECK(s.settings == settings);

  const auto empty = station::decode(station::encode_tags(0, 0, {}));
  CHECK(empty.tags.empty());
}

TEST_CASE("a tampered frame is rejected: every byte, every bit position tried", "[station][wire]") {
  const auto tags = some_tags(64, 2);
  const auto good = station::encode_tags(1, 0, tags);
  // CRC-32 detects every error burst of ≤ 32 bits, so each single flipped bit — in the header
  // (magic, version, kind, sequence, position, length, checksum) or the payload — is caught.
  for (std::size_t i = 0; i < good.size(); ++i)
    for (std::uint8_t bit : {std::uint8_t{0x01}, std::uint8_t{0x10}, std::uint8_t{0x80}}) {
      auto bad = good;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ bit);
      INFO("byte " << i << " bit " << int(bit));
      CHECK_THROWS_AS(station::decode(bad), WireError);
      std::uint64_t seq = 0;
      hal::TagBlock out;
      CHECK_THROWS_AS(station::decode_tags_into(bad, seq, out), WireError);
      CHECK(out.empty());  // nothing of a rejected frame reaches the receiver
    }
  // Truncated, extended, and a different (valid) kind where tags are expected.
  CHECK_THROWS_AS(station::decode(std::span(good).first(good.size() - 1)), WireError);
  auto longer = good;
  longer.push_back(0);
  CHECK_THROWS_AS(station::decode(longer), WireError);
  CHECK_THROWS_AS(station::decode(std::span(good).first(10)), WireError);
  std::uint64_t seq = 0;
  hal::TagBlock out;
  CHECK_THROWS_AS(station::decode_tags_into(station::encode_control(0, "{}"), seq, out), WireError);
}

TEST_CASE("a frame with a valid checksum is still checked: version, kind, tag type", "[station][wire]") {
  auto reseal = [](std::vector<std::uint8_t> f) {
    std::memset(f.data() + 28, 0, 4);
    const std::uint32_t c = station::crc32(f);
    std::memcpy(f.data() + 28, &c, 4);
    return f;
  };
  auto f = station::encode_tags(0, 0, some_tags(4, 3));
  auto v2 = f;
  v2[4] = 2;
  CHECK_THROWS_WITH(station::decode(reseal(v2)), Catch::Contains("wire version 2"));
  auto k9 = f;
  k9[5] = 9;
  CHECK_THROWS_WITH(station::decode(reseal(k9)), Catch::Contains("unknown frame kind"));
  auto type = f;
  type[station::kHeaderBytes + 16] = 6;  // tag 1: no such TagType
  CHECK_THROWS_WITH(station::decode(reseal(type)), Catch::Contains("unknown type 6"));
  auto odd = f;
  odd.push_back(0);
  const std::uint32_t len = static_cast<std::uint32_t>(odd.size() - station::kHeaderBytes);
  std::memcpy(odd.data() + 24, &len, 4);
  CHECK_THROWS_WITH(station::decode(reseal(odd)), Catch::Contains("whole number of tags"));
}

TEST_CASE("sequence numbers: a lost or a replayed frame is an error", "[station][wire]") {
  station::SequenceCheck seq;
  seq.accept(0);
  seq.accept(1);
  CHECK_THROWS_WITH(seq.accept(1), Catch::Contains("repeats"));
  CHECK_THROWS_WITH(seq.accept(5), Catch::Contains("frames 2 to 4 are missing"));
  seq.accept(2);
  CHECK(seq.expected() == 3);
}
