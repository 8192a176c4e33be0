// Wire format versions 1 to 3 (station/include/dira/station/wire.hpp, docs/wire.md).
#include "dira/station/wire.hpp"

#include "allocation_probe.hpp"
#include "dira/station/merge.hpp"

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

// The same for CRC-32C (reflected polynomial 0x82F63B78): a different algorithm from both the
// SSE 4.2 instruction and the table under test.
std::uint32_t crc32c_bitwise(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
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

TEST_CASE("crc32c is CRC-32C (Castagnoli), the checksum of wire version 3", "[station][wire]") {
  // Check value of CRC-32/ISCSI in the CRC catalogue: "123456789" → 0xE3069283.
  const std::string check = "123456789";
  CHECK(station::crc32c({reinterpret_cast<const std::uint8_t*>(check.data()), check.size()}) == 0xE3069283u);
  CHECK(station::crc32c({}) == 0u);
  std::mt19937 rng(8);
  std::vector<std::uint8_t> buf(67);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t n = 0; n <= buf.size(); ++n) {
    const std::span<const std::uint8_t> s(buf.data(), n);
    CHECK(station::crc32c(s) == crc32c_bitwise(buf.data(), n));
    const std::size_t half = n / 3;
    CHECK(station::crc32c(s.subspan(half), station::crc32c(s.first(half))) == crc32c_bitwise(buf.data(), n));
  }
  // Long buffers go three lanes at a time (12 KiB a stretch, joined by a shift table): every
  // length around a stretch's end, and chained calls, against the bitwise definition.
  std::vector<std::uint8_t> big(2 * 3 * 4096 + 100);
  for (auto& b : big) b = static_cast<std::uint8_t>(rng());
  for (std::size_t n : {std::size_t{3 * 4096 - 1}, std::size_t{3 * 4096}, std::size_t{3 * 4096 + 1},
                        std::size_t{3 * 4096 + 8}, std::size_t{2 * 3 * 4096}, big.size()}) {
    const std::span<const std::uint8_t> s(big.data(), n);
    CHECK(station::crc32c(s) == crc32c_bitwise(big.data(), n));
    CHECK(station::crc32c(s.subspan(7), station::crc32c(s.first(7))) == crc32c_bitwise(big.data(), n));
  }
  // Frames: version 3 is sealed with CRC-32C, versions 1 and 2 with CRC-32 (both over the header
  // with its checksum field zero, then the payload).
  auto f = station::encode_tags(0, 0, some_tags(4, 3));
  REQUIRE(f[4] == 3);
  std::uint32_t stored = 0;
  std::memcpy(&stored, f.data() + 28, 4);
  auto zeroed = f;
  std::memset(zeroed.data() + 28, 0, 4);
  CHECK(stored == crc32c_bitwise(zeroed.data(), zeroed.size()));
  auto d = station::decode(f);
  d.version = 2;
  const auto v2 = station::encode(d);
  std::memcpy(&stored, v2.data() + 28, 4);
  zeroed = v2;
  std::memset(zeroed.data() + 28, 0, 4);
  CHECK(stored == crc32_bitwise(zeroed.data(), zeroed.size()));
  CHECK(station::decode(v2).version == 2);
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
    const std::uint32_t c = station::frame_checksum(f[4], f);
    std::memcpy(f.data() + 28, &c, 4);
    return f;
  };
  auto f = station::encode_tags(0, 0, some_tags(4, 3));
  auto v4 = f;
  v4[4] = 4;
  CHECK_THROWS_WITH(station::decode(reseal(v4)), Catch::Contains("wire version 4"));
  auto v0 = f;
  v0[4] = 0;
  CHECK_THROWS_WITH(station::decode(reseal(v0)), Catch::Contains("wire version 0"));
  auto control = station::encode_control(0, "{}");
  control[16] = 5;  // a control frame has no stream position (found by fuzzing: it decoded, but
                    // encoded back with position 0 — two encodings of one frame)
  CHECK_THROWS_WITH(station::decode(reseal(control)), Catch::Contains("control frame with position 5"));
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

