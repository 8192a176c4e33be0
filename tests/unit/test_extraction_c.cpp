// Tests of Protocol C's extraction step (protocol/extraction_c.hpp, docs/extractors.md
// "Trevisan's extractor with a weak seed (Protocol C)"). Golden values: the output-length
// formulas solved by hand (circulant: [Cryptomite] m = k1 + k2 − n + 2 log2 ε after the cut
// penalties; Trevisan with a weak seed: (T2), (T5), (T6)), the largest admissible prime found by
// trial division and brute-force orders, and the extractors' definitions evaluated bit by bit.

#include "dira/protocol/extraction_c.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

namespace {

using dira::protocol::BitVector;
using dira::protocol::ExtractionPlanC;

BitVector random_bits(std::size_t size, std::mt19937_64& rng) {
  BitVector v = BitVector::zeros(size);
  for (std::size_t i = 0; i < size; ++i) v.set(i, (rng() & 1U) != 0);
  return v;
}

/// Largest prime n ≤ at_most with 2 of order n − 1 mod n, by trial division and doubling.
std::size_t largest_prime_with_primitive_two(std::size_t at_most) {
  for (std::size_t n = at_most; n >= 3; --n) {
    bool prime = true;
    for (std::size_t d = 2; d * d <= n; ++d)
      if (n % d == 0) prime = false;
    if (!prime) continue;
    std::size_t x = 2 % n, order = 1;
    while (x != 1) {
      x = x * 2 % n;
      ++order;
    }
    if (order == n - 1) return n;
  }
  return 0;
}

}  // namespace

TEST_CASE("Protocol C picks the two-source extractor when the rates sum well above one", "[extraction-c]") {
  // Device 10^4 bits with k = 6000, ε = 10^-3, 10^4 weak bits, target 2^-40.
  const double eps = 1e-3, h = -std::log2(0.5 + eps);
  const auto plan = dira::protocol::plan_extraction_c(10000, 6000, eps, -40, 10000);
  CHECK(plan.kind == ExtractionPlanC::Kind::two_source);
  REQUIRE(plan.two_source);
  CHECK(plan.two_source->kind == dira::protocol::ExtractorKind::circulant);
  // Hand: circulant with the largest admissible prime n ≤ 10^4 (x: n − 1 bits, y: n bits);
  // the cuts cost 10^4 − (n − 1) and 10^4 − n bits; m = ⌊k1' + k2' − n − 2·40⌋.
  const std::size_t n = largest_prime_with_primitive_two(10000);
  const double k1 = 6000.0 - static_cast<double>(10000 - (n - 1));
  const double k2 = 10000.0 * h - static_cast<double>(10000 - n);
  const auto expect_m = static_cast<std::size_t>(std::floor(k1 + k2 - static_cast<double>(n) - 80));
  CHECK(plan.output_bits == expect_m);
  CHECK(plan.device_bits == n - 1);
  CHECK(plan.weak_bits == n);
  CHECK(plan.log2_error <= -40);
  CHECK(plan.statement.find("two-source") != std::string::npos);
  CHECK(plan.statement.find("Trevisan weak-seed route: m = ") != std::string::npos);
}

