// Tests of the two-source extractors (protocol/extractor.hpp, docs/extractors.md).
// Golden values come from independent derivations named at each test: trial division and
// brute-force multiplicative orders for the number theory, the extractor's definition
// evaluated bit by bit for the fast (gf2x) path, Gaussian elimination for the rank facts the
// security proofs rest on, and the papers' output-length formulas evaluated by hand.

#include "dira/protocol/extractor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using dira::protocol::BitVector;
using dira::protocol::ExtractorKind;
using dira::protocol::ExtractorParameters;

BitVector random_bits(std::size_t size, std::mt19937_64& rng) {
  BitVector v = BitVector::zeros(size);
  for (std::size_t i = 0; i < size; ++i) v.set(i, (rng() & 1U) != 0);
  return v;
}

bool prime_by_trial_division(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

/// Multiplicative order of 2 modulo an odd n, by repeated doubling.
std::uint64_t order_of_two(std::uint64_t n) {
  std::uint64_t x = 2 % n, k = 1;
  while (x != 1) {
    x = x * 2 % n;
    ++k;
  }
  return k;
}

ExtractorParameters params(ExtractorKind kind, std::size_t n, std::size_t m) {
  ExtractorParameters p;
  p.kind = kind;
  p.n2 = n;
  p.n1 = kind == ExtractorKind::dodis ? n : n - 1;
  p.m = m;
  return p;
}

/// Rank over GF(2) of rows given as bit masks (n ≤ 64), by Gaussian elimination.
std::size_t rank_gf2(std::vector<std::uint64_t> rows) {
  std::size_t rank = 0;
  for (unsigned bit = 0; bit < 64 && rank < rows.size(); ++bit) {
    auto pivot = std::find_if(rows.begin() + static_cast<std::ptrdiff_t>(rank), rows.end(),
                              [&](std::uint64_t r) { return (r >> bit) & 1U; });
    if (pivot == rows.end()) continue;
    std::swap(*pivot, rows[rank]);
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (i != rank && ((rows[i] >> bit) & 1U)) rows[i] ^= rows[rank];
    ++rank;
  }
  return rank;
}

/// The m linear forms y ↦ sum_t d_t y_((t+i) mod n), i < m, as bit masks over y: the
/// coefficient of y_s in form i is d_((s-i) mod n). Their rank r makes
/// Pr_y[Ext(x, y) = Ext(x', y)] = 2^-r for d = x XOR x' (the hash-collision probability).
std::vector<std::uint64_t> shift_forms(std::uint64_t d, std::size_t n, std::size_t m) {
  std::vector<std::uint64_t> rows(m, 0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t s = 0; s < n; ++s)
      if ((d >> ((s + n - i) % n)) & 1U) rows[i] |= std::uint64_t{1} << s;
  return rows;
}

}  // namespace

TEST_CASE("is_prime agrees with trial division and known large cases", "[extractor]") {
  // Independent: trial division below 20000.
  for (std::uint64_t n = 0; n < 20000; ++n) REQUIRE(dira::protocol::is_prime(n) == prime_by_trial_division(n));
  CHECK(dira::protocol::is_prime((std::uint64_t{1} << 61) - 1));  // Mersenne prime M61
  CHECK(dira::protocol::is_prime(18446744073709551557ULL));       // largest 64-bit prime, 2^64 - 59
  CHECK_FALSE(dira::protocol::is_prime(3215031751ULL));           // strong pseudoprime to bases 2, 3, 5, 7
  CHECK_FALSE(dira::protocol::is_prime(3825123056546413051ULL));  // strong pseudoprime to bases 2 … 23
  CHECK_FALSE(dira::protocol::is_prime(4294967297ULL));           // F5 = 641 · 6700417
}

