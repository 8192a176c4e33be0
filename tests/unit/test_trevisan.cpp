// Tests of Trevisan's extractor (protocol/trevisan.hpp, docs/extractors.md "Trevisan's
// extractor with a weak seed (Protocol C)"). Golden values come from independent derivations
// named at each test: schoolbook products with long division for GF(2^s), trial division and
// Rabin's test (own implementation) for irreducibility, discrete-log tables for the one-bit
// extractor, set intersections enumerated pair by pair for the weak design, the extractor's
// definition evaluated bit by bit, hand computations, and the output-length formula solved
// by hand.

#include "dira/protocol/trevisan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace {

using dira::protocol::BitVector;
using dira::protocol::TrevisanParameters;
using dira::protocol::WeakDesign;

using Poly = std::vector<std::uint64_t>;  // bit i = coefficient of z^i

int deg(const Poly& p) {
  for (std::size_t i = p.size() * 64; i-- > 0;)
    if ((p[i / 64] >> (i % 64)) & 1U) return static_cast<int>(i);
  return -1;
}
bool bit(const Poly& p, std::size_t i) {
  return i / 64 < p.size() && ((p[i / 64] >> (i % 64)) & 1U);
}
void flip(Poly& p, std::size_t i) {
  if (i / 64 >= p.size()) p.resize(i / 64 + 1, 0);
  p[i / 64] ^= std::uint64_t{1} << (i % 64);
}

/// Schoolbook product, one coefficient pair at a time.
Poly schoolbook(const Poly& a, const Poly& b) {
  Poly c(a.size() + b.size(), 0);
  for (std::size_t i = 0; i < a.size() * 64; ++i)
    if (bit(a, i))
      for (std::size_t j = 0; j < b.size() * 64; ++j)
        if (bit(b, j)) flip(c, i + j);
  return c;
}

/// a mod f by long division (bit by bit from the top).
Poly mod(Poly a, const Poly& f) {
  const int df = deg(f);
  for (int da = deg(a); da >= df; da = deg(a))
    for (int i = 0; i <= df; ++i)
      if (bit(f, static_cast<std::size_t>(i))) flip(a, static_cast<std::size_t>(da - df + i));
  a.resize(std::max<std::size_t>(1, (static_cast<std::size_t>(df) + 63) / 64), 0);
  return a;
}

Poly field_poly(unsigned s, std::uint64_t g) {
  Poly f(s / 64 + 1, 0);
  f[0] = g;
  flip(f, s);
  return f;
}

Poly gcd(Poly a, Poly b) {
  while (deg(b) >= 0) {
    Poly r = mod(a, b);
    a = b;
    b = r;
  }
  return a;
}

/// Rabin's test: f of degree s is irreducible iff z^(2^s) ≡ z mod f and
/// gcd(z^(2^(s/p)) − z, f) = 1 for every prime p | s.
bool rabin_irreducible(unsigned s, std::uint64_t g) {
  const Poly f = field_poly(s, g);
  std::vector<unsigned> prime_factors;
  for (unsigned p = 2, x = s; x > 1; ++p)
    if (x % p == 0) {
      prime_factors.push_back(p);
      while (x % p == 0) x /= p;
    }
  Poly z(1, 2);
  auto frobenius = [&](unsigned times) {  // z^(2^times) mod f
    Poly h = z;
    for (unsigned i = 0; i < times; ++i) h = mod(schoolbook(h, h), f);
    return h;
  };
  Poly top = frobenius(s);
  Poly diff = top;
  flip(diff, 1);
  if (deg(diff) >= 0) return false;
  for (unsigned p : prime_factors) {
    Poly h = frobenius(s / p);
    flip(h, 1);
    if (deg(gcd(f, h)) != 0) return false;
  }
  return true;
}

bool irreducible_by_trial_division(unsigned s, std::uint64_t g) {
  const Poly f = field_poly(s, g);
  for (std::uint64_t d = 2; d < (std::uint64_t{1} << (s / 2 + 1)); ++d)
    if (deg(mod(f, Poly{d})) < 0) return false;
  return true;
}

Poly random_element(unsigned s, std::mt19937_64& rng) {
  Poly a((s + 63) / 64, 0);
  for (auto& w : a) w = rng();
  if (s % 64 != 0) a.back() &= (std::uint64_t{1} << (s % 64)) - 1;
  return a;
}

BitVector random_bits(std::size_t size, std::mt19937_64& rng) {
  BitVector v = BitVector::zeros(size);
  for (std::size_t i = 0; i < size; ++i) v.set(i, (rng() & 1U) != 0);
  return v;
}

}  // namespace