namespace {
std::vector<std::uint8_t> reseal(std::vector<std::uint8_t> f) {
  std::memset(f.data() + 28, 0, 4);
  const std::uint32_t c = station::frame_checksum(f[4], f);
  std::memcpy(f.data() + 28, &c, 4);
  return f;
}
std::vector<std::uint8_t> payload_of(const std::vector<std::uint8_t>& f) {
  return {f.begin() + station::kHeaderBytes, f.end()};
}
// A packed frame with `payload` in place of the encoder's (length fixed, checksum resealed),
// so only the payload rules are under test.
std::vector<std::uint8_t> packed_with(const std::vector<std::uint8_t>& payload) {
  auto f = station::encode_packed_tags(0, 0, {});
  f.resize(station::kHeaderBytes);
  f.insert(f.end(), payload.begin(), payload.end());
  const std::uint32_t len = static_cast<std::uint32_t>(payload.size());
  std::memcpy(f.data() + 24, &len, 4);
  return reseal(f);
}
}  // namespace

TEST_CASE("packed tags (version 2): the bytes of a small block, derived by hand from docs/wire.md", "[station][wire]") {
  // Tags: channel 1 at 0, channel 2 at 5000, a time mark on channel 0 at 10000, channel 3 at
  // 9999 (earlier: a negative difference). By hand: count 4 (u32 LE); 01 + zigzag(0) = 00;
  // 02 + zigzag(5000) = 10000 = 0x2710 → LEB128 90 4E; 80, type 05, reserved 00, missed 00 00,
  // channel 00 00 00 00, then 90 4E; 03 + zigzag(−1) = 1 → 01.
  hal::TagBlock tags(4);
  tags[0].channel = 1;
  tags[1].channel = 2;
  tags[1].time_ps = 5000;
  tags[2].type = hal::TagType::time_mark;
  tags[2].channel = 0;
  tags[2].time_ps = 10000;
  tags[3].channel = 3;
  tags[3].time_ps = 9999;
  const auto f = station::encode_packed_tags(7, 42, tags);
  const std::vector<std::uint8_t> want = {4,    0,    0,    0,    0x01, 0x00, 0x02, 0x90, 0x4E, 0x80, 0x05,
                                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x4E, 0x03, 0x01};
  CHECK(payload_of(f) == want);
  CHECK(f[4] == 3);
  CHECK(f[5] == 4);
  const auto d = station::decode(f);
  CHECK(d.kind == FrameKind::packed_tags);
  CHECK(d.sequence == 7);
  CHECK(d.position == 42);
  REQUIRE(d.tags.size() == 4);
  CHECK(std::memcmp(d.tags.data(), tags.data(), tags.size() * sizeof(hal::Tag)) == 0);
  CHECK(station::encode(d) == f);
}