TEST_CASE("two_is_primitive_root agrees with a brute-force order", "[extractor]") {
  // Independent: the order of 2 computed by repeated doubling, for every prime below 5000.
  for (std::uint64_t n = 0; n < 5000; ++n) {
    const bool expected = prime_by_trial_division(n) && n >= 3 && order_of_two(n) == n - 1;
    INFO("n = " << n);
    REQUIRE(dira::protocol::two_is_primitive_root(n) == expected);
  }
  // OEIS A001122 (primes with primitive root 2) begins 3, 5, 11, 13, 19, 29, 37, 53, 59, 61, 67, 83.
  std::vector<std::uint64_t> first;
  for (std::uint64_t n = 0; first.size() < 12; ++n)
    if (dira::protocol::two_is_primitive_root(n)) first.push_back(n);
  CHECK(first == std::vector<std::uint64_t>{3, 5, 11, 13, 19, 29, 37, 53, 59, 61, 67, 83});
  CHECK(dira::protocol::two_is_primitive_root(9999973));  // used by the 10^7 benchmark
  CHECK_FALSE(dira::protocol::two_is_primitive_root(7));  // ord 3
  CHECK_FALSE(dira::protocol::two_is_primitive_root(9));  // not prime (though ord_9(2) = 6 = φ(9))
}

TEST_CASE("largest admissible lengths", "[extractor]") {
  using dira::protocol::largest_circulant_length;
  using dira::protocol::largest_dodis_length;
  // Independent: scan down with the brute-force order.
  for (std::size_t a = 0; a < 600; ++a) {
    std::size_t expected = 0;
    for (std::size_t n = a; n >= 3 && expected == 0; --n)
      if (prime_by_trial_division(n) && order_of_two(n) == n - 1) expected = n;
    REQUIRE(largest_dodis_length(a) == expected);
    REQUIRE(largest_circulant_length(a) == (largest_dodis_length(a + 1) == 0 ? 0 : largest_dodis_length(a + 1) - 1));
  }
  CHECK(largest_dodis_length(64) == 61);
  CHECK(largest_dodis_length(128) == 107);  // 109, 113, 127 have ord(2) = 36, 28, 7
  CHECK(largest_dodis_length(1000) == 947);
  CHECK(largest_dodis_length(1'000'000) == 999979);
  CHECK(largest_circulant_length(60) == 60);  // 61 admissible
  CHECK(largest_circulant_length(2) == 2);    // n = 3
  CHECK(largest_circulant_length(1) == 0);
}

TEST_CASE("index convention: bit i is <x, y shifted by i>", "[extractor]") {
  // Hand example, n = 5: x has only x_2 = 1, so z_i = y_((2+i) mod 5).
  // y = (y_0..y_4) = 1 1 0 0 1  ->  z = y_2 y_3 y_4 y_0 = 0 0 1 1.
  const BitVector x = BitVector::from_bools({false, false, true, false, false});
  const BitVector y = BitVector::from_bools({true, true, false, false, true});
  const auto p = params(ExtractorKind::dodis, 5, 4);
  CHECK(dira::protocol::extract(p, x, y).to_bools() == std::vector<bool>{false, false, true, true});
  CHECK(dira::protocol::extract_naive(p, x, y).to_bools() == std::vector<bool>{false, false, true, true});
  // Circulant, n = 5: x = x_0..x_3 = 1 0 0 1 (x_4 = 0 appended). z_i = y_i + y_(3+i):
  // i=0: y0+y3 = 1, i=1: y1+y4 = 0, i=2: y2+y0 = 1, i=3: y3+y1 = 1.
  const BitVector xc = BitVector::from_bools({true, false, false, true});
  const auto pc = params(ExtractorKind::circulant, 5, 4);
  CHECK(dira::protocol::extract(pc, xc, y).to_bools() == std::vector<bool>{true, false, true, true});
  CHECK(dira::protocol::extract_naive(pc, xc, y).to_bools() == std::vector<bool>{true, false, true, true});
}

