/// @file bench_bounds.cpp
/// dira-bench: timings of the local bound, the no-signalling LPs, their exact
/// certification and the full ks294 event table. Each benchmark's comment gives the
/// issue's target on one core; bench/README.md lists them together.

#include "dira/app/inequality_loader.hpp"
#include "dira/protocol/bounds.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/ns_lp.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <optional>
#include <string>

namespace {

using dira::protocol::BoundsOptions;
using dira::protocol::Inequality;
using dira::protocol::LinearObjective;
using dira::protocol::NoSignallingLp;
using dira::protocol::Outcome;
using dira::protocol::Rational;
using dira::protocol::Setting;

/// Loaded once per inequality; loading is not part of any timing.
const Inequality& inequality(const std::string& name) {
  if (name == "ks294") {
    static const Inequality ks294 = dira::app::load_inequality_file(dira::app::resolve_inequality("ks294"));
    return ks294;
  }
  static const Inequality guehne4 = dira::app::load_inequality_file(dira::app::resolve_inequality("guehne4"));
  return guehne4;
}

// Seed 001, Lemma 2: u* = (0,1), x* = (0,2) (0-based; the seed's u* = (1,2), x* = (1,3)).
const Setting kUStar{0, 1};
const Outcome kXStar{0, 2};

/// The Bell cut B·P ≤ 0, built once: passing a temporary Rational(0) to maximize in a
/// loop trips GCC's -Wmaybe-uninitialized inside Boost's cpp_int destructor.
const std::optional<Rational>& zero_cut() {
  static const std::optional<Rational> cut{Rational(0)};
  return cut;
}

LinearObjective star_objective(const Inequality& ks) {
  return dira::protocol::event_objective(ks.expression.scenario(), kUStar, kXStar);
}

// Target: ≤ 1 s on one core (4^9 joint strategies of Alice, best reply of Bob).
void BM_LocalBound_ks294(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  for (auto _ : state) {
    auto lb = dira::protocol::local_bound(ks.expression);
    benchmark::DoNotOptimize(lb);
  }
}
BENCHMARK(BM_LocalBound_ks294)->Unit(benchmark::kMillisecond);

// No separate target (seed 000's 4-party inequality; should be far below ks294's 1 s).
void BM_LocalBound_guehne4(benchmark::State& state) {
  const Inequality& g = inequality("guehne4");
  for (auto _ : state) {
    auto lb = dira::protocol::local_bound(g.expression);
    benchmark::DoNotOptimize(lb);
  }
}
BENCHMARK(BM_LocalBound_guehne4)->Unit(benchmark::kMicrosecond);

// Target: ≤ 50 ms on one core for a cold randomness LP (build the GLPK problem, solve
// max P(x*|u*) at B·P ≤ 0 in floating point, no certification).
void BM_RandomnessLp_ks294_cold(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  const LinearObjective obj = star_objective(ks);
  for (auto _ : state) {
    NoSignallingLp lp(ks.expression);
    auto s = lp.maximize(obj, zero_cut(), false);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_RandomnessLp_ks294_cold)->Unit(benchmark::kMillisecond);

// No separate target (this is what makes the event table cheap): one floating-point LP
// on an existing NoSignallingLp, warm-started from the previous basis, alternating
// between P(x*|u*) and a second event with B(x,u) = 0 at another setting.
void BM_RandomnessLp_ks294_warm(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  const auto& sc = ks.expression.scenario();
  const LinearObjective first = star_objective(ks);
  // The last zero-coefficient cell: a different setting from u*, so the objectives differ.
  std::optional<LinearObjective> second;
  for (std::size_t j = sc.size(); j-- > 0 && !second;)
    if (ks.expression.coefficient(j) == 0)
      second = dira::protocol::event_objective(sc, sc.setting_at(j / sc.outcome_count()),
                                               sc.outcome_at(j % sc.outcome_count()));
  if (!second) {
    state.SkipWithError("ks294 has no zero-coefficient cell");
    return;
  }
  NoSignallingLp lp(ks.expression);
  benchmark::DoNotOptimize(lp.maximize(first, zero_cut(), false));
  bool flip = false;
  for (auto _ : state) {
    auto s = lp.maximize(flip ? first : *second, zero_cut(), false);
    benchmark::DoNotOptimize(s);
    flip = !flip;
  }
}
BENCHMARK(BM_RandomnessLp_ks294_warm)->Unit(benchmark::kMillisecond);

// Target: ≤ 2 s on one core for one certified LP (floating simplex, GLPK exact simplex
// from that basis, rationalised duals verified in exact arithmetic). Includes building
// the LP, like the cold benchmark.
void BM_Certify_ks294(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  const LinearObjective obj = star_objective(ks);
  for (auto _ : state) {
    NoSignallingLp lp(ks.expression);
    auto s = lp.maximize(obj, zero_cut(), true);
    if (!s.certified) state.SkipWithError("LP was not certified");
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Certify_ks294)->Unit(benchmark::kMillisecond)->Iterations(3);

// Target: ≤ 20 s on one core for the full certified event table (max P(x|u) at B·P ≤ 0 for
// every (u,x) with B(x,u) = 0). compute_bounds with no δ also does the local bound and the
// certified no-signalling bound, both included here (they are small next to the table).
void BM_EventTable_ks294(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  BoundsOptions opt;
  opt.deltas = {};
  opt.event_table = true;
  opt.certify_event_table = true;
  for (auto _ : state) {
    auto rep = dira::protocol::compute_bounds(ks, opt);
    state.counters["entries"] = static_cast<double>(rep.event_table.size());
    benchmark::DoNotOptimize(rep);
  }
}
BENCHMARK(BM_EventTable_ks294)->Unit(benchmark::kMillisecond)->Iterations(1);

// No separate target: the same table in floating point only (certify_event_table = false),
// to show how much of the 20 s budget certification takes.
void BM_EventTable_ks294_uncertified(benchmark::State& state) {
  const Inequality& ks = inequality("ks294");
  BoundsOptions opt;
  opt.deltas = {};
  opt.event_table = true;
  opt.certify_event_table = false;
  for (auto _ : state) {
    auto rep = dira::protocol::compute_bounds(ks, opt);
    state.counters["entries"] = static_cast<double>(rep.event_table.size());
    benchmark::DoNotOptimize(rep);
  }
}
BENCHMARK(BM_EventTable_ks294_uncertified)->Unit(benchmark::kMillisecond)->Iterations(3);

// No separate target: all 16 Lemma-4 majority LPs of guehne4 (8 settings × e ∈ {0,1}) at
// δ = 0, each certified, plus the local and no-signalling bounds compute_bounds always does.
void BM_GuehneLps(benchmark::State& state) {
  const Inequality& g = inequality("guehne4");
  BoundsOptions opt;
  opt.deltas = {Rational(0)};
  opt.event_table = false;
  for (auto _ : state) {
    auto rep = dira::protocol::compute_bounds(g, opt);
    state.counters["lps"] = static_cast<double>(rep.randomness.size());
    benchmark::DoNotOptimize(rep);
  }
}
BENCHMARK(BM_GuehneLps)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