TEST_CASE("packed tags: every tag round-trips, whatever its fields and time differences", "[station][wire]") {
  std::mt19937_64 rng(14);
  hal::TagBlock tags;
  const std::int64_t extremes[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
  for (std::int64_t t : extremes) {
    hal::Tag x;
    x.channel = 5;
    x.time_ps = t;
    tags.push_back(x);
  }
  std::int64_t t = 0;
  for (int i = 0; i < 20000; ++i) {
    hal::Tag x;
    const auto r = rng();
    if (r % 10 == 0) {  // anything at all
      x.type = static_cast<hal::TagType>(rng() % 6);
      x.reserved = static_cast<std::uint8_t>(rng());
      x.missed = static_cast<std::uint16_t>(rng());
      x.channel = static_cast<std::int32_t>(rng());
      x.time_ps = static_cast<std::int64_t>(rng());
    } else {  // a tagger's stream: small channels, times mostly increasing
      x.channel = static_cast<std::int32_t>(rng() % 300) - 20;
      t += static_cast<std::int64_t>(rng() % 3'000'000) - 1000;
      x.time_ps = t;
    }
    tags.push_back(x);
  }
  const auto f = station::encode_packed_tags(1, 2, tags);
  std::uint64_t seq = 0;
  hal::TagBlock out(3);  // appended after what is there
  CHECK(station::decode_tags_into(f, seq, out) == 2);
  CHECK(seq == 1);
  REQUIRE(out.size() == tags.size() + 3);
  CHECK(std::memcmp(out.data() + 3, tags.data(), tags.size() * sizeof(hal::Tag)) == 0);
  CHECK(station::encode(station::decode(f)) == f);
  // A tagger-like stream (1 µs trials: sync, then a detection 9 ns later): the differences
  // 9000 and 991000 ps zigzag to 18000 and 1982000 (< 2^21), three varint bytes each, plus the
  // channel byte: 4 bytes a tag, a quarter of 16 (the first tag, at time 0, takes 2).
  hal::TagBlock plain(65536);
  for (std::size_t i = 0; i < plain.size(); ++i) {
    plain[i].channel = i % 2 ? 2 : 1;
    plain[i].time_ps = static_cast<std::int64_t>(i / 2) * 1'000'000 + (i % 2 ? 9000 : 0);
  }
  CHECK(payload_of(station::encode_packed_tags(0, 0, plain)).size() == 4 + 4 * plain.size() - 2);
}

TEST_CASE("packed tags: one encoding per block, anything else refused", "[station][wire]") {
  auto refused = [](const std::vector<std::uint8_t>& payload, const std::string& why) {
    CHECK_THROWS_WITH(station::decode(packed_with(payload)), Catch::Contains(why));
    std::uint64_t seq = 0;
    hal::TagBlock out(1);
    CHECK_THROWS_AS(station::decode_tags_into(packed_with(payload), seq, out), WireError);
    CHECK(out.size() == 1);  // nothing appended
  };
  CHECK(station::decode(packed_with({1, 0, 0, 0, 0x01, 0x00})).tags.size() == 1);
  refused({1, 0, 0, 0, 0x01, 0x80, 0x00}, "not minimally encoded");
  refused({1, 0, 0, 0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0x00}, "fits the short one");
  refused({1, 0, 0, 0, 0x81, 0x00}, "header byte 129");
  refused({1, 0, 0, 0, 0x80, 6, 0, 0, 0, 1, 0, 0, 0, 0x00}, "unknown type 6");
  refused({1, 0, 0, 0, 0x01, 0x00, 0x00}, "after the last packed tag");
  refused({2, 0, 0, 0, 0x01, 0x00}, "claims 2 tags");
  refused({1, 0, 0, 0, 0x01}, "claims 1 tags in 5 bytes");
  refused({1, 0, 0, 0, 0x01, 0x80}, "ends inside the time");
  refused({1, 0, 0, 0, 0x80, 1, 0}, "ends inside tag 0");
  refused({1, 0, 0}, "without its tag count");
  refused({1, 0, 0, 0, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}, "overflows 64 bits");
  // A packed frame is version 2 only; a version-1 frame of kind 4 is refused.
  auto f = station::encode_packed_tags(0, 0, some_tags(4, 3));
  f[4] = 1;
  CHECK_THROWS_WITH(station::decode(reseal(f)), Catch::Contains("unknown frame kind 4 in a version 1 frame"));
}

TEST_CASE("version 1 frames (older stations and records) are still read, and encode back as version 1",
          "[station][wire]") {
  auto v1 = station::encode_tags(3, 9, some_tags(4, 3));
  v1[4] = 1;
  v1 = reseal(v1);
  const auto d = station::decode(v1);
  CHECK(d.version == 1);
  CHECK(d.tags.size() == some_tags(4, 3).size());
  CHECK(station::encode(d) == v1);
}

// The coordinator decodes tag frames a chunk at a time (TagFrameReader, SyncMerger::push_frame).
// The truth is the block that was encoded; the reader must give it back for every chunk size,
// and refuse exactly what decode() refuses — also where the decoder's unchecked fast loop runs
// (a malformed tag with more than kMaxPackedTagBytes after it).
TEST_CASE("TagFrameReader: any chunk size gives the encoded block — refusals as decode's, in its fast loop too",
          "[station][wire]") {
  std::mt19937_64 rng(10);
  hal::TagBlock tags;
  std::int64_t t = 0;
  for (int i = 0; i < 5000; ++i) {
    hal::Tag x;
    if (rng() % 10 == 0) {
      x.type = static_cast<hal::TagType>(rng() % 6);
      x.missed = static_cast<std::uint16_t>(rng());
      x.channel = static_cast<std::int32_t>(rng());
      x.time_ps = static_cast<std::int64_t>(rng());
    } else {
      x.channel = static_cast<std::int32_t>(rng() % 200);
      // differences of every varint length: 1 to 10 bytes (wrapping modulo 2^64, as the format's
      // differences do; computed unsigned, since a signed overflow is undefined)
      const std::uint64_t step = rng() >> (rng() % 64);
      t = static_cast<std::int64_t>(static_cast<std::uint64_t>(t) + step - 1000);
      x.time_ps = t;
    }
    tags.push_back(x);
  }
  for (const auto& frame : {station::encode_packed_tags(4, 99, tags), station::encode_tags(4, 99, tags)}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{1} << 20}) {
      station::TagFrameReader r(frame);
      CHECK(r.sequence() == 4);
      CHECK(r.position() == 99);
      REQUIRE(r.tags() == tags.size());
      hal::TagBlock out(tags.size() + chunk);
      std::size_t got = 0;
      for (std::size_t n; (n = r.read(out.data() + got, chunk)) > 0;) got += n;
      REQUIRE(got == tags.size());
      CHECK(std::memcmp(out.data(), tags.data(), tags.size() * sizeof(hal::Tag)) == 0);
    }
  }
  // A frame whose checksum fails is refused when the reader is made.
  auto bad = station::encode_packed_tags(0, 0, tags);
  bad[station::kHeaderBytes + 100] ^= 1;
  CHECK_THROWS_WITH(station::TagFrameReader(bad), Catch::Contains("checksum mismatch"));
  CHECK_THROWS_WITH(station::TagFrameReader(station::encode_control(0, "{}")), Catch::Contains("expected a tag frame"));

  // Malformed tag 5 of 26, with 20 plain tags (2 bytes each) after it: the fast loop meets it.
  auto refused_in_fast_loop = [](const std::vector<std::uint8_t>& bad_tag, const std::string& why) {
    std::vector<std::uint8_t> p = {26, 0, 0, 0};
    for (int i = 0; i < 5; ++i) p.insert(p.end(), {0x01, 0x00});
    p.insert(p.end(), bad_tag.begin(), bad_tag.end());
    for (int i = 0; i < 20; ++i) p.insert(p.end(), {0x02, 0x00});
    const auto f = packed_with(p);
    CHECK_THROWS_WITH(station::decode(f), Catch::Contains(why));
    station::TagFrameReader r(f);
    hal::TagBlock out(26);
    CHECK_THROWS_WITH(r.read(out.data(), 26), Catch::Contains(why));
  };
  refused_in_fast_loop({0x01, 0x80, 0x00}, "tag 5 is not minimally encoded");
  refused_in_fast_loop({0x01, 0x80, 0x80, 0x00}, "tag 5 is not minimally encoded");
  refused_in_fast_loop({0x01, 0x80, 0x80, 0x80, 0x00}, "tag 5 is not minimally encoded");
  refused_in_fast_loop({0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0x00}, "fits the short one");
  refused_in_fast_loop({0x81, 0x00}, "tag 5 has header byte 129");
  refused_in_fast_loop({0x80, 6, 0, 0, 0, 1, 0, 0, 0, 0x00}, "tag 5 has unknown type 6");
  refused_in_fast_loop({0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}, "overflows 64 bits");
  // The same tags, correct, decode (the harness itself is sound).
  {
    std::vector<std::uint8_t> p = {26, 0, 0, 0};
    for (int i = 0; i < 6; ++i) p.insert(p.end(), {0x01, 0x00});
    for (int i = 0; i < 20; ++i) p.insert(p.end(), {0x02, 0x00});
    CHECK(station::decode(packed_with(p)).tags.size() == 26);
  }
}

