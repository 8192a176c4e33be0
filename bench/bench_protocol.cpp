/// @file bench_protocol.cpp
/// dira-bench: the protocol engines' per-trial update (ProtocolB::add on ks294, ProtocolA::add
/// on guehne4) and, for information, the simulator's trial generation (weak-source setting bits
/// through the ledger plus BoxSampler). Target on one core: ≥ 20 M trials/s for the updates, so
/// the analysis never limits a photonic source (~10^6 trials/s). Trials are generated once,
/// outside the timing; items/s is trials per second.

#include "dira/app/inequality_loader.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/protocol/settings_rule.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/sim/box_sampler.hpp"
#include "dira/sim/rng.hpp"
#include "dira/sim/sv_sources.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using dira::protocol::Inequality;
using dira::protocol::Scenario;
using dira::protocol::Trial;

constexpr std::size_t kTrials = std::size_t{1} << 20;
constexpr std::uint32_t kDevices = 16;

/// Loaded once per inequality; loading is not part of any timing.
const Inequality& inequality(const std::string& name) {
  if (name == "ks294") {
    static const Inequality ks294 = dira::app::load_inequality_file(dira::app::resolve_inequality("ks294"));
    return ks294;
  }
  static const Inequality guehne4 = dira::app::load_inequality_file(dira::app::resolve_inequality("guehne4"));
  return guehne4;
}

/// kTrials trials with settings and outcomes uniform over the scenario's ranges (valid, so add
/// never throws); device = index mod `devices` when devices > 0. Uniform rather than honest
/// statistics so the branch on "setting in the inequality" (Protocol A) is unpredictable.
std::vector<Trial> random_trials(const Scenario& sc, std::uint32_t devices, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Trial> trials(kTrials);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    Trial& t = trials[i];
    t.index = i;
    for (int p = 0; p < sc.parties(); ++p) {
      const auto pi = static_cast<std::size_t>(p);
      t.u[pi] = static_cast<std::uint8_t>(rng() % static_cast<std::uint64_t>(sc.settings(p)));
      t.x[pi] = static_cast<std::uint8_t>(rng() % static_cast<std::uint64_t>(sc.outcomes(p)));
    }
    if (devices > 0) t.device = static_cast<std::uint32_t>(i % devices);
  }
  return trials;
}

// Target: ≥ 20 M trials/s. O(1) per trial (B_i and D_i, seed 001 eqs. 39 and 42); one engine
// accumulates over all iterations, as in a run.
void BM_ProtocolB_add_ks294(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  const std::vector<Trial> trials = random_trials(ks.expression.scenario(), 0, 1);
  dira::protocol::ProtocolB b(ks.expression, dira::protocol::ProtocolBParameters{});
  for (auto _ : state) {
    b.add(trials);
    benchmark::DoNotOptimize(b.bell_count());
    benchmark::DoNotOptimize(b.ustar_count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trials.size()));
}
BENCHMARK(BM_ProtocolB_add_ks294)->Unit(benchmark::kMillisecond);

// Target: ≥ 20 M trials/s. Fig. 2 step 1 of seed 000: each valid run appends its B and majority
// bits to its device's record, so the records grow with the run; a fresh engine per iteration
// (construction is O(256) and included) keeps memory flat. k = 16 devices, trials round-robin.
void BM_ProtocolA_add_guehne4(benchmark::State& state) {
  const Inequality& g = inequality("guehne4");
  const std::vector<Trial> trials = random_trials(g.expression.scenario(), kDevices, 2);
  dira::protocol::ProtocolAParameters p;
  p.devices = static_cast<int>(kDevices);
  for (auto _ : state) {
    dira::protocol::ProtocolA a(g.expression, p);
    a.add(trials);
    benchmark::DoNotOptimize(a.devices().data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trials.size()));
}
BENCHMARK(BM_ProtocolA_add_guehne4)->Unit(benchmark::kMillisecond);

// For information: simulated trials per second, as `dira simulate-trials` makes them (without
// the CSV): settings by rejection sampling from an i.i.d. ε-SV source through the ledger
// (Protocol B) or 4 bits per trial (Protocol A), outcomes from the seed's quantum realisation.
void simulated_trials(benchmark::State& state, const std::string& name) {
  const Inequality& ineq = inequality(name);
  const Scenario& sc = ineq.expression.scenario();
  const dira::sim::BoxSampler sampler(sc, dira::protocol::quantum_behaviour(sc, *ineq.quantum));
  dira::sim::IidSvSource source(0.01, 1);
  dira::protocol::BitLedger ledger(source);
  dira::sim::Rng rng(7);
  const bool guehne = sc.parties() == 4;
  std::uint64_t i = 0;
  Trial t;
  for (auto _ : state) {
    t.index = i;
    if (guehne)
      dira::protocol::draw_setting_guehne(ledger, i, t);
    else
      dira::protocol::draw_setting_rejection(ledger, i, sc.parties(), sc.settings(0), t);
    sampler.sample(t, rng);
    benchmark::DoNotOptimize(t);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["setting_bits_per_trial"] = static_cast<double>(ledger.bits_drawn()) / static_cast<double>(i ? i : 1);
}
void BM_SimulatedTrial_ks294(benchmark::State& state) {
  simulated_trials(state, "ks294");
}
void BM_SimulatedTrial_guehne4(benchmark::State& state) {
  simulated_trials(state, "guehne4");
}
BENCHMARK(BM_SimulatedTrial_ks294);
BENCHMARK(BM_SimulatedTrial_guehne4);

}  // namespace
