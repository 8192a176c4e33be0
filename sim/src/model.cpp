// The physics model, trial by trial (docs/simulator.md): modulators (setting errors, switching
// time, echo), source (emission, P(x|u) by alias sampling or a memory box), detectors
// (efficiency, dark counts, dead time, jitter). Every random draw comes from one Rng in a fixed
// order per trial, so the tags are a function of the settings, the seed and the settings
// delivered — not of block sizes, pacing or how the settings arrived.
#include "model.hpp"

#include "layout.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace dira::sim {

using detail::kJitterTruncation;
using detail::kMaxErrorTrials;
using detail::kNever;
using protocol::Trial;

PhysicalSimulator::Model::Model(const PhysicalSettings& settings, const protocol::Scenario& scenario,
                                const hal::TrialAssemblyConfig& layout, detail::SourceModel source,
                                const detail::ModulatorBank& modulators, SimCounters& sim_counters,
                                bool general_path_only)
    : s(settings), sc(scenario), bank(&modulators), counters(&sim_counters), rng(settings.seed) {
  parties = sc.parties();
  for (int p = 0, base = 0; p < sc.parties(); ++p) {
    const auto pi = static_cast<std::size_t>(p);
    nset[pi] = sc.settings(p);
    nout[pi] = sc.outcomes(p);
    det_base[pi] = base;
    base += sc.outcomes(p);
    detectors = base;
  }
  decode.resize(sc.outcome_count());
  for (std::size_t x = 0; x < sc.outcome_count(); ++x) {
    const protocol::Outcome o = sc.outcome_at(x);
    std::uint32_t packed = 0;
    for (std::size_t p = 0; p < o.size(); ++p) packed |= static_cast<std::uint32_t>(o[p]) << (8 * p);
    decode[x] = packed;
  }

  tables = std::move(source.tables);
  memory = std::move(source.memory);
  const bool independent = s.apparatus == ApparatusKind::independent && s.logical_devices > 1;
  apparatus.resize(independent ? s.logical_devices : 1);
  for (std::size_t k = 0; k < apparatus.size(); ++k) {
    auto& a = apparatus[k];
    a.table = source.table_per_apparatus ? k : 0;
    a.dead_until.assign(static_cast<std::size_t>(detectors), std::numeric_limits<std::int64_t>::min());
    a.next_dark.assign(static_cast<std::size_t>(detectors), std::numeric_limits<std::int64_t>::min());
  }

  emission = detail::Bernoulli(s.emission_probability);
  efficiency = detail::Bernoulli(s.efficiency);
  setting_error = detail::Bernoulli(s.setting_error_rate);
  dark_rate_per_ps = s.dark_count_rate_hz * 1e-12;
  late_switch = s.detection_delay_ps < s.switching_time_ps;
  jitter_margin = static_cast<std::int64_t>(std::ceil(kJitterTruncation * s.jitter_ps)) + 1;
  window_end = detail::window_end(layout);
  photons_only = !general_path_only && !memory && dark_rate_per_ps <= 0 && s.jitter_ps <= 0;

  // Channels of this station.
  std::set<int> syncs;
  det_channel.assign(static_cast<std::size_t>(detectors), 0);
  std::size_t per_trial = 0;
  for (int p = 0; p < sc.parties(); ++p) {
    const auto pi = static_cast<std::size_t>(p);
    const auto& st = layout.parties[pi];
    emit_party[pi] = st.station == s.station;
    if (emit_party[pi]) {
      syncs.insert(st.sync_channel);
      per_trial += 1 + (s.echo ? 1 : 0);
    }
    for (int o = 0; o < sc.outcomes(p); ++o)
      det_channel[static_cast<std::size_t>(det_base[pi] + o)] = st.detector_channels[static_cast<std::size_t>(o)];
    echo_channel[pi] = st.echo_channels;
  }
  sync_channels.assign(syncs.begin(), syncs.end());
  tags_per_trial = per_trial + sync_channels.size() + 1;

  if (s.trials && s.fail_after_trials) {
    limit = std::min(s.trials, s.fail_after_trials);
    limit_fails = s.fail_after_trials <= s.trials;
  } else if (s.trials || s.fail_after_trials) {
    limit = s.trials ? s.trials : s.fail_after_trials;
    limit_fails = s.fail_after_trials != 0;
  }
}

void PhysicalSimulator::Model::insert(hal::TagBlock& out, const hal::Tag& tag) {
  const std::int64_t time = tag.time_ps;
  // Insertion from the back: the stream is nearly sorted (only jitter and dark counts reorder it).
  out.push_back(tag);
  std::size_t k = out.size() - 1;
  while (k > 0 && out[k - 1].time_ps > time) {
    out[k] = out[k - 1];
    --k;
  }
  out[k] = tag;
}

std::int64_t PhysicalSimulator::Model::exponential_ps() {
  const double gap = -std::log(detail::open_uniform(rng)) / dark_rate_per_ps;
  return gap >= 9e18 ? kNever / 2 : std::max<std::int64_t>(1, std::llround(gap));
}