TEST_CASE("Protocol C needs Trevisan with a weak seed at device rate 0.005 and ε = 0.03", "[extraction-c]") {
  // 4·10^5 device bits with k = 2000 (0.005 bits/bit); ε = 0.03 gives 0.916 bits per weak bit:
  // the rates sum to 0.921 < 1, so the two-source route has m = 0.
  const double eps = 0.03, target = -30;
  const auto plan = dira::protocol::plan_extraction_c(400000, 2000, eps, target, 1000000);
  REQUIRE(plan.kind == ExtractionPlanC::Kind::trevisan_weak_seed);
  REQUIRE(plan.trevisan);
  const auto& p = *plan.trevisan;
  // Hand: any m ≤ q uses disjoint blocks (r = 1, d = 2s·m), so Δ = 2s·m·log2(1.06) and
  // log2 ε₁ ≥ −1 + (log2(N−1) − s)/2 (T2). For m = 3: Δ + log2 3 + log2 ε₁ ≥ 0.5044 s − 0.5 s
  // + log2 3 − 1 + log2(N−1)/2 > 0 for every s: infeasible. For m = 2 and s = 512:
  // Δ = 172.2, log2 ε₁ ≈ −1 − (512 − log2 781)/2 = −252.2, error ≈ 2^-79 ≤ 2^-30: feasible.
  CHECK(plan.output_bits == 2);
  CHECK(p.m == 2);
  CHECK(plan.device_bits == 400000);
  CHECK(plan.weak_bits == p.d);
  CHECK(p.d == 2 * p.t());  // two disjoint blocks
  CHECK(p.r == 1.0);
  CHECK(plan.log2_error <= target);
  // Recompute (T2), (T5), (T6) from the stored parameters.
  const double delta = static_cast<double>(p.d) * std::log2(1.0 + 2 * eps);
  CHECK(p.seed_deficiency == Approx(delta).epsilon(1e-12));
  const double N = std::ceil(400000.0 / p.s);
  const double eps1 = 0.5 * std::sqrt((N - 1) / std::exp2(p.s) + std::exp2(1 - p.k1));
  CHECK(p.k1 + p.r * 2 + std::log2(1 / eps1) <= 2000 + 1e-6);
  CHECK(delta + 1 + std::log2(eps1) == Approx(plan.log2_error).margin(1e-9));
  CHECK(plan.statement.find("Trevisan with a weak seed") != std::string::npos);
  CHECK(plan.statement.find("Two-source route: m = 0") != std::string::npos);
  CHECK(std::string(dira::protocol::to_string(plan.kind)) == "trevisan-weak-seed");
}

TEST_CASE("extract_c applies the plan: both routes against their definitions", "[extraction-c]") {
  std::mt19937_64 rng(77);
  {
    // Trevisan: 2·10^4 device bits, k = 100, ε = 0.03, target 2^-20 → one bit.
    const auto plan = dira::protocol::plan_extraction_c(20000, 100, 0.03, -20, 100000);
    REQUIRE(plan.kind == ExtractionPlanC::Kind::trevisan_weak_seed);
    CHECK(plan.output_bits == 1);
    const BitVector device = random_bits(plan.device_bits, rng), weak = random_bits(plan.weak_bits, rng);
    const BitVector out = dira::protocol::extract_c(plan, device, weak);
    CHECK(out.size == 1);
    CHECK(out == dira::protocol::trevisan_extract_naive(*plan.trevisan, device, weak));
  }
  {
    const auto plan = dira::protocol::plan_extraction_c(2000, 1500, 0.001, -30, 2000);
    REQUIRE(plan.kind == ExtractionPlanC::Kind::two_source);
    const BitVector device = random_bits(plan.device_bits, rng), weak = random_bits(plan.weak_bits, rng);
    const BitVector out = dira::protocol::extract_c(plan, device, weak);
    CHECK(out.size == plan.output_bits);
    CHECK(out == dira::protocol::extract_naive(*plan.two_source, device, weak));
    CHECK_THROWS_AS(dira::protocol::extract_c(plan, device.prefix(10), weak), std::invalid_argument);
  }
  {
    const auto plan = dira::protocol::plan_extraction_c(1000, 1, 0.3, -30, 1000);
    CHECK(plan.kind == ExtractionPlanC::Kind::none);
    CHECK(plan.output_bits == 0);
    CHECK(plan.statement.find("Nothing can be certified") != std::string::npos);
    CHECK(dira::protocol::extract_c(plan, BitVector::zeros(0), BitVector::zeros(0)).size == 0);
  }
  CHECK(std::string(dira::protocol::to_string(ExtractionPlanC::Kind::two_source)) == "two-source");
  CHECK(std::string(dira::protocol::to_string(ExtractionPlanC::Kind::none)) == "none");
  CHECK_THROWS_AS(dira::protocol::plan_extraction_c(1000, 10, 0.5, -30, 1000), std::invalid_argument);
  CHECK_THROWS_AS(dira::protocol::plan_extraction_c(1000, 2000, 0.1, -30, 1000), std::invalid_argument);
}