TEST_CASE("gf2x kernel equals the definition at every length up to 200 and around word boundaries", "[extractor]") {
  // Independent: cyclic_correlation_naive evaluates each output bit as an inner product.
  std::mt19937_64 rng(20240601);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n <= 200; ++n) lengths.push_back(n);
  for (std::size_t n : {255, 256, 257, 319, 320, 321, 511, 512, 513, 1000, 1024, 1025, 2048, 3001, 4093})
    lengths.push_back(n);
  for (std::size_t n : lengths) {
    const BitVector x = random_bits(n, rng), y = random_bits(n, rng);
    for (std::size_t m : {std::size_t{0}, std::size_t{1}, n / 2, n - 1, n, static_cast<std::size_t>(rng() % n)}) {
      if (m > n) continue;
      INFO("n = " << n << ", m = " << m);
      REQUIRE(dira::protocol::cyclic_correlation(x, y, m) == dira::protocol::cyclic_correlation_naive(x, y, m));
    }
  }
  // All-ones inputs exercise every carry of the fold: z_i = n mod 2 for every i.
  for (std::size_t n : {63, 64, 65, 127, 128, 129}) {
    BitVector ones = BitVector::zeros(n);
    for (std::size_t i = 0; i < n; ++i) ones.set(i, true);
    const BitVector z = dira::protocol::cyclic_correlation(ones, ones, n);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(z.get(i) == (n % 2 == 1));
  }
}

TEST_CASE("ternary FFT products equal gf2x products and the definition", "[extractor]") {
  // Two independent multiplication algorithms (gf2x alone; Schönhage's ternary FFT with gf2x
  // only for the small pointwise products) must give the same bits; for small n both are also
  // checked against the definition. The FFT's cost model picks K = 3^k by size; these lengths
  // make it use every k from 1 to 8 (k = 8 is what the 10^7-bit benchmark runs).
  using dira::protocol::PolynomialMultiplier;
  std::mt19937_64 rng(1977);
  for (std::size_t n : {1,       2,    3, 5, 63, 64, 65, 127, 128, 129, 500, 1019,  // k = 1
                        1500,                                                       // k = 2
                        3001,    4093,                                              // k = 3
                        20011,                                                      // k = 4
                        100003,                                                     // k = 5
                        600011,                                                     // k = 6
                        2000003,                                                    // k = 7
                        5000011}) {                                                 // k = 8
    const BitVector x = random_bits(n, rng), y = random_bits(n, rng);
    INFO("n = " << n);
    const BitVector fft = dira::protocol::cyclic_correlation(x, y, n, PolynomialMultiplier::ternary_fft);
    REQUIRE(fft == dira::protocol::cyclic_correlation(x, y, n, PolynomialMultiplier::gf2x));
    if (n <= 4093)
      REQUIRE(fft == dira::protocol::cyclic_correlation_naive(x, y, n));
    else
      REQUIRE(fft.prefix(40) == dira::protocol::cyclic_correlation_naive(x, y, 40));
  }
  // `automatic` is one of the two; check it picks a correct one on both sides of the threshold.
  for (std::size_t n : {100003, 600011}) {
    const BitVector x = random_bits(n, rng), y = random_bits(n, rng);
    REQUIRE(dira::protocol::cyclic_correlation(x, y, n) ==
            dira::protocol::cyclic_correlation(x, y, n, PolynomialMultiplier::gf2x));
  }
}

TEST_CASE("extract equals extract_naive for admissible primes of both kinds", "[extractor]") {
  std::mt19937_64 rng(7);
  std::vector<std::size_t> primes;
  for (std::size_t n = 3; n < 200; ++n)
    if (dira::protocol::two_is_primitive_root(n)) primes.push_back(n);
  for (std::size_t n : {293, 509, 523, 1019, 2053, 4093}) primes.push_back(n);  // all admissible (checked below)
  for (std::size_t n : primes) {
    REQUIRE(dira::protocol::two_is_primitive_root(n));
    for (auto kind : {ExtractorKind::dodis, ExtractorKind::circulant}) {
      const std::size_t m = 1 + static_cast<std::size_t>(rng() % (n - 1));
      const auto p = params(kind, n, m);
      const BitVector x = random_bits(p.n1, rng), y = random_bits(p.n2, rng);
      INFO("kind = " << dira::protocol::to_string(kind) << ", n = " << n << ", m = " << m);
      REQUIRE(dira::protocol::extract(p, x, y) == dira::protocol::extract_naive(p, x, y));
      REQUIRE(dira::protocol::extract(p, x, y).size == m);
    }
  }
}

