// Trial assembly throughput (issue 10 §7: at least half the rate of a bare scan that does the
// minimum, measured in this binary; USB-3 taggers stream about 80 M tags/s).
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <ctime>
#include <random>

namespace {
using namespace dira::hal;
using dira::protocol::Trial;

constexpr std::int64_t kPeriod = 1'000'000;
constexpr std::int64_t kDetOffset = 200'000, kDetWidth = 500'000;
constexpr std::int64_t kEchoOffset = 10'000, kEchoWidth = 100'000;

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
  c.sync_period_ps = kPeriod;
  c.detection_offset_ps = kDetOffset;
  c.detection_width_ps = kDetWidth;
  c.echo_offset_ps = kEchoOffset;
  c.echo_width_ps = kEchoWidth;
  return c;
}

// The tag stream, built once (outside every timed region) and shared by all benchmarks, so
// the assembler and the bare scan read exactly the same blocks.
struct Data {
  static constexpr std::size_t kTrials = 1 << 18;
  std::vector<std::uint8_t> settings;  // party p of trial i: settings[2 i + p]
  std::vector<TagBlock> blocks[2];     // per station, 64 k tags each, as a tagger driver delivers them
  std::size_t tags = 0;
  Data() {
    std::mt19937_64 rng(1);
    settings.resize(2 * kTrials);
    for (auto& s : settings) s = static_cast<std::uint8_t>(rng() % 9);
    TagBlock streams[2];
    for (int p = 0; p < 2; ++p)
      for (std::size_t i = 0; i < kTrials; ++i) {
        const std::int64_t t0 = static_cast<std::int64_t>(i) * kPeriod;
        streams[p].push_back(Tag{TagType::time_tag, 0, 0, 0, t0});
        streams[p].push_back(
            Tag{TagType::time_tag, 0, 0, 10 + settings[2 * i + static_cast<std::size_t>(p)], t0 + 20'000});
        streams[p].push_back(Tag{TagType::time_tag, 0, 0, 1 + static_cast<int>(rng() % 4), t0 + 300'000});
      }
    const std::size_t block = 1 << 16;
    for (int p = 0; p < 2; ++p) {
      tags += streams[p].size();
      for (std::size_t k = 0; k < streams[p].size(); k += block)
        blocks[p].emplace_back(
            streams[p].begin() + static_cast<std::ptrdiff_t>(k),
            streams[p].begin() + static_cast<std::ptrdiff_t>(std::min(k + block, streams[p].size())));
    }
  }
};
const Data& data() {
  static const Data d;
  return d;
}

Trial intended(std::uint64_t i) {
  const auto& s = data().settings;
  Trial t;
  t.u[0] = s[(2 * i) % s.size()];
  t.u[1] = s[(2 * i + 1) % s.size()];
  return t;
}

// ---- The reference: a bare scan doing the minimum. One pass over each station's blocks, a
// channel → role table, each detection or echo checked against the window of the station's
// current sync, and the same 32-byte protocol::Trial records written in place (outcome by the
// fixed rule, setting from the echo, no-click/multi-click flags). Nothing else: it assumes
// complete, in-order tags (no missing syncs, reordering or faults), blocks aligned across
// stations, and an output array sized beforehand.
struct BareRole {
  std::uint8_t kind = 0;  // 0 none, 1 sync, 2 detector, 3 echo
  std::uint8_t value = 0;
};
struct BareStation {
  BareRole roles[32];
  std::uint64_t next = 0;  // trials opened
  std::int64_t sync = 0;
  std::uint32_t bits[2] = {0, 0};  // detections, echoes of the open trial
};

inline void bare_close(BareStation& s, int party, Trial& t) {
  const std::uint32_t d = s.bits[0];
  t.x[static_cast<std::size_t>(party)] = static_cast<std::uint8_t>(std::countr_zero(d) & 31);
  t.u[static_cast<std::size_t>(party)] = static_cast<std::uint8_t>(std::countr_zero(s.bits[1]) & 31);
  t.flags |=
      (d == 0 ? dira::protocol::kTrialNoClick : 0u) | ((d & (d - 1)) != 0 ? dira::protocol::kTrialMultiClick : 0u);
}

void bare_scan(BareStation& s, int party, const TagBlock& block, Trial* out) {
  static constexpr std::int64_t off[2] = {kDetOffset, kEchoOffset};
  static constexpr std::uint64_t width[2] = {kDetWidth, kEchoWidth};
  for (const Tag& t : block) {
    const BareRole r = s.roles[static_cast<std::uint32_t>(t.channel) & 31];
    if (r.kind == 1) {
      if (s.next > 0) bare_close(s, party, out[s.next - 1]);
      if (party == 0) {
        out[s.next].index = s.next;
        out[s.next].time_ps = t.time_ps;
        out[s.next].flags = 0;
      }
      s.sync = t.time_ps;
      s.bits[0] = s.bits[1] = 0;
      ++s.next;
    } else if (r.kind >= 2) {
      const std::size_t k = r.kind - 2u;
      if (static_cast<std::uint64_t>(t.time_ps - s.sync - off[k]) < width[k]) s.bits[k] |= 1u << r.value;
    }
  }
}

BareStation bare_station() {
  BareStation s;
  s.roles[0].kind = 1;
  for (std::uint8_t o = 0; o < 4; ++o) s.roles[1 + o] = {2, o};
  for (std::uint8_t v = 0; v < 9; ++v) s.roles[10 + v] = {3, v};
  return s;
}

void bare_scan_all(std::vector<Trial>& out) {
  const Data& d = data();
  BareStation st[2] = {bare_station(), bare_station()};
  for (std::size_t k = 0; k < d.blocks[0].size(); ++k)
    for (int p = 0; p < 2; ++p) bare_scan(st[p], p, d.blocks[p][k], out.data());
  for (int p = 0; p < 2; ++p) bare_close(st[p], p, out[st[p].next - 1]);
  benchmark::DoNotOptimize(out.data());
  benchmark::ClobberMemory();
}

void BM_BareScan(benchmark::State& state) {
  std::vector<Trial> out(Data::kTrials);
  for (auto _ : state) bare_scan_all(out);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data().tags));
  state.counters["trials"] = static_cast<double>(out.size());
}
BENCHMARK(BM_BareScan)->Unit(benchmark::kMillisecond);

// This thread's CPU time: the VM's two cores are shared, and wall time counts other processes.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Pushes every block pair and pops after each, as the session does (its batch vectors reused:
// TrialAssembler::pop_replacing).
// Each iteration is followed, untimed, by one bare scan of the same blocks; the counter
// vs_bare_scan = median bare-scan time / median assembly time (thread CPU time, interleaved
// samples, so both figures come from the same moments of the same run).
template <class Make>
void run_assembly(benchmark::State& state, Make make) {
  const Data& d = data();
  std::vector<Trial> out, bare_out(Data::kTrials);
  out.reserve(Data::kTrials);
  std::vector<double> t_asm, t_bare;
  std::size_t trials = 0;
  for (auto _ : state) {
    const double t0 = thread_seconds();
    TrialAssembler a = make();
    trials = 0;
    for (std::size_t k = 0; k < d.blocks[0].size(); ++k) {
      for (int p = 0; p < 2; ++p) a.push(p, d.blocks[p][k]);
      a.pop_replacing(out);  // as the session does: the rows' storage is reused, not zeroed
      trials += out.size();
      benchmark::DoNotOptimize(out.data());
    }
    const double t1 = thread_seconds();
    state.PauseTiming();
    bare_scan_all(bare_out);
    t_bare.push_back(thread_seconds() - t1);
    t_asm.push_back(t1 - t0);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * d.tags));
  state.counters["trials"] = static_cast<double>(trials);
  state.counters["vs_bare_scan"] = median(t_bare) / median(t_asm);
}

// Settings through a std::function (the constructor callers used before the scheduler).
void BM_TrialAssembly(benchmark::State& state) {
  run_assembly(state, [] { return TrialAssembler(layout(), intended); });
}
BENCHMARK(BM_TrialAssembly)->Unit(benchmark::kMillisecond);

// Settings looked up in a SettingScheduler that has delivered the whole run ahead (what the
// session does; the scheduler's drawing is not timed).
void BM_TrialAssembly_Scheduler(benchmark::State& state) {
  SchedulerConfig sc;
  sc.planned = Data::kTrials;
  sc.lookahead = Data::kTrials;
  SettingScheduler scheduler([](std::uint64_t i, Trial& t) { t.u = intended(i).u; }, {}, sc);
  scheduler.prime();
  run_assembly(state, [&] { return TrialAssembler(layout(), &scheduler); });
}
BENCHMARK(BM_TrialAssembly_Scheduler)->Unit(benchmark::kMillisecond);

// Hardware-chosen settings: Trial::u read from the echo channels.
void BM_TrialAssembly_EchoSettings(benchmark::State& state) {
  run_assembly(state, [] {
    auto c = layout();
    c.settings_from_echo = true;
    return TrialAssembler(c);
  });
}
BENCHMARK(BM_TrialAssembly_EchoSettings)->Unit(benchmark::kMillisecond);

// The same with a reorder window (tags are in order: the buffer only holds each block's tail).
void BM_TrialAssembly_ReorderWindow(benchmark::State& state) {
  SchedulerConfig sc;
  sc.planned = Data::kTrials;
  sc.lookahead = Data::kTrials;
  SettingScheduler scheduler([](std::uint64_t i, Trial& t) { t.u = intended(i).u; }, {}, sc);
  scheduler.prime();
  run_assembly(state, [&] {
    auto c = layout();
    c.reorder_window_ps = 2 * kPeriod;
    return TrialAssembler(c, &scheduler);
  });
}
BENCHMARK(BM_TrialAssembly_ReorderWindow)->Unit(benchmark::kMillisecond);
}  // namespace
