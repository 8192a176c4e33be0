// PicoQuant PTU replay (drivers/picoquant, docs/ptu.md).
//
// Golden values come from two independent derivations:
//  - hand-built 32-bit records: each word is assembled in the comment from the published bit
//    layout (PicoQuant doc/apx_tttrrecords.html; MSB first) and the expected tags are worked
//    out by hand (time = (overflows · period + field) · resolution);
//  - round trips through the writer, checked against tags computed here from the events with
//    plain integer arithmetic (not with the decoder), including overflow periods.
#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/drivers/picoquant/ptu_replay.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pq = dira::drivers::picoquant;
using dira::hal::Tag;
using dira::hal::TagBlock;
using pq::PtuEvent;
using pq::RecordType;

namespace {

struct Expected {
  int channel;
  std::int64_t time_ps;
  bool operator==(const Expected&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Expected& e) {
  return os << "{" << e.channel << ", " << e.time_ps << "}";
}

std::vector<Expected> plain(const TagBlock& tags) {
  std::vector<Expected> v;
  for (const Tag& t : tags) {
    REQUIRE(t.type == dira::hal::TagType::time_tag);
    v.push_back({t.channel, t.time_ps});
  }
  return v;
}

std::vector<Expected> decode(RecordType type, double global_s, double res_s, const std::vector<std::uint32_t>& words,
                             pq::DecodeCounts* counts = nullptr) {
  pq::RecordDecoder d(type, global_s, res_s);
  TagBlock out;
  d.decode(words, out);
  if (counts) *counts = d.counts();
  return plain(out);
}

std::string bytes_of(const pq::PtuFileSpec& spec, const std::vector<PtuEvent>& events) {
  std::ostringstream os;
  pq::write_ptu(os, spec, events);
  return os.str();
}

std::string bytes_of_words(const pq::PtuFileSpec& spec, const std::vector<std::uint32_t>& words) {
  std::ostringstream os;
  pq::write_header(os, spec, words.size());
  pq::write_records(os, words);
  return os.str();
}

pq::PtuFileReader reader_of(const std::string& bytes) {
  return pq::PtuFileReader(std::make_unique<std::istringstream>(bytes), "memory");
}

/// The PtuFormatError a file's bytes raise when read to the end (header + every record).
std::optional<pq::PtuFormatError> read_error(const std::string& bytes, std::size_t block = 3) {
  try {
    auto r = reader_of(bytes);
    pq::summarize(r, block);
  } catch (const pq::PtuFormatError& e) {
    return e;
  }
  return std::nullopt;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("dira-ptu-test-" + std::to_string(std::random_device{}()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const auto p = (path / name).string();
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
};

}  // namespace

// ---- hand-built records, one published layout at a time -------------------------------------

TEST_CASE("ptu: PicoHarp 300 T2 records decoded by hand", "[ptu]") {
  // Layout (MSB→LSB): channel 4 | time 28. Channel 15 = special: time's low 4 bits are marker
  // bits, 0 = overflow (period 210698240). Global resolution 4 ps.
  const std::vector<std::uint32_t> w{
      0x100003E8,  // 0001 | 1000            photon channel 1, time 1000 → 4000 ps
      0x000007D0,  // 0000 | 2000            channel 0 = sync input → sync, 8000 ps
      0xF0001235,  // 1111 | 0x1235          markers 0101 (1 and 3) at 0x1230 = 4656 (low bits cleared) → 18624 ps
      0xF0000000,  // 1111 | 0               overflow: +210698240
      0x20000005,  // 0010 | 5               channel 2, (210698240 + 5) · 4 = 842792980 ps
      0xF0000010,  // 1111 | 0x10            low nibble 0: overflow again (the other time bits do not matter)
      0x4FFFFFFF,  // 0100 | 0x0FFFFFFF      channel 4, (2 · 210698240 + 268435455) · 4 = 2759327740 ps
  };
  pq::DecodeCounts c;
  const auto tags = decode(RecordType::picoharp_t2, 4e-12, 0, w, &c);
  const std::vector<Expected> want{{1, 4000}, {0, 8000}, {1001, 18624}, {1003, 18624}, {2, 842792980}, {4, 2759327740}};
  CHECK(tags == want);
  CHECK(c.records == 7);
  CHECK(c.photons == 3);
  CHECK(c.syncs == 1);
  CHECK(c.marker_records == 1);
  CHECK(c.marker_tags == 2);
  CHECK(c.overflow_records == 2);
  CHECK(c.overflow_periods == 2);
}

TEST_CASE("ptu: PicoHarp 300 T3 records decoded by hand", "[ptu]") {
  // Layout: channel 4 | dtime 12 | nsync 16. Channel 15 = special: dtime = marker bits, 0 =
  // overflow (period 65536 syncs). Sync period 12500 ps (80 MHz), dtime unit 4 ps.
  const std::vector<std::uint32_t> w{
      0x10640007,  // 0001 | 0x064 | 7       ch 1, dtime 100, nsync 7 → sync 87500, photon 87900
      0x20050007,  // 0010 | 0x005 | 7       ch 2, dtime 5, same sync (no new sync tag) → 87520
      0xF0020009,  // 1111 | 0x002 | 9       marker 2 at nsync 9 → sync 112500, marker 112500
      0xF0000000,  // 1111 | 0     | 0       overflow: +65536 syncs
      0x4FFF0001,  // 0100 | 0xFFF | 1       ch 4, dtime 4095, nsync 65537 → 819212500, + 16380
      0xFA000003,  // 1111 | 0xA00 | 3       marker bits 9 and 11 → markers 10 and 12 at nsync 65539
  };
  pq::DecodeCounts c;
  const auto tags = decode(RecordType::picoharp_t3, 12.5e-9, 4e-12, w, &c);
  const std::vector<Expected> want{{0, 87500},        {1, 87900},       {2, 87520},     {0, 112500},
                                   {1002, 112500},    {0, 819212500},   {4, 819228880}, {0, 819237500},
                                   {1010, 819237500}, {1012, 819237500}};
  CHECK(tags == want);
  CHECK(c.photons == 3);
  CHECK(c.syncs == 4);
  CHECK(c.marker_records == 2);
  CHECK(c.marker_tags == 3);
  CHECK(c.overflow_periods == 1);

  // Channel 0 never occurs in PicoHarp T3 records (it would collide with the sync tags).
  pq::RecordDecoder d(RecordType::picoharp_t3, 12.5e-9, 4e-12);
  TagBlock out;
  auto bad = w;
  bad.push_back(0x00010002);  // 0000 | 0x001 | 2
  try {
    d.decode(bad, out, 1000);
    FAIL("no error");
  } catch (const pq::PtuFormatError& e) {
    CHECK(e.offset() == 1000 + 4 * 6);
    CHECK_THAT(e.what(), Catch::Contains("byte offset 1024") && Catch::Contains("channel 0"));
  }
  CHECK(plain(out) == want);  // the records before the bad one were decoded
}

TEST_CASE("ptu: HydraHarp-layout T2 records (V1, V2, TimeHarp 260 N/P, generic) decoded by hand", "[ptu]") {
  // Layout: special 1 | channel 6 | timetag 25. Special: channel 63 = overflow (V1: one period
  // of 33552000; the others: timetag periods of 2^25, 0 meaning 1), 0 = sync, 1..15 = marker
  // bits. Regular: channel field 0..63 = detector 1..64. Global resolution 1 ps.
  const std::vector<std::uint32_t> w{
      0x0000007B,  // 0 | 000000 | 123        detector 1 at 123
      0x80000032,  // 1 | 000000 | 50         sync at 50
      0x860000C8,  // 1 | 000011 | 200        markers 1 and 2 at 200
      0xFE000005,  // 1 | 111111 | 5          overflow: V1 one period; others 5 periods
      0x02000007,  // 0 | 000001 | 7          detector 2
      0xFE000000,  // 1 | 111111 | 0          overflow: one period (0 means 1)
      0x7E000001,  // 0 | 111111 | 1          detector 64
  };
  for (RecordType type : {RecordType::hydraharp_v1_t2, RecordType::hydraharp_v2_t2, RecordType::timeharp260n_t2,
                          RecordType::timeharp260p_t2, RecordType::generic_t2}) {
    INFO(pq::record_type_name(type));
    const bool v1 = type == RecordType::hydraharp_v1_t2;
    const std::int64_t P = v1 ? 33552000 : 33554432;
    const std::int64_t first = v1 ? 1 : 5;  // periods of the first overflow record
    pq::DecodeCounts c;
    const auto tags = decode(type, 1e-12, 0, w, &c);
    const std::vector<Expected> want{
        {1, 123}, {0, 50}, {1001, 200}, {1002, 200}, {2, first * P + 7}, {64, (first + 1) * P + 1}};
    CHECK(tags == want);
    CHECK(c.overflow_records == 2);
    CHECK(c.overflow_periods == static_cast<std::uint64_t>(first + 1));
    CHECK(c.syncs == 1);
    CHECK(c.photons == 3);
    // Special channel codes 16..62 are reserved.
    pq::RecordDecoder d(type, 1e-12, 0);
    TagBlock out;
    const std::vector<std::uint32_t> reserved{0x0000007B, 0xA0000000};  // 1 | 010000 | 0: code 16
    CHECK_THROWS_AS(d.decode(reserved, out, 16), pq::PtuFormatError);
  }
}

TEST_CASE("ptu: HydraHarp-layout T3 records (V1, V2, TimeHarp 260 N/P, generic) decoded by hand", "[ptu]") {
  // Layout: special 1 | channel 6 | dtime 15 | nsync 10. Special: channel 63 = overflow of 1024
  // syncs (V1: always one; the others: nsync periods, 0 meaning 1), 1..15 = marker bits.
  // Sync period 12500 ps, dtime unit 8 ps.
  const std::vector<std::uint32_t> w{
      0x00019007,  // 0 | 000000 | 100   | 7     detector 1, dtime 100, nsync 7 → sync 87500, 88300
      0x0BFFFC07,  // 0 | 000101 | 32767 | 7     detector 6, dtime 32767 → 87500 + 262136
      0x88000009,  // 1 | 000100 | 0     | 9     marker 3 at nsync 9 → sync 112500
      0xFE000003,  // 1 | 111111 | 0     | 3     overflow: V1 1024 syncs, others 3 · 1024
      0x04000401,  // 0 | 000010 | 1     | 1     detector 3, dtime 1
      0xFE000000,  // 1 | 111111 | 0     | 0     overflow: 1024 (0 means 1)
      0x00000000,  // 0 | 000000 | 0     | 0     detector 1 exactly at its sync
  };
  for (RecordType type : {RecordType::hydraharp_v1_t3, RecordType::hydraharp_v2_t3, RecordType::timeharp260n_t3,
                          RecordType::timeharp260p_t3, RecordType::generic_t3}) {
    INFO(pq::record_type_name(type));
    const bool v1 = type == RecordType::hydraharp_v1_t3;
    const std::int64_t n1 = (v1 ? 1 : 3) * 1024 + 1;  // nsync of record 4
    const std::int64_t n2 = (v1 ? 2 : 4) * 1024;      // nsync of record 6
    pq::DecodeCounts c;
    const auto tags = decode(type, 12.5e-9, 8e-12, w, &c);
    const std::vector<Expected> want{{0, 87500},          {1, 88300},      {6, 349636},
                                     {0, 112500},         {1003, 112500},  {0, n1 * 12500},
                                     {3, n1 * 12500 + 8}, {0, n2 * 12500}, {1, n2 * 12500}};
    CHECK(tags == want);
    CHECK(c.overflow_periods == static_cast<std::uint64_t>(v1 ? 2 : 4));
    CHECK(c.syncs == 4);
    CHECK(c.photons == 4);
    CHECK(c.marker_tags == 1);
    for (std::uint32_t reserved : {0x80000005u /* special code 0 */, 0xA0000000u /* code 16 */}) {
      pq::RecordDecoder d(type, 12.5e-9, 8e-12);
      TagBlock out;
      const std::vector<std::uint32_t> words{reserved};
      CHECK_THROWS_AS(d.decode(words, out), pq::PtuFormatError);
    }
  }
}

TEST_CASE("ptu: decoding is the same whatever the block boundaries", "[ptu]") {
  // T3 syncs and overflow bases are carried across decode() calls.
  const std::vector<std::uint32_t> w{0x00019007, 0x0BFFFC07, 0xFE000003, 0x04000401,
                                     0x04000401, 0xFE000000, 0x00000000};
  const auto whole = decode(RecordType::generic_t3, 12.5e-9, 8e-12, w);
  for (std::size_t split = 0; split <= w.size(); ++split) {
    pq::RecordDecoder d(RecordType::generic_t3, 12.5e-9, 8e-12);
    TagBlock out;
    d.decode(std::span(w).first(split), out);
    d.decode(std::span(w).subspan(split), out);
    CHECK(plain(out) == whole);
  }
}

TEST_CASE("ptu: a non-integer sync period does not drift over 10^12 syncs", "[ptu]") {
  // 76.2 MHz: 13123.359… ps. Independent value: long double product (64-bit mantissa) of the
  // same period in ps; the decoder's fixed point must agree to within 1 ps at nsync = 10^12.
  const double period_s = 1.0 / 76.2e6;
  pq::RecordDecoder d(RecordType::generic_t3, period_s, 1e-12);
  const double period_ps = period_s * 1e12;
  for (std::uint64_t n :
       {std::uint64_t{1}, std::uint64_t{1000003}, std::uint64_t{1} << 30, std::uint64_t{1000000000000}}) {
    const long double exact = static_cast<long double>(n) * static_cast<long double>(period_ps);
    CHECK(std::abs(static_cast<long double>(d.global_time_ps(n)) - exact) <= 0.5L + 1e-3L);
  }
}

// ---- the writer, round trips for every record type ------------------------------------------

namespace {

struct TypeCase {
  RecordType type;
  std::uint64_t wrap;  // overflow period in raw units (apx_tttrrecords.html)
  int detectors;       // channels the writer may use
  std::uint32_t max_dtime;
  std::uint32_t max_marker_bits;
};

const std::vector<TypeCase>& type_cases() {
  static const std::vector<TypeCase> cases{
      {RecordType::picoharp_t2, 210698240, 4, 0, 15},    {RecordType::picoharp_t3, 65536, 4, 4095, 4095},
      {RecordType::hydraharp_v1_t2, 33552000, 8, 0, 15}, {RecordType::hydraharp_v1_t3, 1024, 8, 32767, 15},
      {RecordType::hydraharp_v2_t2, 33554432, 8, 0, 15}, {RecordType::hydraharp_v2_t3, 1024, 8, 32767, 15},
      {RecordType::timeharp260n_t2, 33554432, 2, 0, 15}, {RecordType::timeharp260n_t3, 1024, 2, 32767, 15},
      {RecordType::timeharp260p_t2, 33554432, 2, 0, 15}, {RecordType::timeharp260p_t3, 1024, 2, 32767, 15},
      {RecordType::generic_t2, 33554432, 64, 0, 15},     {RecordType::generic_t3, 1024, 64, 32767, 15},
  };
  return cases;
}

/// Random events in time order: mostly short gaps, some of thousands of overflow periods.
std::vector<PtuEvent> random_events(const TypeCase& tc, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const bool t2 = pq::is_t2(tc.type);
  std::vector<PtuEvent> ev;
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = rng() % 100;
    if (r < 3)
      t += tc.wrap * (1 + rng() % 3000) + rng() % tc.wrap;  // long gap: many overflows
    else if (r < 60)
      t += rng() % (tc.wrap / 4 + 1);
    PtuEvent e;
    e.time = t;
    const auto kind = rng() % 10;
    if (kind == 0) {
      e.kind = PtuEvent::Kind::marker;
      e.channel = static_cast<int>(1 + rng() % tc.max_marker_bits);
    } else if (kind == 1 && t2) {
      e.kind = PtuEvent::Kind::sync;
    } else {
      e.kind = PtuEvent::Kind::photon;
      e.channel = static_cast<int>(1 + rng() % static_cast<std::uint64_t>(tc.detectors));
      if (!t2) e.dtime = static_cast<std::uint32_t>(rng() % (tc.max_dtime + 1));
    }
    ev.push_back(e);
  }
  return ev;
}

/// The tags the events must decode to, by plain integer arithmetic (docs/ptu.md "Channels").
std::vector<Expected> expected_tags(const TypeCase& tc, const std::vector<PtuEvent>& events, std::int64_t global_ps,
                                    std::int64_t res_ps) {
  const bool t2 = pq::is_t2(tc.type);
  std::vector<Expected> out;
  std::int64_t last_sync = -1;
  for (const auto& e : events) {
    const auto units = static_cast<std::int64_t>(e.time);
    if (!t2 && units > last_sync) {
      out.push_back({0, units * global_ps});
      last_sync = units;
    }
    switch (e.kind) {
      case PtuEvent::Kind::sync:
        out.push_back({0, units * global_ps});
        break;
      case PtuEvent::Kind::photon:
        out.push_back({e.channel, units * global_ps + static_cast<std::int64_t>(e.dtime) * res_ps});
        break;
      case PtuEvent::Kind::marker: {
        // PicoHarp T2 markers live in the time's low 4 bits; those bits are not time.
        const std::int64_t u = tc.type == RecordType::picoharp_t2 ? (units & ~std::int64_t{0xF}) : units;
        for (int b = 0; b < 12; ++b)
          if (e.channel & (1 << b)) out.push_back({1000 + b + 1, u * global_ps});
        break;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("ptu: writer round trip for every record type, across overflows and block boundaries", "[ptu]") {
  for (const auto& tc : type_cases()) {
    INFO(pq::record_type_name(tc.type));
    const bool t2 = pq::is_t2(tc.type);
    pq::PtuFileSpec spec;
    spec.record_type = tc.type;
    spec.global_resolution_s = t2 ? 4e-12 : 12.5e-9;
    spec.resolution_s = t2 ? 0 : 25e-12;
    const auto events = random_events(tc, 3000, 17 + static_cast<std::uint64_t>(tc.type));
    const std::string bytes = bytes_of(spec, events);
    auto reader = reader_of(bytes);
    CHECK(reader.header().record_type == tc.type);
    TagBlock all;
    std::size_t blocks = 0;
    while (reader.read(all, 7)) ++blocks;
    CHECK(reader.records_read() == reader.header().number_of_records);
    CHECK(reader.header().data_offset + 4 * reader.header().number_of_records == bytes.size());
    const auto want = expected_tags(tc, events, t2 ? 4 : 12500, 25);
    CHECK(plain(all) == want);
    // Overflow periods: the last event's raw time / period, however the writer grouped them.
    CHECK(reader.counts().overflow_periods == events.back().time / tc.wrap);
    CHECK(reader.counts().overflow_records >= 1);
    CHECK(reader.counts().records == reader.counts().overflow_records + events.size());
  }
}

TEST_CASE("ptu: header tags of every type round-trip", "[ptu]") {
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::hydraharp_v2_t3;
  spec.global_resolution_s = 1e-8;
  spec.resolution_s = 1e-12;
  pq::HeaderTag b, bits, color, date, arr, wide, blob, empty;
  b.ident = "Flag", b.type = pq::HeaderTagType::bool8, b.integer = 1;
  bits.ident = "Bits", bits.type = pq::HeaderTagType::bitset64,
  bits.integer = static_cast<std::int64_t>(0x8000000000000001ull);
  color.ident = "Colour", color.type = pq::HeaderTagType::color8, color.integer = 0xFF0000;
  date.ident = "File_CreatingTime", date.type = pq::HeaderTagType::datetime,
  date.real = 44197.5;  // 2021-01-01 12:00 UTC
  arr.ident = "Curve", arr.type = pq::HeaderTagType::float8_array, arr.reals = {1.5, -2.25, 1e300};
  wide.ident = "Comment", wide.type = pq::HeaderTagType::wide_string, wide.text = "µs – Ω \xF0\x9F\x98\x80";
  blob.ident = "Blob", blob.type = pq::HeaderTagType::binary_blob, blob.bytes = {1, 2, 3, 0, 255};
  empty.ident = "Group", empty.type = pq::HeaderTagType::empty8;
  spec.extra_tags = {pq::HeaderTag::make_int("HW_InpChannels", 5),
                     pq::HeaderTag::make_real("Gain", -0.125, 2),
                     pq::HeaderTag::make_string("Sample", "dye 7"),
                     b,
                     bits,
                     color,
                     date,
                     arr,
                     wide,
                     blob,
                     empty};
  const std::vector<PtuEvent> ev{PtuEvent{PtuEvent::Kind::photon, 1, 3, 4}};
  std::istringstream in(bytes_of(spec, ev));
  const auto h = pq::read_header(in);
  CHECK(h.version == "1.0.00");
  CHECK(h.record_type == RecordType::hydraharp_v2_t3);
  CHECK(h.number_of_records == 1);
  CHECK(h.global_resolution_s == 1e-8);
  CHECK(h.data_offset == static_cast<std::uint64_t>(in.tellg()));
  CHECK(h.data_offset % 8 == 0);  // every tag is padded to 8 bytes
  REQUIRE(h.find("HW_InpChannels"));
  CHECK(h.find("HW_InpChannels")->integer == 5);
  REQUIRE(h.find("Gain", 2));
  CHECK(h.find("Gain") == nullptr);
  CHECK(h.find("Gain", 2)->real == -0.125);
  CHECK(h.find("Gain", 2)->name() == "Gain(2)");
  CHECK(h.find("Sample")->text == "dye 7");
  CHECK(h.find("Flag")->value_string() == "true");
  CHECK(static_cast<std::uint64_t>(h.find("Bits")->integer) == 0x8000000000000001ull);
  CHECK(h.find("Colour")->value_string() == "0x0000000000FF0000");
  CHECK(h.find("File_CreatingTime")->value_string() == "2021-01-01T12:00:00Z");
  CHECK(h.find("Curve")->reals == std::vector<double>{1.5, -2.25, 1e300});
  CHECK(h.find("Curve")->integer == 24);
  CHECK(h.find("Comment")->text == "µs – Ω \xF0\x9F\x98\x80");
  CHECK(h.find("Blob")->bytes == std::vector<std::uint8_t>{1, 2, 3, 0, 255, 0, 0, 0});  // padded to 8
  CHECK(h.find("Group")->type == pq::HeaderTagType::empty8);
  CHECK(h.tags.back().ident == "Header_End");
}

// ---- corrupt and truncated files --------------------------------------------------------------

namespace {

std::string small_file() {
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::generic_t3;
  spec.global_resolution_s = 12.5e-9;
  spec.resolution_s = 5e-12;
  spec.extra_tags = {pq::HeaderTag::make_string("Comment", "truncate me")};
  std::vector<PtuEvent> ev;
  for (std::uint64_t i = 0; i < 12; ++i)
    ev.push_back({PtuEvent::Kind::photon, 1 + static_cast<int>(i % 3), i * 70, 9});  // no overflow: 12 records
  return bytes_of(spec, ev);
}

}  // namespace

TEST_CASE("ptu: wrong magic is refused at byte 0", "[ptu]") {
  auto bytes = small_file();
  bytes.replace(0, 8, std::string("PQHISTO\0", 8));  // a PicoQuant histogram file, not TTTR
  const auto e = read_error(bytes);
  REQUIRE(e);
  CHECK(e->offset() == 0);
  CHECK_THAT(e->what(), Catch::Contains("magic") && Catch::Contains("PQHISTO"));
  CHECK(read_error("GIF89a")->offset() == 6);  // too short for a magic at all: the file ends at 6
}

TEST_CASE("ptu: every truncation is reported at the byte where the file ends", "[ptu]") {
  const std::string bytes = small_file();
  REQUIRE_FALSE(read_error(bytes));
  std::istringstream in(bytes);
  const auto h = pq::read_header(in);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut);
    const auto e = read_error(bytes.substr(0, cut));
    REQUIRE(e);
    CHECK(e->offset() == cut);
    if (cut < h.data_offset)
      CHECK_THAT(e->what(), Catch::Contains("truncated header"));
    else
      CHECK_THAT(e->what(), Catch::Contains("truncated record stream") && Catch::Contains("record #"));
  }
}

TEST_CASE("ptu: a truncated record stream delivers the complete records first", "[ptu]") {
  const std::string bytes = small_file();
  const auto cut = bytes.substr(0, bytes.size() - 6);  // record 10 cut in half, record 11 gone
  auto reader = reader_of(cut);
  TagBlock tags;
  CHECK(reader.read(tags, 8));
  try {
    reader.read(tags, 8);
    FAIL("no error");
  } catch (const pq::PtuFormatError& e) {
    CHECK(e.offset() == cut.size());
    CHECK_THAT(e.what(), Catch::Contains("inside record #10") && Catch::Contains("12 records"));
  }
  CHECK(reader.records_read() == 10);
}

TEST_CASE("ptu: unknown record type, unknown tag type, bad lengths, missing tags", "[ptu]") {
  const std::string good = small_file();
  std::istringstream in(good);
  const auto h = pq::read_header(in);
  const auto* rt = h.find("TTResultFormat_TTTRRecType");
  REQUIRE(rt);

  SECTION("unknown record type") {
    pq::PtuFileSpec spec;
    spec.record_type = static_cast<RecordType>(0x00010308);
    spec.global_resolution_s = 1e-12;
    const auto e = read_error(bytes_of_words(spec, {1, 2, 3}));
    REQUIRE(e);
    CHECK(e->offset() == rt->offset + 40);  // the tag's value field
    CHECK_THAT(e->what(), Catch::Contains("unknown record type 0x00010308"));
  }
  SECTION("unknown tag type code") {
    auto bytes = good;
    const auto* comment = h.find("Comment");
    bytes[comment->offset + 36] = 0x42;  // type 0x4001FF42
    const auto e = read_error(bytes);
    REQUIRE(e);
    CHECK(e->offset() == comment->offset + 36);
    CHECK_THAT(e->what(), Catch::Contains("unknown tag type") && Catch::Contains("Comment"));
  }
  SECTION("negative and implausible lengths") {
    for (std::uint8_t top : {std::uint8_t{0x80}, std::uint8_t{0x01}}) {
      auto bytes = good;
      bytes[h.find("Comment")->offset + 47] = static_cast<char>(top);  // length ≥ 2^56 or negative
      const auto e = read_error(bytes);
      REQUIRE(e);
      CHECK(e->offset() == h.find("Comment")->offset + 40);
      CHECK_THAT(e->what(), Catch::Contains("length"));
    }
  }
  SECTION("missing number of records") {
    auto bytes = good;
    const auto* n = h.find("TTResult_NumberOfRecords");
    bytes[n->offset] = 'X';  // renamed: no longer the required tag
    const auto e = read_error(bytes);
    REQUIRE(e);
    CHECK(e->offset() == h.data_offset);
    CHECK_THAT(e->what(), Catch::Contains("TTResult_NumberOfRecords"));
  }
  SECTION("no Header_End") {
    auto bytes = good.substr(0, h.data_offset);
    bytes[h.tags.back().offset] = 'X';  // "Xeader_End": the header runs on into the records
    const auto e = read_error(bytes);
    REQUIRE(e);
    CHECK(e->offset() == bytes.size());
  }
}

TEST_CASE("ptu: any single corrupted byte gives tags or a PtuFormatError, never anything else", "[ptu]") {
  const std::string good = small_file();
  std::size_t errors = 0;
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned x : {0xFFu, 0x01u, 0x80u}) {
      auto bytes = good;
      bytes[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]) ^ x);
      try {
        auto r = reader_of(bytes);
        pq::summarize(r, 5);
      } catch (const pq::PtuFormatError& e) {
        CHECK(e.offset() <= bytes.size());
        ++errors;
      }
    }
  CHECK(errors > 0);
}

// ---- the "ptu" time-tagger driver --------------------------------------------------------------

TEST_CASE("ptu: driver registration and capabilities", "[ptu]") {
  dira::hal::DriverRegistry reg;
  dira::drivers::register_picoquant(reg);
  const auto* d = reg.find("ptu", dira::hal::DeviceKind::time_tagger);
  REQUIRE(d);
  CHECK(d->scan);
  CHECK(d->scan().empty());  // files are not on a bus
  const auto cap = [&](const std::string& key) {
    const auto it =
        std::find_if(d->capabilities.begin(), d->capabilities.end(), [&](const auto& c) { return c.key == key; });
    REQUIRE(it != d->capabilities.end());
    return *it;
  };
  CHECK(cap("file").type == dira::hal::Capability::Type::text);
  CHECK(cap("pace").type == dira::hal::Capability::Type::real);
  CHECK(cap("pace").min == 0.0);
  CHECK(cap("block_records").type == dira::hal::Capability::Type::integer);
  CHECK_FALSE(cap("records").can_set);
  CHECK(reg.validate(*d, {{"pace", -1.0}}).size() == 1);
  CHECK(reg.validate(*d, {{"records", std::int64_t{5}}}).size() == 1);
  CHECK(reg.validate(*d, {{"pace", std::int64_t{2}}, {"block_records", std::int64_t{100}}}).empty());
}

namespace {

/// Runs a replay to its StreamEnd; returns the tags and the end.
std::pair<TagBlock, dira::hal::StreamEnd> replay_all(pq::PtuReplay& r, std::size_t max_block_tags,
                                                     dira::hal::StreamStart* start = nullptr) {
  r.start();
  auto first = r.next(std::chrono::milliseconds(100));
  REQUIRE(std::holds_alternative<dira::hal::StreamStart>(first));
  if (start) *start = std::get<dira::hal::StreamStart>(first);
  TagBlock all;
  for (int guard = 0; guard < 100000; ++guard) {
    auto ev = r.next(std::chrono::milliseconds(100));
    if (auto* end = std::get_if<dira::hal::StreamEnd>(&ev)) {
      // After the end: empty blocks only.
      CHECK(std::get<TagBlock>(r.next(std::chrono::milliseconds(1))).empty());
      return {all, *end};
    }
    REQUIRE(std::holds_alternative<TagBlock>(ev));
    const auto& b = std::get<TagBlock>(ev);
    CHECK(b.size() <= max_block_tags);
    all.insert(all.end(), b.begin(), b.end());
  }
  FAIL("no StreamEnd");
  return {};
}

}  // namespace

TEST_CASE("ptu: replay through the TimeTagger interface", "[ptu]") {
  TempDir dir;
  const auto& tc = type_cases()[11];  // generic T3
  pq::PtuFileSpec spec;
  spec.record_type = tc.type;
  spec.global_resolution_s = 12.5e-9;
  spec.resolution_s = 25e-12;
  const auto events = random_events(tc, 1000, 5);
  const auto path = dir.write("run.ptu", bytes_of(spec, events));

  dira::hal::DriverRegistry reg;
  dira::drivers::register_picoquant(reg);
  auto dev = reg.find("ptu", dira::hal::DeviceKind::time_tagger)
                 ->create({{"file", path}, {"block_records", std::int64_t{64}}});
  auto* r = dynamic_cast<pq::PtuReplay*>(dev.get());
  REQUIRE(r);
  CHECK(r->driver() == "ptu");
  CHECK_THAT(r->identity(), Catch::Contains("MultiHarp/generic T3"));
  CHECK(std::get<std::string>(r->get("record_type")) == "MultiHarp/generic T3");
  CHECK(std::get<double>(r->get("global_resolution_ps")) == Approx(12500));
  CHECK(r->channels().front() == 0);
  CHECK(r->channels().back() == 1004);
  dira::hal::StreamStart start;
  auto [tags, end] = replay_all(*r, 64 * 13, &start);
  CHECK(start.resolution_ps == 25);
  CHECK_FALSE(end.error);
  CHECK(plain(tags) == expected_tags(tc, events, 12500, 25));

  // Settings: read-only and unknown keys are refused, pace accepts an integer.
  CHECK_THROWS_AS(r->set("records", std::int64_t{3}), std::invalid_argument);
  CHECK_THROWS_AS(r->set("nosuch", 1.0), std::invalid_argument);
  CHECK_THROWS_AS(r->set("pace", -0.5), std::invalid_argument);
  r->set("pace", std::int64_t{2});
  CHECK(std::get<double>(r->get("pace")) == 2.0);
  CHECK_THROWS_AS(r->set("file", dir.write("bad.ptu", "PQTTTR\0\0" + std::string(5, 'x'))), pq::PtuFormatError);
}

TEST_CASE("ptu: a corrupt record mid-file ends the stream with an error naming the offset", "[ptu]") {
  TempDir dir;
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::generic_t2;
  spec.global_resolution_s = 5e-12;
  std::vector<std::uint32_t> words(30, 0x02000010);  // detector 2 at time 16
  words[20] = 0xA0000000;                            // special code 16: reserved
  const auto bytes = bytes_of_words(spec, words);
  pq::PtuReplay r({{"file", dir.write("bad.ptu", bytes)}, {"block_records", std::int64_t{8}}});
  auto [tags, end] = replay_all(r, 8);
  CHECK(end.error);
  CHECK(tags.size() == 20);
  std::istringstream in(bytes);
  const auto data = pq::read_header(in).data_offset;
  CHECK_THAT(end.reason, Catch::Contains("byte offset " + std::to_string(data + 4 * 20)));

  // Truncated: the records that are there, then an error at the file's end.
  words[20] = 0x02000010;
  const auto good = bytes_of_words(spec, words);
  const auto cut = good.substr(0, data + 4 * 20 + 2);
  pq::PtuReplay r2({{"file", dir.write("cut.ptu", cut)}});
  auto [tags2, end2] = replay_all(r2, 65536);
  CHECK(end2.error);
  CHECK(tags2.size() == 20);
  CHECK_THAT(end2.reason, Catch::Contains("byte offset " + std::to_string(cut.size())));
}

TEST_CASE("ptu: paced replay delivers no tag before its time", "[ptu]") {
  // 240 detections over 120 ms of file time (1 ns time-tag unit). At every delivery, each tag
  // must be due: t ≤ (wall time since before start()) · pace. The total wall time is at least
  // the last tag's time / pace. Only lower bounds: the sleeps guarantee them.
  TempDir dir;
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::generic_t2;
  spec.global_resolution_s = 1e-9;
  std::vector<PtuEvent> ev;
  for (std::uint64_t i = 1; i <= 240; ++i) ev.push_back({PtuEvent::Kind::photon, 1, i * 500000, 0});  // every 0.5 ms
  const auto path = dir.write("paced.ptu", bytes_of(spec, ev));
  for (double pace : {1.0, 3.0}) {
    INFO("pace " << pace);
    pq::PtuReplay r({{"file", path}, {"pace", pace}, {"block_records", std::int64_t{100}}});
    const auto t_before = std::chrono::steady_clock::now();
    r.start();
    std::size_t n = 0;
    bool ended = false;
    for (int guard = 0; guard < 100000 && !ended; ++guard) {
      auto e = r.next(std::chrono::milliseconds(5));
      if (std::holds_alternative<dira::hal::StreamEnd>(e)) ended = true;
      if (auto* b = std::get_if<TagBlock>(&e)) {
        const double since_ps =
            std::chrono::duration<double, std::pico>(std::chrono::steady_clock::now() - t_before).count();
        for (const Tag& t : *b) CHECK(static_cast<double>(t.time_ps) <= since_ps * pace);
        n += b->size();
      }
    }
    CHECK(ended);
    CHECK(n == 240);
    const double wall_ps =
        std::chrono::duration<double, std::pico>(std::chrono::steady_clock::now() - t_before).count();
    CHECK(wall_ps * pace >= 120e9);
  }
}

TEST_CASE("ptu: T3 replay feeds trial assembly (sync tags only where events are)", "[ptu]") {
  // One party: sync = channel 0 of the replay, detectors 1 and 2 = outcomes 0 and 1. Sync count
  // k (80 MHz, 12500 ps) has a click on detector 1 if k % 3 == 0, on detector 2 if k % 3 == 1,
  // and nothing if k % 3 == 2: those syncs are absent from the stream and trial assembly
  // infers them from the period. 3000 syncs span three HydraHarp-layout overflow periods.
  TempDir dir;
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::hydraharp_v2_t3;
  spec.global_resolution_s = 12.5e-9;
  spec.resolution_s = 1e-12;
  std::vector<PtuEvent> ev;
  const std::uint64_t n = 3000;
  for (std::uint64_t k = 0; k < n; ++k)
    if (k % 3 != 2) ev.push_back({PtuEvent::Kind::photon, k % 3 == 0 ? 1 : 2, k, 2000});  // 2 ns after the sync
  pq::PtuReplay r({{"file", dir.write("trials.ptu", bytes_of(spec, ev))}, {"block_records", std::int64_t{256}}});

  dira::hal::TrialAssemblyConfig cfg;
  dira::hal::StationLayout s;
  s.station = 0;
  s.sync_channel = 0;
  s.detector_channels = {1, 2};
  cfg.parties = {s};
  cfg.sync_period_ps = 12500;
  cfg.detection_offset_ps = 1000;
  cfg.detection_width_ps = 5000;
  dira::hal::TrialAssembler a(cfg, nullptr);
  r.start();
  std::vector<dira::protocol::Trial> trials;
  for (int guard = 0; guard < 100000; ++guard) {
    auto e = r.next(std::chrono::milliseconds(100));
    if (std::holds_alternative<dira::hal::StreamEnd>(e)) break;
    if (auto* b = std::get_if<TagBlock>(&e)) a.push(0, *b);
  }
  a.end(0);
  a.pop(trials);
  REQUIRE(trials.size() >= n - 3);
  for (const auto& t : trials) {
    INFO("trial " << t.index);
    const auto k = t.index;
    CHECK(t.x[0] == (k % 3 == 1 ? 1 : 0));
    CHECK(((t.flags & dira::protocol::kTrialNoClick) != 0) == (k % 3 == 2));
  }
  CHECK(a.counters().missing_syncs >= n / 3 - 1);
}

TEST_CASE("ptu: summary counts per channel", "[ptu]") {
  TempDir dir;
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::picoharp_t2;
  spec.global_resolution_s = 4e-12;
  std::vector<PtuEvent> ev{{PtuEvent::Kind::sync, 0, 100, 0},
                           {PtuEvent::Kind::photon, 1, 150, 0},
                           {PtuEvent::Kind::photon, 3, 400, 0},
                           {PtuEvent::Kind::marker, 0b0110, 800, 0},
                           {PtuEvent::Kind::sync, 0, 210698240 * 2ull + 100, 0},
                           {PtuEvent::Kind::photon, 1, 210698240 * 2ull + 200, 0}};
  const auto s = pq::summarize_file(dir.write("s.ptu", bytes_of(spec, ev)));
  CHECK(s.counts.records == 8);  // 6 events + 2 overflow records
  CHECK(s.counts.photons == 3);
  CHECK(s.counts.syncs == 2);
  CHECK(s.counts.marker_records == 1);
  CHECK(s.counts.overflow_records == 2);
  const std::map<int, std::uint64_t> want{{0, 2}, {1, 2}, {3, 1}, {1002, 1}, {1003, 1}};
  CHECK(s.tags_per_channel == want);
  REQUIRE(s.first_time_ps);
  CHECK(*s.first_time_ps == 400);
  CHECK(*s.last_time_ps == (210698240 * 2ll + 200) * 4);
  CHECK_THROWS_AS(pq::summarize_file((dir.path / "missing.ptu").string()), std::runtime_error);
}

// ---- issue 12: defects found by fuzzing and malformed files -----------------------------------
//
// Each test rebuilds the defect's input here (the same inputs, as files, are the fuzz targets'
// regression corpus in tests/fuzz/regressions/). Golden values come from the published layout
// and plain integer arithmetic in the comments, not from the decoder.

namespace {

/// One raw header tag: 32-byte ident, int32 index, uint32 type, 8-byte value (apx_tagtypes).
std::string raw_tag(const std::string& ident, std::uint32_t type, std::uint64_t value, std::int32_t index = -1) {
  std::string b(48, '\0');
  b.replace(0, ident.size(), ident);
  for (int i = 0; i < 4; ++i) b[32 + i] = static_cast<char>(static_cast<std::uint32_t>(index) >> (8 * i));
  for (int i = 0; i < 4; ++i) b[36 + i] = static_cast<char>(type >> (8 * i));
  for (int i = 0; i < 8; ++i) b[40 + i] = static_cast<char>(value >> (8 * i));
  return b;
}

/// A valid generic T2 header (1 ps), with `extra` raw tags inserted before Header_End.
std::string header_with(const std::string& extra, std::uint64_t records = 0) {
  std::string b(
      "PQTTTR\0\0"
      "1.0.00\0\0",
      16);
  b += raw_tag("TTResultFormat_TTTRRecType", 0x10000008, 0x00010207);
  b += raw_tag("MeasDesc_GlobalResolution", 0x20000008, std::bit_cast<std::uint64_t>(1e-12));
  b += raw_tag("TTResult_NumberOfRecords", 0x10000008, records);
  b += extra;
  b += raw_tag("Header_End", 0xFFFF0008, 0);
  return b;
}

/// An endless stream (like /dev/zero or a FIFO that never ends): `prefix`, then `pattern` forever.
class EndlessBuf : public std::streambuf {
 public:
  EndlessBuf(std::string prefix, std::string pattern) : prefix_(std::move(prefix)), pattern_(std::move(pattern)) {
    setg(prefix_.data(), prefix_.data(), prefix_.data() + prefix_.size());
  }
  std::uint64_t delivered = 0;