TEST_CASE("Ext is GF(2)-linear in each argument", "[extractor]") {
  std::mt19937_64 rng(11);
  for (auto kind : {ExtractorKind::dodis, ExtractorKind::circulant}) {
    for (std::size_t n : {61, 67, 131, 1019}) {
      const auto p = params(kind, n, n - 1);
      const BitVector x = random_bits(p.n1, rng), x2 = random_bits(p.n1, rng);
      const BitVector y = random_bits(p.n2, rng), y2 = random_bits(p.n2, rng);
      using dira::protocol::extract;
      CHECK(extract(p, x ^ x2, y) == (extract(p, x, y) ^ extract(p, x2, y)));
      CHECK(extract(p, x, y ^ y2) == (extract(p, x, y) ^ extract(p, x, y2)));
      CHECK(extract(p, BitVector::zeros(p.n1), y) == BitVector::zeros(p.m));
    }
  }
}

TEST_CASE("extract rejects inadmissible parameters", "[extractor]") {
  const auto bad = [](ExtractorKind kind, std::size_t n1, std::size_t n2, std::size_t m) {
    ExtractorParameters p;
    p.kind = kind;
    p.n1 = n1;
    p.n2 = n2;
    p.m = m;
    return p;
  };
  using dira::protocol::extract;
  using dira::protocol::validate;
  CHECK_THROWS_AS(validate(bad(ExtractorKind::dodis, 9, 9, 2)), std::invalid_argument);      // 9 not prime
  CHECK_THROWS_AS(validate(bad(ExtractorKind::dodis, 7, 7, 2)), std::invalid_argument);      // ord_7(2) = 3
  CHECK_THROWS_AS(validate(bad(ExtractorKind::dodis, 17, 17, 2)), std::invalid_argument);    // ord_17(2) = 8
  CHECK_THROWS_AS(validate(bad(ExtractorKind::dodis, 11, 13, 2)), std::invalid_argument);    // n1 != n2
  CHECK_THROWS_AS(validate(bad(ExtractorKind::circulant, 8, 9, 2)), std::invalid_argument);  // 9 not prime
  CHECK_THROWS_AS(validate(bad(ExtractorKind::circulant, 6, 7, 2)),
                  std::invalid_argument);  // n1+1 = 7: 2 not primitive
  CHECK_THROWS_AS(validate(bad(ExtractorKind::circulant, 11, 11, 2)), std::invalid_argument);  // n1 must be n2 - 1
  CHECK_THROWS_AS(validate(bad(ExtractorKind::dodis, 11, 11, 11)), std::invalid_argument);     // m > n - 1
  CHECK_NOTHROW(validate(bad(ExtractorKind::dodis, 11, 11, 10)));
  CHECK_NOTHROW(validate(bad(ExtractorKind::circulant, 10, 11, 10)));
  const auto ok = bad(ExtractorKind::circulant, 10, 11, 5);
  CHECK_THROWS_AS(extract(ok, BitVector::zeros(11), BitVector::zeros(11)), std::invalid_argument);
  CHECK_THROWS_AS(extract(ok, BitVector::zeros(10), BitVector::zeros(10)), std::invalid_argument);
  CHECK_NOTHROW(extract(ok, BitVector::zeros(10), BitVector::zeros(11)));
}

