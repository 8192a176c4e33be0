// Reading a weak source in bulk (SvSource::next_bits) must give exactly the bits one-at-a-time
// reading gives: run files name a seed, and `dira analyze` replays from it. The reference is
// the per-bit path (next_bit), an independent reading of the same source.
#include "dira/protocol/sv_source.hpp"
#include "dira/sim/sv_sources.hpp"

#include <catch2/catch.hpp>

using namespace dira;

TEST_CASE("IidSvSource: next_bits is the same sequence as next_bit", "[svsource]") {
  for (double bias : {0.0, 0.01, -0.2, 0.49}) {
    sim::IidSvSource a(bias, 42), b(bias, 42);
    for (unsigned count : {1u, 4u, 7u, 64u, 3u, 33u}) {
      for (int rep = 0; rep < 50; ++rep) {
        unsigned taken = 0;
        const std::uint64_t bulk = a.next_bits(count, &taken);
        CHECK(taken == count);
        std::uint64_t one = 0;
        for (unsigned i = 0; i < count; ++i) one = (one << 1) | (b.next_bit() ? 1u : 0u);
        REQUIRE(bulk == one);
      }
    }
  }
}

TEST_CASE("IidSvSource: integer threshold equals the floating-point comparison", "[svsource]") {
  // bit = 0 iff uniform() < ½ + bias, uniform() = m·2⁻⁵³; count zeros with the floating-point
  // rule on a copy of the generator and compare with the source's own bits.
  const double bias = 0.0123456789;
  sim::IidSvSource src(bias, 7);
  sim::Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    const bool expected = !(rng.uniform() < 0.5 + bias);
    REQUIRE(src.next_bit() == expected);
  }
}

TEST_CASE("IidSvSource: words of 64 bits read in any widths give the generator's bits", "[svsource]") {
  // A long read (3·2^20 bits) in mixed widths, crossing word boundaries at every offset, against
  // the floating-point rule on a copy of the generator stepped here one bit at a time: the
  // reference shares nothing with the source's code path.
  const double bias = 0.01;
  sim::IidSvSource src(bias, 3);
  sim::Rng rng(3);
  const unsigned widths[] = {4, 4, 4, 1, 64, 7, 33, 4, 63, 2};
  std::uint64_t bits = 0, first_wrong = UINT64_MAX;  // bit position of the first read that differs
  for (std::size_t k = 0; bits < 3 * (std::uint64_t{1} << 20) && first_wrong == UINT64_MAX; ++k) {
    const unsigned count = widths[k % std::size(widths)];
    unsigned taken = 0;
    const std::uint64_t got = src.next_bits(count, &taken);
    std::uint64_t want = 0;
    for (unsigned i = 0; i < count; ++i) want = (want << 1) | (rng.uniform() < 0.5 + bias ? 0u : 1u);
    if (got != want || taken != count) first_wrong = bits;
    bits += count;
  }
  CHECK(first_wrong == UINT64_MAX);
  CHECK(src.next_bit() == !(rng.uniform() < 0.5 + bias));
}

TEST_CASE("BitLedger: bulk draws account exactly, also when a finite source runs out", "[svsource]") {
  // 20 bits: 1010 1010 1010 1010 1010 (MSB of each byte first).
  protocol::BufferSvSource src = protocol::BufferSvSource::from_bytes({0xAA, 0xAA, 0xA0}, "test");
  protocol::BitLedger ledger(src);
  CHECK(ledger.draw(protocol::BitPurpose::setting, 4, 0) == 0xA);
  CHECK(ledger.draw(protocol::BitPurpose::setting, 8, 1) == 0xAA);
  CHECK(ledger.bits_drawn() == 12);
  REQUIRE(ledger.entries().size() == 1);  // consecutive setting draws merge into one entry
  CHECK(ledger.entries()[0].bit_count == 12);
  CHECK(ledger.entries()[0].last_item == 1);
  // 24 source bits exist (from three bytes), 12 are left: asking for 16 takes the 12, then fails.
  CHECK_THROWS_AS(ledger.draw(protocol::BitPurpose::setting, 16, 2), protocol::SourceExhausted);
  CHECK(ledger.bits_drawn() == 24);  // the 12 bits taken before the failure stay accounted
  CHECK(ledger.entries().back().bit_count == 24);
}