 protected:
  int_type underflow() override {
    delivered += static_cast<std::uint64_t>(egptr() - eback());
    setg(pattern_.data(), pattern_.data(), pattern_.data() + pattern_.size());
    return traits_type::to_int_type(pattern_[0]);
  }

 private:
  std::string prefix_, pattern_;
};

/// Every tag of a file read in blocks of 4096 records.
std::vector<Expected> read_all(const std::string& bytes) {
  auto r = reader_of(bytes);
  TagBlock out;
  while (r.read(out, 4096)) {
  }
  return plain(out);
}

std::string records_bytes(const std::vector<std::uint32_t>& words) {
  std::ostringstream os;
  pq::write_records(os, words);
  return os.str();
}

}  // namespace

TEST_CASE("ptu: a TDateTime outside 0001-01-01..9999-12-31 is shown as invalid (issue 12)", "[ptu][issue12]") {
  // Before: 1e300 days went through an int64 cast (UBSan) and ptu-info printed year 292277026596.
  // Range ends from Delphi's MinDateTime = -693593.0 (0001-01-01) and MaxDateTime = 2958465.99999
  // (9999-12-31); the civil dates were checked with Python's datetime (1899-12-30 + n days).
  pq::HeaderTag t;
  t.type = pq::HeaderTagType::datetime;
  t.real = -693593.0;
  CHECK(t.value_string() == "0001-01-01T00:00:00Z");
  t.real = 2958465.5;
  CHECK(t.value_string() == "9999-12-31T12:00:00Z");
  t.real = 2958466.0;
  CHECK(t.value_string() == "<invalid date: 2958466 days>");
  t.real = -693594.0;
  CHECK(t.value_string() == "<invalid date: -693594 days>");
  t.real = 1e300;
  CHECK(t.value_string() == "<invalid date: 1e+300 days>");
  t.real = std::numeric_limits<double>::quiet_NaN();
  CHECK(t.value_string() == "<invalid date: nan days>");

  // The same through a file, as ptu-info reads it.
  std::istringstream in(header_with(raw_tag("File_CreatingTime", 0x21000008, std::bit_cast<std::uint64_t>(1e300))));
  const auto h = pq::read_header(in);
  REQUIRE(h.find("File_CreatingTime"));
  CHECK(h.find("File_CreatingTime")->value_string() == "<invalid date: 1e+300 days>");
}

TEST_CASE("ptu: a zero-length AnsiString is an empty string (issue 12)", "[ptu][issue12]") {
  // Before: strnlen(data() of an empty vector = nullptr, 0), undefined (UBSan nonnull-attribute).
  std::istringstream in(header_with(raw_tag("Comment", 0x4001FFFF, 0) + raw_tag("Other", 0x10000008, 7)));
  const auto h = pq::read_header(in);
  REQUIRE(h.find("Comment"));
  CHECK(h.find("Comment")->text.empty());
  CHECK(h.find("Comment")->integer == 0);
  REQUIRE(h.find("Other"));  // the tag after it is read from the right place
  CHECK(h.find("Other")->integer == 7);
}

TEST_CASE("ptu: T2 overflow records that pass 2^63 ps are an error, not a negative time (issue 12)", "[ptu][issue12]") {
  // Generic T2, 1 ps: an overflow record 0xFFFFFFFF (special, code 63, count 2^25-1) adds
  // K = (2^25-1)·2^25 ps. Record j (0-based) is allowed while (j+1)·K + (2^25-1) ≤ 2^63-1, the
  // largest time a record in that period can have; that holds for j ≤ 8191 (Python: j = 8192 is
  // the first that fails). Before the fix, 9000 such records and a photon gave a negative time.
  const std::uint64_t K = ((std::uint64_t{1} << 25) - 1) << 25;
  const std::uint64_t field = (std::uint64_t{1} << 25) - 1;
  std::vector<std::uint32_t> words(8192, 0xFFFFFFFFu);
  words.push_back(0x01FFFFFFu);  // detector field 0 (channel 1), time field 2^25-1
  const std::string head_ok = header_with("", words.size());
  const auto ok = read_all(head_ok + records_bytes(words));
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].channel == 1);
  CHECK(ok[0].time_ps == static_cast<std::int64_t>(8192 * K + field));
  CHECK(ok[0].time_ps > 0);