// A peer with a valid key and checksum can claim any tag count the byte bound allows (2 bytes a
// tag): a 16 MiB payload may claim 8 Mi tags, 128 MiB decoded. Each forgery below claims that
// most and holds far fewer tags; every decoder must refuse it, with the reason of the first
// rule it breaks, before making room for more than the frame's own bytes (the old unpack
// reserved the claimed 128 MiB first, StationHub::take zero-filled it).
TEST_CASE("a forged packed frame claiming 8 Mi tags is refused before room is made for them", "[station][wire]") {
  const std::size_t payload_bytes = station::kMaxPayload;
  const auto claim = static_cast<std::uint32_t>((payload_bytes - 4) / 2);
  // The claim, then `tags`, then `fill` repeated to the end of the payload.
  auto forged = [&](const std::vector<std::uint8_t>& tags, const std::vector<std::uint8_t>& fill) {
    std::vector<std::uint8_t> p(4);
    std::memcpy(p.data(), &claim, 4);
    p.insert(p.end(), tags.begin(), tags.end());
    for (std::size_t k = 0; p.size() < payload_bytes; ++k) p.push_back(fill[k % fill.size()]);
    return packed_with(p);
  };
  // Plain tags of 2 bytes (channel 1, difference 0) for the first 1 Mi tags, then what breaks.
  std::vector<std::uint8_t> valid_prefix;
  for (int i = 0; i < (1 << 20); ++i) valid_prefix.insert(valid_prefix.end(), {0x01, 0x00});
  struct Forgery {
    std::vector<std::uint8_t> frame;
    std::string why;
  };
  const std::vector<Forgery> forgeries = {
      // tag 0's header is no header
      {forged({0x81}, {0x00}), "tag 0 has header byte 129"},
      // 1 Mi tags, then an extended form with no such type
      {forged(valid_prefix, {0x80}), "tag 1048576 has unknown type 128"},
      // 1 Mi tags, then no header
      {forged(valid_prefix, {0xFF}), "tag 1048576 has header byte 255"},
      // valid tags of 3 bytes (a difference of 64 ps: a 2-byte varint) to the end: the payload
      // holds (16 Mi − 4) / 3 = 5592404 of them and ends inside the next
      {forged({}, {0x01, 0x80, 0x01}), "packed tag payload ends inside tag 5592404"},
  };
  // Room for up to the frame's own bytes is allowed (a copy of the payload would be); the claim's 128 MiB is not.
  for (const auto& [frame, why] : forgeries) {
    REQUIRE(frame.size() == station::kHeaderBytes + payload_bytes);
    {
      station::testing::AllocationProbe probe;
      CHECK_THROWS_WITH(station::decode(frame), Catch::Contains(why));
      CHECK(probe.largest() <= frame.size());
    }
    {
      hal::TagBlock out;
      std::uint64_t seq = 0;
      station::testing::AllocationProbe probe;
      CHECK_THROWS_WITH(station::decode_tags_into(frame, seq, out), Catch::Contains(why));
      CHECK(probe.largest() <= frame.size());
      CHECK(out.empty());
      CHECK(out.capacity() == 0);
    }
    {  // a buffer reused with room for the claim already: no walk, no allocation, the same refusal
      hal::TagBlock roomy;
      roomy.reserve(claim);  // 128 MiB of address space; only the first chunk is touched
      std::uint64_t seq = 0;
      station::testing::AllocationProbe probe;
      CHECK_THROWS_WITH(station::decode_tags_into(frame, seq, roomy), Catch::Contains(why));
      CHECK(probe.largest() <= frame.size());
      CHECK(roomy.empty());
    }
    {  // the coordinator's path: the hub reads the count, the merge decodes a chunk at a time
      station::TagFrameReader r(frame);
      CHECK(r.tags() == claim);
      station::SyncMerger merger(1, 0, 256);
      station::testing::AllocationProbe probe;
      CHECK_THROWS_WITH(merger.push_frame(0, frame), Catch::Contains(why));
      CHECK(probe.largest() <= frame.size());
    }
  }
  // The harness is sound: the prefix alone, with its true count, decodes.
  std::vector<std::uint8_t> honest = {0, 0, 0x10, 0};  // 1 Mi
  honest.insert(honest.end(), valid_prefix.begin(), valid_prefix.end());
  CHECK(station::decode(packed_with(honest)).tags.size() == (1u << 20));
}
