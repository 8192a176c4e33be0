/// @file bench_extractor.cpp
/// dira-bench: the two-source extractors (protocol/extractor.hpp) at n ≈ 10^6 and n ≈ 10^7.
/// Targets on one core: ≤ 50 ms at 10^6 and ≤ 1 s at 10^7, memory O(n) bits
/// (docs/extractors.md lists the measured figures). Inputs are drawn once, outside the timing.

#include "dira/protocol/extractor.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>

namespace {

using dira::protocol::BitVector;
using dira::protocol::ExtractorKind;
using dira::protocol::ExtractorParameters;

BitVector random_bits(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  BitVector v = BitVector::zeros(size);
  for (auto& w : v.words) w = rng();
  if (size % 64 != 0) v.words.back() &= (std::uint64_t{1} << (size % 64)) - 1;
  return v;
}

/// An admissible extractor of the given kind with n the largest admissible prime ≤ target
/// and m = n / 2 (the cost does not depend on m: the whole product is computed).
ExtractorParameters parameters(ExtractorKind kind, std::size_t target) {
  ExtractorParameters p;
  p.kind = kind;
  p.n2 = dira::protocol::largest_dodis_length(target);
  p.n1 = kind == ExtractorKind::dodis ? p.n2 : p.n2 - 1;
  p.m = p.n2 / 2;
  return p;
}

void run(benchmark::State& state, ExtractorKind kind) {
  const ExtractorParameters p = parameters(kind, static_cast<std::size_t>(state.range(0)));
  const BitVector x = random_bits(p.n1, 1), y = random_bits(p.n2, 2);
  for (auto _ : state) {
    BitVector z = dira::protocol::extract(p, x, y);
    benchmark::DoNotOptimize(z.words.data());
  }
  state.counters["n"] = static_cast<double>(p.n2);
  state.counters["m"] = static_cast<double>(p.m);
}

// Targets: ≤ 50 ms at 10^6 (n = 999979), ≤ 1 s at 10^7 (n = 9999973), one core.
void BM_Extract_Dodis(benchmark::State& state) {
  run(state, ExtractorKind::dodis);
}
void BM_Extract_Circulant(benchmark::State& state) {
  run(state, ExtractorKind::circulant);
}
BENCHMARK(BM_Extract_Dodis)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Extract_Circulant)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

// For comparison: the same kernel with each multiplication algorithm forced (the extract
// benchmarks above use `automatic`: gf2x below 8192 words per operand, the ternary FFT above).
void BM_Kernel_gf2x(benchmark::State& state) {
  const std::size_t n = dira::protocol::largest_dodis_length(static_cast<std::size_t>(state.range(0)));
  const BitVector x = random_bits(n, 1), y = random_bits(n, 2);
  for (auto _ : state) {
    BitVector z = dira::protocol::cyclic_correlation(x, y, n / 2, dira::protocol::PolynomialMultiplier::gf2x);
    benchmark::DoNotOptimize(z.words.data());
  }
}
void BM_Kernel_TernaryFft(benchmark::State& state) {
  const std::size_t n = dira::protocol::largest_dodis_length(static_cast<std::size_t>(state.range(0)));
  const BitVector x = random_bits(n, 1), y = random_bits(n, 2);
  for (auto _ : state) {
    BitVector z = dira::protocol::cyclic_correlation(x, y, n / 2, dira::protocol::PolynomialMultiplier::ternary_fft);
    benchmark::DoNotOptimize(z.words.data());
  }
}
BENCHMARK(BM_Kernel_gf2x)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Kernel_TernaryFft)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