  std::vector<std::uint32_t> bad(9000, 0xFFFFFFFFu);
  bad.push_back(0x01FFFFFFu);
  const std::string head = header_with("", bad.size());
  const auto e = read_error(head + records_bytes(bad), 4096);
  REQUIRE(e);
  std::istringstream in(head);
  const auto data = pq::read_header(in).data_offset;
  CHECK(e->offset() == data + 4 * 8192);
  CHECK_THAT(e->what(), Catch::Contains("record #8192 (0-based, MultiHarp/generic T2): overflow record takes the "
                                        "time past 2^63 ps"));
}

TEST_CASE("ptu: T3 times that would overflow int64 are an error, not a negative time (issue 12)", "[ptu][issue12]") {
  // Generic T3, sync period 1 ms (10^9 ps, exact in the fixed point), dtime unit 1 ps. An overflow
  // record with count 1023 adds 1023·1024 syncs. Record j is allowed while
  // ((j+1)·1047552 + 1023)·10^9 + 32767 ≤ 2^63-1 (largest nsync and dtime in that period): j ≤ 8803.
  pq::PtuFileSpec spec;
  spec.record_type = RecordType::generic_t3;
  spec.global_resolution_s = 1e-3;
  spec.resolution_s = 1e-12;
  const std::uint32_t overflow = 0x80000000u | (63u << 25) | 1023u;
  const std::uint32_t photon = (0x7FFFu << 10) | 1023u;  // channel field 0, dtime 32767, nsync 1023
  std::vector<std::uint32_t> words(8804, overflow);
  words.push_back(photon);
  const auto ok = read_all(bytes_of_words(spec, words));
  REQUIRE(ok.size() == 2);
  const std::int64_t sync_ps = (std::int64_t{8804} * 1047552 + 1023) * 1000000000;
  CHECK(ok[0] == Expected{0, sync_ps});
  CHECK(ok[1] == Expected{1, sync_ps + 32767});
  CHECK(ok[1].time_ps == 9222648831000032767);  // Python, from the formula above

  words.insert(words.begin(), overflow);  // one period more: record #8804 is refused
  const auto bytes = bytes_of_words(spec, words);
  const auto e = read_error(bytes, 65536);
  REQUIRE(e);
  std::istringstream in(bytes);
  CHECK(e->offset() == pq::read_header(in).data_offset + 4 * 8804);
  CHECK_THAT(e->what(), Catch::Contains("record #8804 (0-based, MultiHarp/generic T3): overflow record takes the "
                                        "time past 2^63 ps"));

  // A sync period so coarse that one record's field could pass 2^63 ps is refused with the header:
  // PicoHarp T3, 1000 s: 65535 syncs · 10^15 ps > 2^63 ps.
  spec.record_type = RecordType::picoharp_t3;
  spec.global_resolution_s = 1e3;
  const auto coarse = bytes_of_words(spec, {0x10000001u});
  std::istringstream cin(coarse);
  try {
    pq::read_header(cin);
    FAIL("expected PtuFormatError");
  } catch (const pq::PtuFormatError& err) {
    CHECK_THAT(err.what(), Catch::Contains("is too coarse: a single record's time could pass 2^63 ps"));
  }
}

