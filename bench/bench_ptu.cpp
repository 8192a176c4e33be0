/// @file bench_ptu.cpp
/// dira-bench: PicoQuant PTU record decoding (drivers/picoquant, docs/ptu.md) from memory.
/// Target on one core: ≥ 200 M records/s for generic (MultiHarp) T2 and T3 records. The
/// records are encoded once, outside the timing; each iteration decodes them in blocks of
/// 65536 records into a reused TagBlock, as the replay does.

#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/drivers/picoquant/ptu_replay.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <vector>

namespace {

namespace pq = dira::drivers::picoquant;
using pq::PtuEvent;

constexpr std::size_t kRecords = std::size_t{1} << 22;  // 16 MiB of records: beyond L2, like a file
constexpr std::size_t kBlock = 65536;

/// A plausible stream: four detectors, T2 syncs every 8th event (T2), time steps of a few
/// hundred units, an overflow record every ~10^5 records (T2) or ~100 (T3, 1024-sync period),
/// and a marker now and then.
std::vector<PtuEvent> events(bool t2, std::size_t n, std::uint32_t max_dtime = 20000) {
  std::mt19937_64 rng(42);
  std::vector<PtuEvent> ev;
  ev.reserve(n);
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < n; ++i) {
    PtuEvent e;
    t += t2 ? rng() % 600 : 1 + rng() % 20;
    e.time = t;
    const auto r = rng() % 1000;
    if (r == 0) {
      e.kind = PtuEvent::Kind::marker;
      e.channel = 1;
    } else if (t2 && r % 8 == 0) {
      e.kind = PtuEvent::Kind::sync;
    } else {
      e.channel = static_cast<int>(1 + rng() % 4);
      if (!t2) e.dtime = static_cast<std::uint32_t>(rng() % max_dtime);
    }
    ev.push_back(e);
  }
  return ev;
}

void decode(benchmark::State& state, pq::RecordType type) {
  const bool t2 = pq::is_t2(type);
  auto words = pq::encode_records(type, events(t2, kRecords, pq::is_picoharp(type) ? 4096 : 20000));
  words.resize(kRecords);
  dira::hal::TagBlock out;
  out.reserve(2 * kBlock + 64);
  std::size_t tags = 0;
  for (auto _ : state) {
    pq::RecordDecoder d(type, t2 ? 5e-12 : 12.5e-9, 5e-12);
    for (std::size_t i = 0; i < words.size(); i += kBlock) {
      out.clear();
      d.decode(std::span<const std::uint32_t>(words).subspan(i, std::min(kBlock, words.size() - i)), out);
      tags += out.size();
      benchmark::DoNotOptimize(out.data());
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * words.size()));
  state.counters["tags_per_record"] =
      static_cast<double>(tags) / static_cast<double>(state.iterations() * words.size());
}

void BM_PtuDecode_GenericT2(benchmark::State& state) {
  decode(state, pq::RecordType::generic_t2);
}
void BM_PtuDecode_GenericT3(benchmark::State& state) {
  decode(state, pq::RecordType::generic_t3);
}
void BM_PtuDecode_PicoHarpT3(benchmark::State& state) {
  decode(state, pq::RecordType::picoharp_t3);
}

/// The whole reader from an in-memory file: stream read, byte order, decode.
void reader(benchmark::State& state, pq::RecordType type) {
  const bool t2 = pq::is_t2(type);
  pq::PtuFileSpec spec;
  spec.record_type = type;
  spec.global_resolution_s = t2 ? 5e-12 : 12.5e-9;
  spec.resolution_s = 5e-12;
  std::ostringstream os;
  pq::write_ptu(os, spec, events(t2, kRecords));
  const std::string bytes = os.str();
  dira::hal::TagBlock out;
  std::uint64_t records = 0;
  for (auto _ : state) {
    pq::PtuFileReader r(std::make_unique<std::istringstream>(bytes), "memory");
    for (;;) {
      out.clear();
      if (!r.read(out, kBlock)) break;
      benchmark::DoNotOptimize(out.data());
    }
    records += r.records_read();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
}

void BM_PtuReader_GenericT2(benchmark::State& state) {
  reader(state, pq::RecordType::generic_t2);
}
void BM_PtuReader_GenericT3(benchmark::State& state) {
  reader(state, pq::RecordType::generic_t3);
}

}  // namespace

BENCHMARK(BM_PtuDecode_GenericT2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PtuDecode_GenericT3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PtuDecode_PicoHarpT3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PtuReader_GenericT2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PtuReader_GenericT3)->Unit(benchmark::kMillisecond);