TEST_CASE("the field polynomials are irreducible (trial division, Rabin's test) and the smallest", "[trevisan]") {
  using dira::protocol::gf2_irreducible_low_terms;
  // Independent negative/positive controls of our Rabin implementation: z^64 + z^4 + z^3 + z + 1
  // and z^128 + z^7 + z^2 + z + 1 are the standard low-weight irreducibles (GHASH uses the
  // latter); z^64 + z + 1 is reducible (Swan: no irreducible trinomial of degree ≡ 0 mod 8).
  CHECK(rabin_irreducible(64, 0x1B));
  CHECK(rabin_irreducible(128, 0x87));
  CHECK_FALSE(rabin_irreducible(64, 0x3));
  CHECK(irreducible_by_trial_division(8, 0x1B));       // AES's z^8 + z^4 + z^3 + z + 1
  CHECK_FALSE(irreducible_by_trial_division(8, 0x3));  // z^8 + z + 1 = (z²+z+1)(z⁶+z⁵+z³+z²+1)

  for (unsigned s = 2; s <= 20; ++s) {
    const std::uint64_t g = gf2_irreducible_low_terms(s);
    INFO("s = " << s << ", g = " << g);
    CHECK(irreducible_by_trial_division(s, g));
    for (std::uint64_t smaller = 1; smaller < g; ++smaller) CHECK_FALSE(irreducible_by_trial_division(s, smaller));
  }
  for (unsigned s : {63U, 64U, 65U, 100U, 128U, 160U, 200U, 256U, 384U, 512U}) {
    const std::uint64_t g = gf2_irreducible_low_terms(s);
    INFO("s = " << s << ", g = " << g);
    CHECK(rabin_irreducible(s, g));
    // Minimality, checked for the smaller degrees (each Rabin test at s = 512 is slow).
    if (s <= 128)
      for (std::uint64_t smaller = 1; smaller < g; smaller += 2)
        if (__builtin_popcountll(smaller) % 2 == 0) CHECK_FALSE(rabin_irreducible(s, smaller));
  }
  CHECK(gf2_irreducible_low_terms(8) == 0x1B);
  CHECK(gf2_irreducible_low_terms(64) == 0x1B);
}

TEST_CASE("GF(2^s) products agree with schoolbook multiplication and long division", "[trevisan]") {
  std::mt19937_64 rng(11);
  for (unsigned s : {2U, 5U, 8U, 13U, 63U, 64U, 65U, 100U, 127U, 128U, 129U, 191U, 256U, 300U, 448U, 511U, 512U}) {
    const std::uint64_t g = dira::protocol::gf2_irreducible_low_terms(s);
    const Poly f = field_poly(s, g);
    for (int trial = 0; trial < 6; ++trial) {
      const Poly a = random_element(s, rng), b = random_element(s, rng);
      Poly expect = mod(schoolbook(a, b), f);
      expect.resize(a.size(), 0);
      INFO("s = " << s);
      CHECK(dira::protocol::gf2_field_multiply(a, b, s, g) == expect);
    }
  }
  // Hand computation in GF(2^8) (AES field): 0x57 · 0x83 = 0xC1 (FIPS-197 §4.2).
  CHECK(dira::protocol::gf2_field_multiply({0x57}, {0x83}, 8, 0x1B) == Poly{0xC1});
}

