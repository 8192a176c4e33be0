// Trial assembly throughput (issue 4 target: ≥ 100 M tags/s on one core from memory;
// USB-3 taggers stream about 80 M tags/s).
#include "dira/hal/trial_assembly.hpp"

#include <benchmark/benchmark.h>

#include <random>

namespace {
using namespace dira::hal;

// ks294-like: two parties on two stations, sync + 4 detectors + 9 echo channels each, one
// detection and one echo per party per trial (3 tags per party-trial).
TrialAssemblyConfig layout() {
  TrialAssemblyConfig c;
  for (int p = 0; p < 2; ++p) {
    StationLayout s;
    s.station = p;
    s.sync_channel = 0;
    s.detector_channels = {1, 2, 3, 4};
    for (int v = 0; v < 9; ++v) s.echo_channels.push_back(10 + v);
    c.parties.push_back(s);
  }
  c.sync_period_ps = 1'000'000;
  c.detection_offset_ps = 200'000;
  c.detection_width_ps = 500'000;
  c.echo_offset_ps = 10'000;
  c.echo_width_ps = 100'000;
  return c;
}

std::vector<std::uint8_t> g_settings;

dira::protocol::Trial intended(std::uint64_t i) {
  dira::protocol::Trial t;
  t.u[0] = g_settings[(2 * i) % g_settings.size()];
  t.u[1] = g_settings[(2 * i + 1) % g_settings.size()];
  return t;
}

void BM_TrialAssembly(benchmark::State& state) {
  const std::size_t trials = 1 << 18;
  std::mt19937_64 rng(1);
  g_settings.resize(2 * trials);
  for (auto& s : g_settings) s = static_cast<std::uint8_t>(rng() % 9);
  TagBlock streams[2];
  for (int p = 0; p < 2; ++p)
    for (std::size_t i = 0; i < trials; ++i) {
      const std::int64_t t0 = static_cast<std::int64_t>(i) * 1'000'000;
      streams[p].push_back(Tag{TagType::time_tag, 0, 0, 0, t0});
      streams[p].push_back(Tag{TagType::time_tag, 0, 0, 10 + g_settings[2 * i + p], t0 + 20'000});
      streams[p].push_back(Tag{TagType::time_tag, 0, 0, 1 + static_cast<int>(rng() % 4), t0 + 300'000});
    }
  // Blocks of 64k tags, as a tagger driver delivers them (split outside the timed loop).
  const std::size_t block = 1 << 16;
  std::vector<TagBlock> blocks[2];
  for (int p = 0; p < 2; ++p)
    for (std::size_t k = 0; k < streams[p].size(); k += block)
      blocks[p].emplace_back(streams[p].begin() + static_cast<std::ptrdiff_t>(k),
                             streams[p].begin() + static_cast<std::ptrdiff_t>(std::min(k + block, streams[p].size())));
  std::vector<dira::protocol::Trial> out;
  out.reserve(trials);
  for (auto _ : state) {
    TrialAssembler a(layout(), intended);
    for (std::size_t k = 0; k < blocks[0].size(); ++k)
      for (int p = 0; p < 2; ++p) a.push(p, blocks[p][k]);
    out.clear();
    a.pop(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(2 * streams[0].size()));
  state.counters["trials"] = static_cast<double>(out.size());
}
BENCHMARK(BM_TrialAssembly)->Unit(benchmark::kMillisecond);
}  // namespace