TEST_CASE("the rank facts behind the proofs, and why dira asks 2 to be a primitive root", "[extractor]") {
  // DEOR's bound needs every nonempty sum of the m ≤ n-1 shift maps to have rank ≥ n-1. For
  // a sum over S the map is multiplication by p_S(z) = sum_{i in S} z^i, deg p_S ≤ n-2.
  // Independent check by elimination, all S, for n = 11 and 13 (admissible), m = n-1.
  for (std::size_t n : {11, 13}) {
    const std::size_t m = n - 1;
    for (std::uint64_t s = 1; s < (std::uint64_t{1} << m); ++s) {
      // Rows of the matrix of x ↦ sum_{i in S} (shift by i of x): row t has bits (t - i) mod n.
      std::vector<std::uint64_t> rows(n, 0);
      for (std::size_t t = 0; t < n; ++t)
        for (std::size_t i = 0; i < m; ++i)
          if ((s >> i) & 1U) rows[t] ^= std::uint64_t{1} << ((t + n - i) % n);
      REQUIRE(rank_gf2(rows) >= n - 1);
    }
  }
  // Circulant as a hash family indexed by y: for x ≠ x' (last bit 0) the collision
  // probability is 2^-rank. With 2 primitive (n = 11, 13) every padded difference gives
  // rank m = n-1, i.e. the family is exactly two-universal, which the leftover hash lemma needs.
  for (std::size_t n : {11, 13}) {
    for (std::uint64_t d = 1; d < (std::uint64_t{1} << (n - 1)); ++d)
      REQUIRE(rank_gf2(shift_forms(d, n, n - 1)) == n - 1);
  }
  // n = 7 is prime but ord_7(2) = 3: z^7 - 1 = (z+1)(z^3+z+1)(z^3+z^2+1), and the padded
  // difference d = (z+1)(z^3+z+1) = 1 + z^2 + z^3 + z^4 collides with probability
  // 2^-3 > 2^-4 at m = 4, so the family is not two-universal there.
  CHECK(rank_gf2(shift_forms(0b0011101, 7, 4)) == 3);
  // Likewise n = 17 (ord 8): some padded difference has rank < 16.
  std::size_t worst = 16;
  for (std::uint64_t d = 1; d < (std::uint64_t{1} << 16); ++d)
    worst = std::min(worst, rank_gf2(shift_forms(d, 17, 16)));
  CHECK(worst < 16);
  // And the padding matters: for dodis inputs the all-ones difference has rank 1
  // (Φ_n = 1 + z + … + z^(n-1) divides it), which is why the circulant family fixes x_(n-1) = 0.
  CHECK(rank_gf2(shift_forms((std::uint64_t{1} << 11) - 1, 11, 10)) == 1);
}

TEST_CASE("plan_extractor: output lengths by hand from the papers' formulas", "[extractor]") {
  using dira::protocol::choose_extractor;
  using dira::protocol::plan_extractor;
  // Both sources offer 1000 bits; certified min-entropies 900 and 950; target error 2^-32.
  // The largest admissible prime ≤ 1000 is 947, so dodis cuts 53 bits of each source:
  // k1' = 900 - 53 = 847, k2' = 950 - 53 = 897.
  // Dodis, no side information (DEOR): m = k1' + k2' - n + 1 + 2 log2 ε
  //   = 847 + 897 - 947 + 1 - 64 = 734, error exactly 2^((734 + 947 - 1 - 847 - 897)/2) = 2^-32.
  const auto d = plan_extractor(ExtractorKind::dodis, 1000, 1000, 900, 950, -32, false);
  REQUIRE(d);
  CHECK(d->n1 == 947);
  CHECK(d->n2 == 947);
  CHECK(d->k1 == 847);
  CHECK(d->k2 == 897);
  CHECK(d->m == 734);
  CHECK(d->log2_error == Approx(-32.0));
  // Dodis in the Markov model (Arnon-Friedman–Portmann–Scholz, as in Cryptomite's table):
  // m = (k1' + k2' - n + 8 log2 ε + 9 - 4 log2 3) / 5 = (797 - 256 + 9 - 6.33985) / 5
  //   = 543.66015 / 5 = 108.73 -> 108.
  const auto dq = plan_extractor(ExtractorKind::dodis, 1000, 1000, 900, 950, -32, true);
  REQUIRE(dq);
  CHECK(dq->m == 108);
  CHECK(dq->log2_error <= -32);
  // Circulant: n1 ≤ min(1000, 999), largest n1 with n1 + 1 admissible is 946 (n = 947):
  // k1' = 900 - 54 = 846, k2' = 950 - 53 = 897; m = 846 + 897 - 947 - 64 = 732, in both models.
  for (bool side : {false, true}) {
    const auto c = plan_extractor(ExtractorKind::circulant, 1000, 1000, 900, 950, -32, side);
    REQUIRE(c);
    CHECK(c->n1 == 946);
    CHECK(c->n2 == 947);
    CHECK(c->k1 == 846);
    CHECK(c->m == 732);
    CHECK(c->log2_error == Approx(-32.0));
  }
  // Choice: classically dodis wins by two bits; with side information the circulant wins.
  CHECK(choose_extractor(1000, 1000, 900, 950, -32, false)->kind == ExtractorKind::dodis);
  CHECK(choose_extractor(1000, 1000, 900, 950, -32, true)->kind == ExtractorKind::circulant);
}

