/// @file bench_trevisan.cpp
/// dira-bench: Trevisan's extractor (protocol/trevisan.hpp) on a 4·10^5-bit device string
/// (Protocol C: 2 bits per trial, 2·10^5 trials), m = 256 and 4096 output bits, planned with a
/// uniform seed at error 2^-40 from k = 6000 (so both lengths fit). The reference in the same
/// binary is one XOR-popcount pass over the same input (the least any extractor must do).
/// Inputs are drawn once, outside the timing; docs/extractors.md lists measured figures.

#include "dira/protocol/trevisan.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace {

using dira::protocol::BitVector;
using dira::protocol::TrevisanParameters;

constexpr std::size_t kInputBits = 400000;

BitVector random_bits(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  BitVector v = BitVector::zeros(size);
  for (auto& w : v.words) w = rng();
  if (size % 64 != 0) v.words.back() &= (std::uint64_t{1} << (size % 64)) - 1;
  return v;
}

TrevisanParameters planned(std::size_t m) {
  const auto p = dira::protocol::plan_trevisan(kInputBits, 6000, -40, 0, SIZE_MAX, m);
  if (!p || p->m != m) throw std::logic_error("bench_trevisan: plan does not reach m");
  return *p;
}

void BM_Trevisan_Extract(benchmark::State& state) {
  const TrevisanParameters p = planned(static_cast<std::size_t>(state.range(0)));
  const BitVector x = random_bits(p.n, 1), y = random_bits(p.d, 2);
  for (auto _ : state) {
    BitVector z = dira::protocol::trevisan_extract(p, x, y);
    benchmark::DoNotOptimize(z.words.data());
  }
  state.counters["n"] = static_cast<double>(p.n);
  state.counters["m"] = static_cast<double>(p.m);
  state.counters["s"] = static_cast<double>(p.s);
  state.counters["d"] = static_cast<double>(p.d);
}
BENCHMARK(BM_Trevisan_Extract)->Arg(256)->Arg(4096)->Unit(benchmark::kMillisecond);

void BM_Trevisan_Plan(benchmark::State& state) {
  for (auto _ : state) {
    auto p =
        dira::protocol::plan_trevisan(kInputBits, 6000, -40, 0, SIZE_MAX, static_cast<std::size_t>(state.range(0)));
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_Trevisan_Plan)->Arg(256)->Arg(4096)->Unit(benchmark::kMillisecond);

/// Reference: one pass of XOR and popcount over the same 4·10^5 bits.
void BM_Trevisan_ReferenceXorPopcount(benchmark::State& state) {
  const BitVector x = random_bits(kInputBits, 1), y = random_bits(kInputBits, 2);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (std::size_t k = 0; k < x.words.size(); ++k)
      acc += static_cast<std::uint64_t>(__builtin_popcountll(x.words[k] ^ y.words[k]));
    benchmark::DoNotOptimize(acc);
  }
}
BENCHMARK(BM_Trevisan_ReferenceXorPopcount)->Unit(benchmark::kMicrosecond);

}  // namespace