void PhysicalSimulator::Model::click(Apparatus& a, int det, int party, std::int64_t t, bool dark, hal::TagBlock& out) {
  if (t < a.dead_until[static_cast<std::size_t>(det)]) {
    ++counters->dead_time_losses;
    return;
  }
  a.dead_until[static_cast<std::size_t>(det)] = t + s.dead_time_ps;
  ++(dark ? counters->dark_clicks : counters->photon_clicks);
  std::int64_t tag = t;
  if (s.jitter_ps > 0) {
    const double d = std::clamp(gauss.draw(rng), -kJitterTruncation, kJitterTruncation) * s.jitter_ps;
    tag += static_cast<std::int64_t>(d + (d < 0 ? -0.5 : 0.5));  // nearest ps
  }
  // Clamped at the stream start and at the last segment's time mark (which promised that no
  // earlier tag follows): only a jittered tag within 8σ of either can move.
  if (emit_party[static_cast<std::size_t>(party)])
    push(out, det_channel[static_cast<std::size_t>(det)], std::max<std::int64_t>(tag, floor_ps));
}

void PhysicalSimulator::Model::generate(std::uint64_t n, hal::TagBlock& out) {
  if (photons_only) return generate_photons_only(n, out);
  for (std::uint64_t j = 0; j < n; ++j) generate_trial(generated++, out);
}