TEST_CASE("plan_extractor: AFPS two-step derivation reproduces the Markov-model bound", "[extractor]") {
  // Independent derivation of the dodis Markov bound at the planned m: choose the classical
  // error ε_c, check DEOR's bound at min-entropies k_i + log2 ε_c is ≤ ε_c, then apply
  // ε = sqrt(3 ε_c 2^(m-2)).
  const auto p = dira::protocol::plan_extractor(ExtractorKind::dodis, 5000, 4000, 4500, 3700, -40, true);
  REQUIRE(p);
  REQUIRE(p->m > 0);
  const double n = static_cast<double>(p->prime()), m = static_cast<double>(p->m);
  const double log2_ec = (m + n - 1 - p->k1 - p->k2) / 4;
  const double deor = (m + n - 1 - (p->k1 + log2_ec) - (p->k2 + log2_ec)) / 2;
  CHECK(deor <= log2_ec + 1e-9);
  const double quantum = 0.5 * (std::log2(3.0) + log2_ec + m - 2);
  CHECK(p->log2_error == Approx(quantum));
  CHECK(p->log2_error <= -40);
}

TEST_CASE("plan_extractor: m is the largest length meeting the target", "[extractor]") {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t a1 = 3 + rng() % 5000, a2 = 3 + rng() % 5000;
    const double k1 = static_cast<double>(a1) * std::uniform_real_distribution<double>(0.3, 1.0)(rng);
    const double k2 = static_cast<double>(a2) * std::uniform_real_distribution<double>(0.3, 1.0)(rng);
    const double target = -std::uniform_real_distribution<double>(1, 100)(rng);
    for (auto kind : {ExtractorKind::dodis, ExtractorKind::circulant})
      for (bool side : {false, true}) {
        const auto p = dira::protocol::plan_extractor(kind, a1, a2, k1, k2, target, side);
        if (!p) continue;
        INFO(p->statement);
        REQUIRE_NOTHROW(dira::protocol::validate(*p));
        REQUIRE(p->n1 <= a1);
        REQUIRE(p->n2 <= a2);
        if (p->m == 0) {
          REQUIRE(dira::protocol::log2_error_bound(kind, p->prime(), 1, p->k1, p->k2, side) > target);
          continue;
        }
        REQUIRE(p->log2_error <= target);
        if (p->m < p->prime() - 1)
          REQUIRE(dira::protocol::log2_error_bound(kind, p->prime(), p->m + 1, p->k1, p->k2, side) > target);
      }
  }
}

TEST_CASE("plan_extractor: m = 0 explains itself — bad arguments throw", "[extractor]") {
  using dira::protocol::plan_extractor;
  // k1 + k2 = 1000 < n: nothing can be extracted; the statement carries the numbers.
  const auto p = plan_extractor(ExtractorKind::circulant, 1000, 1000, 500, 500, -32, false);
  REQUIRE(p);
  CHECK(p->m == 0);
  CHECK(std::isinf(p->log2_error));
  CHECK(p->statement.find("No output") != std::string::npos);
  CHECK(p->statement.find("m = -118.000") != std::string::npos);  // k1' + k2' - n + 2 log2 ε = 446 + 447 - 947 - 64
  CHECK_FALSE(plan_extractor(ExtractorKind::dodis, 2, 1000, 1, 1, -10, false));
  CHECK_FALSE(plan_extractor(ExtractorKind::circulant, 1000, 2, 1, 1, -10, false));
  CHECK_THROWS_AS(plan_extractor(ExtractorKind::dodis, 100, 100, 101, 50, -10, false), std::invalid_argument);
  CHECK_THROWS_AS(plan_extractor(ExtractorKind::dodis, 100, 100, -1, 50, -10, false), std::invalid_argument);
  CHECK_THROWS_AS(plan_extractor(ExtractorKind::dodis, 100, 100, 90, 90, 0, false), std::invalid_argument);
  CHECK_THROWS_AS(plan_extractor(ExtractorKind::dodis, 100, 100, NAN, 90, -5, false), std::invalid_argument);
}

