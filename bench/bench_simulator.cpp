/// @file bench_simulator.cpp
/// dira-bench: the physical simulator (driver `sim`, issue 4 §2). Target on one core: ≥ 5 M
/// trials/s of tags generated. Each iteration is one TimeTagger::next() = one TagBlock of
/// 65536 trials (block_trials set explicitly; the driver default is 4096); items/s is trials per second, `tags_per_s` the tag
/// rate. The `Assembled` variants also push every block through hal::TrialAssembler and pop the
/// trials (tags → trials, the whole front end of a run).

#include "dira/app/inequality_loader.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/sim/physical.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace {

using dira::protocol::Inequality;
using dira::protocol::Scenario;
using dira::protocol::Trial;

constexpr std::int64_t kBlock = 65536;

const Inequality& inequality(const std::string& name) {
  if (name == "ks294") {
    static const Inequality ks294 = dira::app::load_inequality_file(dira::app::resolve_inequality("ks294"));
    return ks294;
  }
  static const Inequality guehne4 = dira::app::load_inequality_file(dira::app::resolve_inequality("guehne4"));
  return guehne4;
}

/// Uniform settings from a hash of the trial index (what a scheduler with precomputed bits costs).
dira::sim::SettingSchedule schedule(const Scenario& sc) {
  return [sc](std::uint64_t i) {  // sc.settings(p) is cheap; the hash dominates
    std::uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    Trial t;
    t.index = i;
    for (int p = 0; p < sc.parties(); ++p) {  // 16 bits per party, multiply-shift range reduction
      const auto s = static_cast<std::uint64_t>(sc.settings(p));
      t.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(((z & 0xffff) * s) >> 16);
      z >>= 16;
    }
    return t;
  };
}

/// Lab-like hardware: 80 % efficiency, 1 kHz dark counts, 50 ps jitter, 30 ns dead time,
/// 90 % emission, visibility 0.98.
dira::sim::SettingsMap realistic() {
  return {{"efficiency", 0.8},  {"dark_count_rate_hz", 1000.0},         {"jitter_ps", 50.0},
          {"visibility", 0.98}, {"dead_time_ps", std::int64_t{30'000}}, {"emission_probability", 0.9}};
}

void simulate(benchmark::State& state, const std::string& name, const dira::sim::SettingsMap& settings, bool assemble) {
  const Inequality& ineq = inequality(name);
  const auto sched = schedule(ineq.expression.scenario());
  dira::sim::SettingsMap s = settings;
  s["block_trials"] = kBlock;
  dira::sim::PhysicalSimulator sim(s, ineq, sched);
  dira::hal::TrialAssembler assembler(sim.layout(), sched);
  std::vector<Trial> trials;
  sim.start();
  (void)sim.next(std::chrono::milliseconds(0));  // StreamStart
  std::int64_t tags = 0;
  for (auto _ : state) {
    auto ev = sim.next(std::chrono::milliseconds(0));
    auto& block = std::get<dira::hal::TagBlock>(ev);
    tags += static_cast<std::int64_t>(block.size());
    if (assemble) {
      assembler.push(0, block);
      assembler.pop(trials);
      benchmark::DoNotOptimize(trials.data());
      trials.clear();
    }
    benchmark::DoNotOptimize(block.data());
  }
  state.SetItemsProcessed(state.iterations() * kBlock);
  state.counters["tags_per_s"] = benchmark::Counter(static_cast<double>(tags), benchmark::Counter::kIsRate);
  state.counters["tags_per_trial"] = static_cast<double>(tags) / static_cast<double>(state.iterations() * kBlock);
}

// Target: ≥ 5 M trials/s (ideal hardware: sync, echo per party, one detection per party).
void BM_Simulator_ks294(benchmark::State& state) {
  simulate(state, "ks294", {}, false);
}
void BM_Simulator_guehne4(benchmark::State& state) {
  simulate(state, "guehne4", {}, false);
}
void BM_Simulator_ks294_realistic(benchmark::State& state) {
  simulate(state, "ks294", realistic(), false);
}
void BM_Simulator_guehne4_realistic(benchmark::State& state) {
  simulate(state, "guehne4", realistic(), false);
}
// For information: tags generated and assembled into trials.
void BM_SimulatorAssembled_ks294(benchmark::State& state) {
  simulate(state, "ks294", {}, true);
}
void BM_SimulatorAssembled_guehne4(benchmark::State& state) {
  simulate(state, "guehne4", {}, true);
}
void BM_SimulatorAssembled_ks294_realistic(benchmark::State& state) {
  simulate(state, "ks294", realistic(), true);
}
BENCHMARK(BM_Simulator_ks294)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Simulator_guehne4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Simulator_ks294_realistic)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Simulator_guehne4_realistic)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulatorAssembled_ks294)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulatorAssembled_guehne4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulatorAssembled_ks294_realistic)->Unit(benchmark::kMillisecond);

}  // namespace