TEST_CASE("one-bit extractor: hand example and discrete-log evaluation in GF(2^8)", "[trevisan]") {
  using dira::protocol::polynomial_hash_bit;
  // Hand: GF(4) = GF(2)[z]/(z² + z + 1); x = 1,0,0,1 → c0 = 1, c1 = z; α = z, β = (1, 1).
  // p(α) = 1 + z·z = 1 + z + 1 = z → bits (0, 1); ⟨(0,1), (1,1)⟩ = 1.
  CHECK(dira::protocol::gf2_irreducible_low_terms(2) == 0x3);
  CHECK(polynomial_hash_bit(BitVector::from_bools({true, false, false, true}), 2, 0x3,
                            BitVector::from_bools({false, true, true, true})));
  // β = (1, 0) picks the z^0 bit of p(α) = z: 0.
  CHECK_FALSE(polynomial_hash_bit(BitVector::from_bools({true, false, false, true}), 2, 0x3,
                                  BitVector::from_bools({false, true, true, false})));

  // GF(2^8) with z^8 + z^4 + z^3 + z + 1: log/antilog tables over a generator found by brute
  // force, p(α) = Σ_j c_j α^j as exp(log c_j + j·log α) — a different representation.
  const unsigned s = 8;
  const std::uint64_t g = 0x1B;
  auto slow_mul = [&](unsigned a, unsigned b) {
    unsigned r = 0;
    for (int i = 0; i < 8; ++i) {
      if ((b >> i) & 1U) r ^= a;
      a <<= 1;
      if (a & 0x100U) a ^= 0x100U | static_cast<unsigned>(g);
    }
    return r;
  };
  unsigned generator = 0;
  std::vector<unsigned> exp_table(255), log_table(256, 0);
  for (unsigned cand = 2; cand < 256 && generator == 0; ++cand) {
    unsigned x = 1, order = 0;
    do {
      x = slow_mul(x, cand);
      ++order;
    } while (x != 1);
    if (order == 255) generator = cand;
  }
  REQUIRE(generator != 0);
  for (unsigned e = 0, x = 1; e < 255; ++e, x = slow_mul(x, generator)) {
    exp_table[e] = x;
    log_table[x] = e;
  }
  std::mt19937_64 rng(5);
  for (std::size_t n : {1U, 8U, 9U, 64U, 1000U}) {
    for (int trial = 0; trial < 20; ++trial) {
      const BitVector x = random_bits(n, rng), seed = random_bits(2 * s, rng);
      unsigned alpha = 0, beta = 0;
      for (unsigned b = 0; b < s; ++b) {
        alpha |= static_cast<unsigned>(seed.get(b)) << b;
        beta |= static_cast<unsigned>(seed.get(s + b)) << b;
      }
      unsigned value = 0;
      for (std::size_t j = 0; j * s < n; ++j) {
        unsigned c = 0;
        for (unsigned b = 0; b < s && j * s + b < n; ++b) c |= static_cast<unsigned>(x.get(j * s + b)) << b;
        if (c == 0) continue;
        if (alpha == 0) {
          if (j == 0) value ^= c;  // α^0 = 1
          continue;
        }
        value ^= exp_table[(log_table[c] + j * log_table[alpha]) % 255];
      }
      const bool expect = (__builtin_popcount(value & beta) & 1) != 0;
      INFO("n = " << n);
      CHECK(polynomial_hash_bit(x, s, g, seed) == expect);
    }
  }
}

TEST_CASE("line designs: sets, seed length and the weak-design sum by enumeration", "[trevisan]") {
  for (const WeakDesign design :
       {WeakDesign{4, 5, 1}, WeakDesign{4, 5, 5}, WeakDesign{4, 5, 6}, WeakDesign{4, 5, 25}, WeakDesign{6, 7, 30},
        WeakDesign{6, 11, 70}, WeakDesign{16, 17, 289}, WeakDesign{16, 37, 200}, WeakDesign{10, 13, 3}}) {
    INFO("t = " << design.t << ", q = " << design.q << ", m = " << design.m);
    const std::size_t d = dira::protocol::weak_design_seed_length(design);
    std::vector<std::set<std::size_t>> sets;
    std::set<std::size_t> all;
    for (std::size_t i = 0; i < design.m; ++i) {
      const auto v = dira::protocol::weak_design_set(design, i);
      std::set<std::size_t> set(v.begin(), v.end());
      REQUIRE(set.size() == design.t);
      REQUIRE(*set.rbegin() < d);
      all.insert(set.begin(), set.end());
      sets.push_back(set);
    }
    CHECK(all.size() == d);  // every seed position is used
    std::uint64_t worst = 0;
    for (std::size_t i = 0; i < design.m; ++i) {
      std::uint64_t sum = 0;
      for (std::size_t j = 0; j < i; ++j) {
        std::size_t common = 0;
        for (std::size_t x : sets[i]) common += sets[j].count(x);
        sum += std::uint64_t{1} << common;
      }
      worst = std::max(worst, sum);
    }
    CHECK(worst == dira::protocol::weak_design_overlap_sum(design));
    const double r = dira::protocol::weak_design_r(design);
    CHECK(static_cast<double>(worst) <= r * static_cast<double>(design.m > 1 ? design.m - 1 : 0) + 1e-9);
    CHECK(r >= 1.0);
    CHECK(r <= 1.0 + static_cast<double>(design.t) / static_cast<double>(design.q) + 1e-12);
  }
}