namespace {

/// Tallies: ones per output bit and the histogram of output bytes (whole bytes only).
struct Tally {
  std::vector<std::size_t> ones;
  std::vector<std::size_t> bytes = std::vector<std::size_t>(256, 0);
  std::size_t trials = 0;

  explicit Tally(std::size_t m) : ones(m, 0) {}
  void add(const BitVector& z) {
    ++trials;
    for (std::size_t i = 0; i < z.size; ++i) ones[i] += z.get(i);
    for (std::size_t b = 0; b + 8 <= z.size; b += 8) ++bytes[(z.words[b / 64] >> (b % 64)) & 0xFFU];
  }
  /// Largest |ones - T/2| in units of σ = sqrt(T)/2.
  double worst_sigma() const {
    double worst = 0;
    const double t = static_cast<double>(trials);
    for (std::size_t c : ones) worst = std::max(worst, std::fabs(static_cast<double>(c) - t / 2) / (std::sqrt(t) / 2));
    return worst;
  }
  /// Pearson chi-square of the byte histogram against uniform (255 degrees of freedom).
  double chi_square() const {
    double total = 0;
    for (std::size_t c : bytes) total += static_cast<double>(c);
    const double expected = total / 256;
    double chi = 0;
    for (std::size_t c : bytes)
      chi += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
    return chi;
  }
};

// χ² with 255 degrees of freedom has mean 255 and standard deviation sqrt(510) ≈ 22.6; the
// tests accept anything below mean + 5σ ≈ 368 (and a 5σ bound per output bit).
constexpr double kChiSquareLimit = 255 + 5 * 22.5832;

}  // namespace

TEST_CASE("output is uniform when x is uniform and y is fixed", "[extractor]") {
  // Independent reason: for x uniform the output is the image of x under the m shift forms
  // of y; for y ∉ {0, 1^n} and 2 primitive they have rank m (the rank test above), so the
  // output is exactly uniform and only sampling noise remains.
  std::mt19937_64 rng(99);
  for (auto kind : {ExtractorKind::dodis, ExtractorKind::circulant}) {
    const auto p = params(kind, 1019, 1018);
    BitVector y = BitVector::zeros(p.n2);
    y.set(0, true);
    y.set(5, true);
    y.set(700, true);  // weight 3: far from uniform, still a valid fixed seed
    Tally tally(p.m);
    for (int t = 0; t < 2000; ++t) tally.add(dira::protocol::extract(p, random_bits(p.n1, rng), y));
    INFO(dira::protocol::to_string(kind));
    CHECK(tally.worst_sigma() < 5);
    CHECK(tally.chi_square() < kChiSquareLimit);
  }
}

TEST_CASE("output is uniform for two weak sources at the planned length", "[extractor]") {
  // Flat sources: x has its last 119 of 1019 bits fixed to 0 (k1 = 900); y has every 10th bit
  // fixed to 1 (k2 = 1019 - 102 = 917). The plan's m carries error ≤ 2^-40, far below what
  // 1500 samples can see, so the tallies must look uniform.
  std::mt19937_64 rng(5);
  for (bool side : {false, true}) {
    const auto p = dira::protocol::choose_extractor(1019, 1019, 900, 917, -40, side);
    REQUIRE(p);
    REQUIRE(p->m > 50);
    INFO(p->statement);
    Tally tally(p->m);
    for (int t = 0; t < 1500; ++t) {
      BitVector x = random_bits(p->n1, rng), y = random_bits(p->n2, rng);
      for (std::size_t i = 900; i < p->n1; ++i) x.set(i, false);
      for (std::size_t i = 0; i < p->n2; i += 10) y.set(i, true);
      tally.add(dira::protocol::extract(*p, x, y));
    }
    CHECK(tally.worst_sigma() < 5);
    CHECK(tally.chi_square() < kChiSquareLimit);
  }
}