void PhysicalSimulator::Model::generate_photons_only(std::uint64_t n, hal::TagBlock& out) {
  // generate_trial() for a source without memory and detectors without dark counts or jitter
  // (the shipped ks294 and guehne4 runs): the same draws from the same generator in the same
  // order, the same tags pushed in the same order, the same counters — so the same stream, bit
  // for bit (cli.run.shipped_runs_unchanged, cli.run.trials_unchanged_by_pipeline_redesign).
  // What differs is only where the state lives: the generator and the counters in locals for
  // the batch (registers: through `this` and `counters` every draw and count was a load and a
  // store, as a tag store might alias them), click() inlined without its dark-count and jitter
  // branches, and no dark-count loop per detector. tests/unit/test_sim_paths.cpp runs a matrix of
  // settings through both paths (detail::GenerationPath forces the general one) and compares them.
  Rng r = rng;
  std::uint64_t trials = 0, emissions = 0, photon_clicks = 0, dead_time_losses = 0, late_switches = 0,
                setting_errors = 0;
  const auto flush = [&] {
    rng = r;
    counters->trials += trials;
    counters->emissions += emissions;
    counters->photon_clicks += photon_clicks;
    counters->dead_time_losses += dead_time_losses;
    counters->late_switches += late_switches;
    counters->setting_errors += setting_errors;
  };
  const std::int64_t detection_delay = s.detection_delay_ps, echo_delay = s.echo_delay_ps, dead_time = s.dead_time_ps;
  const bool echo = s.echo, several_devices = s.logical_devices > 1, one_apparatus = apparatus.size() == 1;
  try {
    for (std::uint64_t j = 0; j < n; ++j) {
      const std::uint64_t i = generated++;
      const std::int64_t t0 = sync_time(i);
      const std::uint32_t device = several_devices ? s.device_of(i) : 0;
      Apparatus& a = one_apparatus ? apparatus[0] : apparatus[device];
      for (int ch : sync_channels) push(out, ch, t0);

      // Modulators (as in generate_trial).
      std::array<std::uint8_t, protocol::kMaxParties> u{}, x{};
      for (int p = 0; p < parties; ++p) {
        const auto pi = static_cast<std::size_t>(p);
        int c = bank->setting(p, i);
        if (nset[pi] > 1 && setting_error.draw(r)) {
          const int e = static_cast<int>(((r.next() >> 32) * static_cast<std::uint64_t>(nset[pi] - 1)) >> 32);
          c = e >= c ? e + 1 : e;
          ++setting_errors;
          if (counters->setting_error_trials.size() < kMaxErrorTrials &&
              (counters->setting_error_trials.empty() || counters->setting_error_trials.back() != i))
            counters->setting_error_trials.push_back(i);
        }
        const auto applied = static_cast<std::uint8_t>(c);
        if (late_switch && applied != a.modulator[pi]) {
          u[pi] = a.modulator[pi];
          ++late_switches;
        } else {
          u[pi] = applied;
        }
        a.modulator[pi] = applied;
        if (echo && emit_party[pi]) push(out, echo_channel[pi][applied], t0 + echo_delay);
      }

      // Source (alias sampling; no memory).
      const bool emitted = emission.draw(r);
      if (emitted) {
        ++emissions;
        std::size_t row = 0;
        for (int p = 0; p < parties; ++p)
          row = row * static_cast<std::size_t>(nset[static_cast<std::size_t>(p)]) + u[static_cast<std::size_t>(p)];
        const std::uint32_t packed = decode[tables[a.table].sample(row, r.next())];
        for (int p = 0; p < parties; ++p) x[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(packed >> (8 * p));
      }

      // Detectors: only the photon can click (click() without jitter).
      for (int p = 0; p < parties; ++p) {
        const auto pi = static_cast<std::size_t>(p);
        if (!(emitted && efficiency.draw(r))) continue;
        const auto det = static_cast<std::size_t>(det_base[pi] + x[pi]);
        const std::int64_t t = t0 + detection_delay;
        if (t < a.dead_until[det]) {
          ++dead_time_losses;
          continue;
        }
        a.dead_until[det] = t + dead_time;
        ++photon_clicks;
        if (emit_party[pi]) push(out, det_channel[det], std::max<std::int64_t>(t, floor_ps));
      }
      ++trials;
    }
  } catch (...) {
    flush();
    throw;
  }
  flush();
}

// generate_photons_only() is this function's twin for runs without memory, dark counts or
// jitter: a change to the draws or the tags here must be made there too. The two are compared
// bit for bit over a matrix of settings by tests/unit/test_sim_paths.cpp; the shipped runs, which
// take the batch path, are pinned by cli.run.shipped_runs_unchanged.
void PhysicalSimulator::Model::generate_trial(std::uint64_t i, hal::TagBlock& out) {
  const std::int64_t t0 = sync_time(i);
  const std::uint32_t device = s.logical_devices > 1 ? s.device_of(i) : 0;
  Apparatus& a = apparatus.size() == 1 ? apparatus[0] : apparatus[device];
  for (int ch : sync_channels) push(out, ch, t0);

  // Modulators: commanded at the sync edge with the setting delivered for trial i; an error
  // replaces it (the echo shows the replacement); a slow switch leaves the photon measured with
  // the setting held before.
  Trial m;
  m.index = i;
  m.device = device;
  for (int p = 0; p < parties; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    int c = bank->setting(p, i);
    if (nset[pi] > 1 && setting_error.draw(rng)) {
      const int r = static_cast<int>(((rng.next() >> 32) * static_cast<std::uint64_t>(nset[pi] - 1)) >> 32);
      c = r >= c ? r + 1 : r;
      ++counters->setting_errors;
      if (counters->setting_error_trials.size() < kMaxErrorTrials &&
          (counters->setting_error_trials.empty() || counters->setting_error_trials.back() != i))
        counters->setting_error_trials.push_back(i);
    }
    const auto applied = static_cast<std::uint8_t>(c);
    if (late_switch && applied != a.modulator[pi]) {
      m.u[pi] = a.modulator[pi];
      ++counters->late_switches;
    } else {
      m.u[pi] = applied;
    }
    a.modulator[pi] = applied;
    if (s.echo && emit_party[pi]) push(out, echo_channel[pi][applied], t0 + s.echo_delay_ps);
  }

  // Source.
  const bool emitted = emission.draw(rng);
  if (emitted) {
    ++counters->emissions;
    if (memory) {
      memory(a.has_previous ? &a.previous : nullptr, m, rng);
      for (int p = 0; p < parties; ++p)
        if (m.x[static_cast<std::size_t>(p)] >= nout[static_cast<std::size_t>(p)])
          throw std::invalid_argument("sim: the memory box gave an outcome out of range in trial " + std::to_string(i));
    } else {
      std::size_t u = 0;
      for (int p = 0; p < parties; ++p)
        u = u * static_cast<std::size_t>(nset[static_cast<std::size_t>(p)]) + m.u[static_cast<std::size_t>(p)];
      const std::size_t x = tables[a.table].sample(u, rng.next());
      const std::uint32_t packed = decode[x];
      for (int p = 0; p < parties; ++p) m.x[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(packed >> (8 * p));
    }
  }
  if (memory) {      // only a box with memory reads it (copying m every trial stalls on its byte stores)
    a.previous = m;  // the box remembers the settings even when nothing was emitted
    a.has_previous = true;
  }

  // Detectors: the photon of party p goes to detector x_p (docs/simulator.md, "Detectors").
  const std::int64_t end = t0 + s.sync_period_ps;
  for (int p = 0; p < parties; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    int hit = -1;
    if (emitted && efficiency.draw(rng)) hit = m.x[pi];
    if (dark_rate_per_ps <= 0) {  // only the photon can click
      if (hit >= 0) click(a, det_base[pi] + hit, p, t0 + s.detection_delay_ps, false, out);
      continue;
    }
    for (int o = 0; o < nout[pi]; ++o) {
      const int det = det_base[pi] + o;
      std::int64_t photon = o == hit ? t0 + s.detection_delay_ps : kNever;
      // Dark counts: a Poisson process per detector, sampled by its arrival times. An
      // apparatus idle in other trials (independent) restarts it: memoryless, so exact.
      std::int64_t& nd = a.next_dark[static_cast<std::size_t>(det)];
      if (nd < t0) nd = t0 + exponential_ps();
      for (;;) {
        if (nd < end && nd < photon) {
          const std::int64_t t = nd;
          nd = nd >= kNever / 2 ? kNever / 2 : nd + exponential_ps();
          click(a, det, p, t, true, out);
        } else if (photon != kNever) {
          click(a, det, p, photon, false, out);
          photon = kNever;
        } else {
          break;
        }
      }
    }
  }
  ++counters->trials;
}

}  // namespace dira::sim