TEST_CASE("ptu: header sizes are bounded before reading (issue 12)", "[ptu][issue12]") {
  SECTION("a string longer than the per-value bound is refused before it is read") {
    // 256 MiB + 1 claimed, 0 bytes present: refused at the length field, not after reading.
    const std::string extra = raw_tag("Comment", 0x4001FFFF, (std::uint64_t{256} << 20) + 1);
    const std::string bytes = header_with(extra);
    const auto e = read_error(bytes);
    REQUIRE(e);
    CHECK(e->offset() == 16 + 3 * 48 + 40);
    CHECK_THAT(e->what(), Catch::Contains("header tag \"Comment\" (AnsiString) has length 268435457 bytes, outside "
                                          "[0, 268435456]"));
  }
  SECTION("values are bounded in total, not only one by one") {
    pq::PtuLimits limits;
    limits.max_header_value_bytes = 100;
    const std::string s64(64, 'x');
    const std::string extra = raw_tag("A", 0x4001FFFF, 64) + s64 + raw_tag("B", 0x4001FFFF, 64) + s64;
    std::istringstream in(header_with(extra));
    try {
      pq::read_header(in, limits);
      FAIL("expected PtuFormatError");
    } catch (const pq::PtuFormatError& e) {
      CHECK(e.offset() == 16 + 3 * 48 + 48 + 64 + 40);  // B's value field
      CHECK_THAT(e.what(), Catch::Contains("header tag \"B\" (AnsiString) of 64 bytes takes the header's values past "
                                           "100 bytes in all"));
    }
  }
  SECTION("an endless header (no Header_End) ends at the tag bound, with bounded reading") {
    // Like a FIFO that keeps sending tag heads: the reader stops after max_header_tags tags.
    std::string prefix(
        "PQTTTR\0\0"
        "1.0.00\0\0",
        16);
    EndlessBuf buf(prefix, raw_tag("Filler", 0xFFFF0008, 0));
    std::istream in(&buf);
    try {
      pq::read_header(in);
      FAIL("expected PtuFormatError");
    } catch (const pq::PtuFormatError& e) {
      CHECK(e.offset() == 16 + 100000 * 48);
      CHECK_THAT(e.what(), Catch::Contains("more than 100000 header tags without Header_End"));
    }
    CHECK(buf.delivered <= 16 + 100001 * 48);  // read no further than the bound
  }
  SECTION("/dev/zero is refused at byte 0") {
    if (!std::filesystem::exists("/dev/zero")) return;
    try {
      pq::PtuFileReader r("/dev/zero");
      FAIL("expected PtuFormatError");
    } catch (const pq::PtuFormatError& e) {
      CHECK(e.offset() == 0);
      CHECK_THAT(e.what(), Catch::Contains("not a PicoQuant TTTR file: the magic is \"\\x00\\x00\\x00\\x00\\x00\\x00"
                                           "\\x00\\x00\""));
    }
  }
}