TEST_CASE("Trevisan's extractor agrees with its definition evaluated bit by bit", "[trevisan]") {
  std::mt19937_64 rng(2024);
  struct Case {
    std::size_t n, m;
    unsigned s;
    std::size_t q;
  };
  for (const Case c : {Case{1, 1, 2, 5}, Case{7, 3, 2, 5}, Case{100, 40, 8, 17}, Case{1000, 5, 13, 29},
                       Case{1000, 40, 8, 17}, Case{333, 280, 8, 17}, Case{2000, 9, 64, 131}, Case{1500, 6, 70, 149},
                       Case{3000, 7, 130, 263}, Case{640, 5, 320, 641}}) {
    const TrevisanParameters p = dira::protocol::trevisan_structure(c.n, c.m, c.s, c.q);
    for (int trial = 0; trial < 3; ++trial) {
      const BitVector x = random_bits(p.n, rng), y = random_bits(p.d, rng);
      INFO("n = " << c.n << ", m = " << c.m << ", s = " << c.s << ", q = " << c.q);
      const BitVector fast = dira::protocol::trevisan_extract(p, x, y);
      CHECK(fast.size == p.m);
      CHECK(fast == dira::protocol::trevisan_extract_naive(p, x, y));
      // Bit i is also the one-bit extractor on y restricted to S_i (T1, T3).
      for (std::size_t i = 0; i < std::min<std::size_t>(p.m, 4); ++i) {
        const auto set = dira::protocol::weak_design_set(p.design(), i);
        BitVector sub = BitVector::zeros(p.t());
        for (std::size_t a = 0; a < p.t(); ++a) sub.set(a, y.get(set[a]));
        CHECK(fast.get(i) == dira::protocol::polynomial_hash_bit(x, p.s, p.field_low_terms, sub));
      }
    }
  }
  const TrevisanParameters p = dira::protocol::trevisan_structure(100, 4, 8, 17);
  CHECK_THROWS_AS(dira::protocol::trevisan_extract(p, BitVector::zeros(99), BitVector::zeros(p.d)),
                  std::invalid_argument);
  CHECK_THROWS_AS(dira::protocol::trevisan_structure(100, 4, 8, 15), std::invalid_argument);  // 15 not prime
  CHECK_THROWS_AS(dira::protocol::trevisan_structure(100, 4, 8, 13), std::invalid_argument);  // q < 2s
}

TEST_CASE("plan_trevisan: formulas hold, error below target, output length as solved by hand", "[trevisan]") {
  // Uniform seed, n = 4·10^5, k = 2000, target 2^-40. Hand solution: with r = 1 (q ≥ m) and s
  // large enough that (N−1)/2^s is negligible, (T2) needs 2^(1−k₁) ≤ 4·2^(−2L), i.e.
  // k₁ ≥ 2L − 1, and (T5) k ≥ k₁ + m + L, with L = log2(1/ε₁) ≥ 40 + log2 m. So
  // m ≤ k + 1 − 3·(40 + log2 m): m = 1848 gives 2001 − 3·(40 + 10.852) = 1848.44 ≥ 1848, and
  // m = 1849 gives 1848.44 < 1849. The planner must find m = 1848.
  const auto plan = dira::protocol::plan_trevisan(400000, 2000, -40);
  REQUIRE(plan);
  CHECK(plan->m == 1848);
  CHECK(plan->log2_error <= -40);
  CHECK(plan->seed_deficiency == 0);
  // Recompute (T2) and (T5) from the stored parameters.
  const double N = std::ceil(400000.0 / plan->s);
  const double eps1 = 0.5 * std::sqrt((N - 1) / std::exp2(plan->s) + std::exp2(1 - plan->k1));
  CHECK(std::log2(eps1) == Approx(plan->log2_eps1).margin(1e-9));
  CHECK(plan->k1 + plan->r * static_cast<double>(plan->m) + std::log2(1 / eps1) <= 2000 + 1e-6);
  CHECK(std::log2(static_cast<double>(plan->m) * eps1) == Approx(plan->log2_error).margin(1e-9));
  CHECK(plan->r == Approx(dira::protocol::weak_design_r(plan->design())));
  CHECK(plan->d == plan->t() * std::min(plan->m, plan->q));
  CHECK(rabin_irreducible(plan->s, plan->field_low_terms));

  // A cap on the output is honoured; nothing fits when k is tiny.
  const auto capped = dira::protocol::plan_trevisan(400000, 2000, -40, 0, SIZE_MAX, 256);
  REQUIRE(capped);
  CHECK(capped->m == 256);
  CHECK(capped->log2_error <= -40);
  const auto none = dira::protocol::plan_trevisan(400000, 100, -40);
  REQUIRE(none);
  CHECK(none->m == 0);  // needs k ≥ 3·40 + ... > 100
  CHECK(std::isinf(none->log2_error));
  CHECK_THROWS_AS(dira::protocol::plan_trevisan(1000, 2000, -40), std::invalid_argument);
  CHECK_THROWS_AS(dira::protocol::plan_trevisan(1000, 100, 0.5), std::invalid_argument);
  CHECK_FALSE(dira::protocol::plan_trevisan(1, 1, -10));
}
