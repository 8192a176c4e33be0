// Protocol C (issue 11) targets: PEF optimisation + certification ≤ 50 ms; scoring ≥ 100 M trials/s.
#include "dira/protocol/pef.hpp"
#include "dira/protocol/photonic_chsh.hpp"
#include "dira/protocol/protocol_c.hpp"

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

using namespace dira::protocol;

namespace {
PhotonicChshModel reference_model() {
  PhotonicChshModel m;  // V = 0.99, η = 0.8, Eberhard state and angles (docs/protocol-c-security.md §8.3)
  m.visibility = 0.99;
  m.efficiency = 0.8;
  m.theta = 0.42;
  m.a0 = 1.05, m.a1 = -1.45, m.b0 = 1.45, m.b1 = -1.05;
  return m;
}

std::vector<Trial> random_trials(std::size_t n) {
  std::vector<Trial> out(n);
  std::mt19937_64 rng(5);
  for (auto& t : out) {
    const auto r = rng();
    t.u[0] = r & 1u, t.u[1] = (r >> 1) & 1u, t.x[0] = (r >> 2) & 1u, t.x[1] = (r >> 3) & 1u;
  }
  return out;
}
}  // namespace

static void BM_ProtocolC_OptimiseAndCertify(benchmark::State& state) {
  const auto ref = joint_distribution(reference_model().behaviour());
  const SvSettingsModel settings{parse_rational("1e-3")};
  const Rational beta(1, 50);
  for (auto _ : state) {
    CertifiedPef pef = make_certified_pef(settings, ref, beta);
    benchmark::DoNotOptimize(pef.log2F_lower);
  }
}
BENCHMARK(BM_ProtocolC_OptimiseAndCertify)->Unit(benchmark::kMillisecond);

static void BM_ProtocolC_Certify(benchmark::State& state) {
  const auto ref = joint_distribution(reference_model().behaviour());
  const SvSettingsModel settings{parse_rational("1e-3")};
  const PefSolution sol = optimise_pef(settings, ref, 0.02);
  for (auto _ : state) {
    CertifiedPef pef = certify_pef(settings, Rational(1, 50), sol.F);
    benchmark::DoNotOptimize(pef.log2F_lower);
  }
}
BENCHMARK(BM_ProtocolC_Certify)->Unit(benchmark::kMillisecond);

static void BM_ProtocolC_ChooseBeta(benchmark::State& state) {
  const auto ref = joint_distribution(reference_model().behaviour());
  const SvSettingsModel settings{parse_rational("1e-3")};
  for (auto _ : state) benchmark::DoNotOptimize(choose_beta(settings, ref, 2e5, 31).net_rate);
}
BENCHMARK(BM_ProtocolC_ChooseBeta)->Unit(benchmark::kMillisecond)->Iterations(3);

// Scoring: blocks of 4096 trials (in cache), as the pipeline hands them over.
static void BM_ProtocolC_Score(benchmark::State& state) {
  const auto ref = joint_distribution(reference_model().behaviour());
  const CertifiedPef pef = make_certified_pef(SvSettingsModel{parse_rational("1e-3")}, ref, Rational(1, 50));
  const auto trials = random_trials(4096);
  ProtocolCConfig cfg;
  cfg.max_trials = ~0ull;
  ProtocolC prot(cfg, pef);
  for (auto _ : state) benchmark::DoNotOptimize(prot.score(trials));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_ProtocolC_Score);

// Reference: a bare loop over the same trials that only sums one byte per trial.
static void BM_ProtocolC_BareLoopReference(benchmark::State& state) {
  const auto trials = random_trials(4096);
  for (auto _ : state) {
    unsigned sum = 0;
    for (const auto& t : trials) sum += t.x[0];
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_ProtocolC_BareLoopReference);

static void BM_ProtocolC_ScoreStopWhenCertified(benchmark::State& state) {
  const auto ref = joint_distribution(reference_model().behaviour());
  const CertifiedPef pef = make_certified_pef(SvSettingsModel{parse_rational("1e-3")}, ref, Rational(1, 50));
  const auto trials = random_trials(4096);
  ProtocolCConfig cfg;
  cfg.max_trials = ~0ull;
  cfg.target_min_entropy = 1e300;
  cfg.stop_when_certified = true;
  ProtocolC prot(cfg, pef);
  for (auto _ : state) benchmark::DoNotOptimize(prot.score(trials));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_ProtocolC_ScoreStopWhenCertified);
