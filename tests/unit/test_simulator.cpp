// The physical simulator (driver `sim`, issue 4 §2), always observed through the real
// hal::TrialAssembler: tags → trials → statistics, compared with predictions derived
// independently (Born rule of the seeds' states, the planner's hardware channel, closed forms
// for dead time, jitter and slow modulators worked out in the comments).
#include "support.hpp"

#include "dira/hal/registry.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/protocol/settings_rule.hpp"
#include "dira/sim/physical.hpp"
#include "dira/sim/register.hpp"
#include "dira/sim/sv_sources.hpp"

#include "uniform_schedule.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <variant>

using namespace dira;
using protocol::Behaviour;
using protocol::Inequality;
using protocol::Scenario;
using protocol::Trial;
using sim::PhysicalSimulator;
using sim::SettingsMap;

namespace {

const Inequality& ks294() {
  static const Inequality i = test::load("ks294");
  return i;
}
const Inequality& guehne4() {
  static const Inequality i = test::load("guehne4");
  return i;
}

using test::mix;
using test::uniform_schedule;

sim::SettingSchedule fixed_schedule(std::array<std::uint8_t, 4> u) {
  return [u](std::uint64_t i) {
    Trial t;
    t.index = i;
    t.u = u;
    return t;
  };
}

struct Run {
  std::vector<Trial> trials;
  std::vector<hal::StreamEnd> ends;
  hal::AssemblyCounters counters;
  std::vector<std::vector<hal::Tag>> tags;  // per simulator
  std::size_t blocks = 0;
};

/// Starts the simulators (one per station), feeds every event to one assembler until all
/// streams ended, returns the assembled trials.
Run assemble(const std::vector<PhysicalSimulator*>& sims, const hal::TrialAssemblyConfig& layout,
             const sim::SettingSchedule& schedule, bool keep_tags = false) {
  hal::TrialAssembler assembler(layout, schedule);
  Run run;
  run.tags.resize(sims.size());
  std::vector<bool> done(sims.size(), false);
  for (auto* s : sims) s->start();
  std::size_t open = sims.size();
  while (open > 0) {
    for (std::size_t k = 0; k < sims.size(); ++k) {
      if (done[k]) continue;
      const int station = sims[k]->physical_settings().station;
      auto ev = sims[k]->next(std::chrono::milliseconds(0));
      if (auto* b = std::get_if<hal::TagBlock>(&ev)) {
        ++run.blocks;
        if (keep_tags) run.tags[k].insert(run.tags[k].end(), b->begin(), b->end());
        assembler.push(station, *b);
      } else if (auto* e = std::get_if<hal::StreamEnd>(&ev)) {
        assembler.end(station);
        run.ends.push_back(*e);
        done[k] = true;
        --open;
      }
    }
    assembler.pop(run.trials);
  }
  assembler.pop(run.trials);
  run.counters = assembler.counters();
  return run;
}

Run assemble(PhysicalSimulator& s, const sim::SettingSchedule& schedule, bool keep_tags = false) {
  return assemble({&s}, s.layout(), schedule, keep_tags);
}

/// Counts n(u, x) laid out as Scenario::index.
std::vector<double> counts(const Scenario& sc, const std::vector<Trial>& trials) {
  std::vector<double> c(sc.size(), 0.0);
  for (const Trial& t : trials) {
    protocol::Setting u;
    protocol::Outcome x;
    for (int p = 0; p < sc.parties(); ++p) {
      u.push_back(t.u[static_cast<std::size_t>(p)]);
      x.push_back(t.x[static_cast<std::size_t>(p)]);
    }
    c[sc.index(u, x)] += 1;
  }
  return c;
}

struct ChiSquare {
  double statistic = 0;
  double df = 0;
  double critical = 0;
  std::uint64_t impossible = 0;  // counts in cells of probability 0
};

/// Pearson's χ² over every setting: cells expected below 5 are pooled per setting; cells of
/// probability < 1e-12 must be empty. Critical value at α ≈ 1e-6 by Wilson–Hilferty (z = 4.75).
ChiSquare chi_square(const Scenario& sc, const std::vector<double>& n, const Behaviour& p) {
  ChiSquare r;
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double nu = 0;
    for (std::size_t x = 0; x < nx; ++x) nu += n[u * nx + x];
    if (nu == 0) continue;
    double pooled_e = 0, pooled_o = 0;
    int cells = 0;
    for (std::size_t x = 0; x < nx; ++x) {
      const double e = nu * p[u * nx + x], o = n[u * nx + x];
      if (p[u * nx + x] < 1e-12) {
        r.impossible += static_cast<std::uint64_t>(o);
        continue;
      }
      if (e < 5) {
        pooled_e += e;
        pooled_o += o;
        continue;
      }
      r.statistic += (o - e) * (o - e) / e;
      ++cells;
    }
    if (pooled_e > 0) {
      r.statistic += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
      ++cells;
    }
    r.df += cells - 1;
  }
  const double z = 4.75, a = 2 / (9 * r.df);
  r.critical = r.df * std::pow(1 - a + z * std::sqrt(a), 3);
  return r;
}

/// B·P of the empirical behaviour and its standard error under the predicted behaviour (each
/// trial contributes the 0/1 indicator B(x,u), a Bernoulli of mean q_u per setting).
std::pair<double, double> bell_estimate(const protocol::BellExpression& B, const std::vector<double>& n,
                                        const Behaviour& predicted) {
  const auto& sc = B.scenario();
  const std::size_t nx = sc.outcome_count();
  double value = 0, var = 0;
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double nu = 0, hit = 0, q = 0;
    for (std::size_t x = 0; x < nx; ++x) {
      nu += n[u * nx + x];
      hit += static_cast<double>(B.coefficient(u * nx + x)) * n[u * nx + x];
      q += static_cast<double>(B.coefficient(u * nx + x)) * predicted[u * nx + x];
    }
    if (nu == 0) continue;
    value += hit / nu;
    var += q * (1 - q) / nu;
  }
  return {value, std::sqrt(var)};
}

bool same_tags(const std::vector<hal::Tag>& a, const std::vector<hal::Tag>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].channel != b[i].channel || a[i].time_ps != b[i].time_ps) return false;
  return true;
}

double party_no_click_fraction(const Run& r, int parties) {
  return static_cast<double>(r.counters.no_click) / (static_cast<double>(r.trials.size()) * parties);
}

}  // namespace

TEST_CASE("ideal hardware reproduces the quantum behaviour of ks294 and guehne4 (chi-square)", "[simulator]") {
  // Golden: P(x|u) by the Born rule on the seeds' states and bases (protocol::quantum_behaviour,
  // checked against the seeds' eq. 25–28 and eq. 8–10 in test_ks294/test_guehne4). The simulator
  // must carry it through alias sampling, detector channels, tags and trial assembly unchanged.
  for (const Inequality* ineq : {&ks294(), &guehne4()}) {
    const Scenario& sc = ineq->expression.scenario();
    const std::uint64_t n = ineq->name == "ks294" ? 1'000'000 : 400'000;
    const auto schedule = uniform_schedule(sc);
    PhysicalSimulator s({{"trials", static_cast<std::int64_t>(n)}, {"seed", std::int64_t{5}}}, *ineq, schedule);
    const Run r = assemble(s, schedule);
    INFO(ineq->name);
    REQUIRE(r.trials.size() == n);
    REQUIRE(r.ends.size() == 1);
    CHECK_FALSE(r.ends[0].error);
    CHECK(r.counters.no_click == 0);
    CHECK(r.counters.multi_click == 0);
    CHECK(r.counters.stray_tags == 0);
    for (std::size_t i = 0; i < r.trials.size(); ++i) REQUIRE(r.trials[i].index == i);
    const auto c = counts(sc, r.trials);
    const auto chi = chi_square(sc, c, protocol::quantum_behaviour(sc, *ineq->quantum));
    INFO("chi2 = " << chi.statistic << ", df = " << chi.df << ", critical = " << chi.critical);
    CHECK(chi.impossible == 0);  // ks294: orthogonal pairs never happen (B·P = 0 exactly)
    CHECK(chi.statistic < chi.critical);
    CHECK(ineq->expression.value(c) == 0);
  }
}

TEST_CASE("imperfect hardware gives the planner's hardware behaviour", "[simulator]") {
  // Golden: protocol::hardware_behaviour (white noise, then per party the detector channel with
  // the fixed outcome rule no click → 0, several → lowest detector), with dark_count = 1 −
  // exp(−rate·window). A trial without emission is the same channel with efficiency 0, so with
  // emission probability e: P = e·hw(V, η, d) + (1 − e)·hw(V, 0, d).
  struct Case {
    const Inequality* ineq;
    double v, eta, emit, dark_p;
    std::uint64_t n;
  };
  for (const Case& k : {Case{&guehne4(), 0.9, 0.8, 1.0, 0.0, 300'000}, Case{&guehne4(), 0.97, 0.6, 0.7, 0.02, 300'000},
                        Case{&ks294(), 0.95, 0.9, 0.8, 5e-3, 600'000}}) {
    const Inequality& ineq = *k.ineq;
    const Scenario& sc = ineq.expression.scenario();
    const double window = 2000;
    const double rate = -std::log1p(-k.dark_p) / (window * 1e-12);
    const auto schedule = uniform_schedule(sc, 3);
    PhysicalSimulator s({{"trials", static_cast<std::int64_t>(k.n)},
                         {"visibility", k.v},
                         {"efficiency", k.eta},
                         {"emission_probability", k.emit},
                         {"dark_count_rate_hz", rate},
                         {"detection_window_ps", std::int64_t{2000}},
                         {"seed", std::int64_t{11}}},
                        ineq, schedule);
    CHECK(s.physical_settings().dark_count_probability() == Approx(k.dark_p).epsilon(1e-9));
    const Run r = assemble(s, schedule);
    REQUIRE(r.trials.size() == k.n);
    const Behaviour on = protocol::hardware_behaviour(ineq, {k.v, k.eta, k.dark_p});
    const Behaviour off = protocol::hardware_behaviour(ineq, {k.v, 0.0, k.dark_p});
    Behaviour predicted(on.size());
    for (std::size_t i = 0; i < on.size(); ++i) predicted[i] = k.emit * on[i] + (1 - k.emit) * off[i];
    const auto c = counts(sc, r.trials);
    const auto chi = chi_square(sc, c, predicted);
    const auto [value, se] = bell_estimate(ineq.expression, c, predicted);
    const double expected = ineq.expression.value(predicted);
    INFO(ineq.name << " V=" << k.v << " eta=" << k.eta << " emit=" << k.emit << " dark=" << k.dark_p);
    INFO("B·P = " << value << " ± " << se << ", predicted " << expected << "; chi2 " << chi.statistic << " / "
                  << chi.critical);
    CHECK(std::fabs(value - expected) < 5 * se);
    CHECK(expected > 0.05);  // the value did move away from the ideal 0
    CHECK(chi.impossible == 0);
    CHECK(chi.statistic < chi.critical);
  }
}

TEST_CASE("a fixed basis misalignment matches the rotated Born rule", "[simulator]") {
  // Golden: the test rotates guehne4's bases itself — every basis vector b ↦ R(θ) b with the real
  // rotation R = [[cos θ, −sin θ], [sin θ, cos θ]] (docs/simulator.md, misalignment = fixed) —
  // and applies the Born rule with protocol::quantum_behaviour.
  const Inequality& ineq = guehne4();
  const Scenario& sc = ineq.expression.scenario();
  const double theta = 0.15;
  protocol::QuantumRealisation q = *ineq.quantum;
  Eigen::Matrix2cd rot;
  rot << std::cos(theta), -std::sin(theta), std::sin(theta), std::cos(theta);
  for (auto& party : q.bases)
    for (auto& b : party) b = rot * b;
  const Behaviour predicted = protocol::quantum_behaviour(sc, q);
  const auto schedule = uniform_schedule(sc, 4);
  PhysicalSimulator s(
      {{"trials", std::int64_t{300'000}}, {"misalignment", std::string("fixed")}, {"misalignment_rad", theta}}, ineq,
      schedule);
  const Run r = assemble(s, schedule);
  const auto c = counts(sc, r.trials);
  const auto [value, se] = bell_estimate(ineq.expression, c, predicted);
  INFO("B·P = " << value << " ± " << se << ", predicted " << ineq.expression.value(predicted));
  CHECK(ineq.expression.value(predicted) > 0.1);
  CHECK(std::fabs(value - ineq.expression.value(predicted)) < 5 * se);
  CHECK(chi_square(sc, c, predicted).statistic < chi_square(sc, c, predicted).critical);

  // Random misalignment: a different unitary per party from the seed; small θ stays close to ideal.
  PhysicalSimulator rnd({{"trials", std::int64_t{100'000}}, {"misalignment_rad", 0.05}}, ineq, schedule);
  const Run rr = assemble(rnd, schedule);
  const auto [rv, rse] = bell_estimate(ineq.expression, counts(sc, rr.trials), predicted);
  CHECK(rv > 0);                 // a rotation of 0.05 rad does cost something…
  CHECK(rv < value - 10 * rse);  // …but much less than the fixed 0.15 rad
}

TEST_CASE("dead time blinds a detector across consecutive trials", "[simulator]") {
  const Inequality& ineq = guehne4();
  const Scenario& sc = ineq.expression.scenario();
  SECTION("a constant outcome with dead time 1.5 periods clicks every other trial") {
    // The local box answers the same outcome in every trial at a fixed setting, so the same
    // detector is hit each period: after a click it is dead for the next photon (1.5 periods),
    // alive again for the one after. Exactly every odd trial has no click, for every party.
    const auto schedule = fixed_schedule({0, 0, 0, 0});
    PhysicalSimulator s(
        {{"trials", std::int64_t{1000}}, {"source", std::string("local")}, {"dead_time_ps", std::int64_t{1'500'000}}},
        ineq, schedule);
    const Run r = assemble(s, schedule);
    REQUIRE(r.trials.size() == 1000);
    for (const Trial& t : r.trials) CHECK(((t.flags & protocol::kTrialNoClick) != 0) == (t.index % 2 == 1));
    CHECK(r.counters.no_click == 4 * 500);
    CHECK(s.counters().dead_time_losses == 4 * 500);
    // Half a period of dead time never matters at one photon per period.
    PhysicalSimulator short_dead(
        {{"trials", std::int64_t{1000}}, {"source", std::string("local")}, {"dead_time_ps", std::int64_t{500'000}}},
        ineq, schedule);
    CHECK(assemble(short_dead, schedule).counters.no_click == 0);
  }
  SECTION("with random binary outcomes a third of the party-trials are lost") {
    // Each party's outcome is uniform on {0,1} and independent between trials (guehne4's state has
    // maximally mixed one-party marginals; settings are independent). A photon is lost iff it hits
    // the detector that clicked in the previous trial: c = P(click) = 1 − ½·c, so c = 2/3 and the
    // no-click fraction is 1/3.
    const Behaviour q = protocol::quantum_behaviour(sc, *ineq.quantum);
    for (std::size_t u = 0; u < sc.setting_count(); ++u)  // the premise: every marginal is ½
      for (int p = 0; p < 4; ++p) {
        double zero = 0;
        for (std::size_t x = 0; x < sc.outcome_count(); ++x)
          if (sc.outcome_at(x)[static_cast<std::size_t>(p)] == 0) zero += q[u * sc.outcome_count() + x];
        REQUIRE(zero == Approx(0.5));
      }
    const auto schedule = uniform_schedule(sc, 8);
    PhysicalSimulator s({{"trials", std::int64_t{200'000}}, {"dead_time_ps", std::int64_t{1'500'000}}}, ineq, schedule);
    const Run r = assemble(s, schedule);
    const double f = party_no_click_fraction(r, 4);
    INFO("no-click fraction " << f);
    CHECK(std::fabs(f - 1.0 / 3) < 0.005);  // σ ≈ 0.0013 for 8·10^5 party-trials (chain correlation ≲ 2)
    CHECK(r.counters.multi_click == 0);
  }
}

TEST_CASE("timing jitter pushes detections out of the window", "[simulator]") {
  // A Gaussian of σ = half the window keeps a detection inside [−w/2, w/2) with probability
  // erf(1/√2) = 0.682689; a detection outside every window is a stray tag and its trial gets the
  // no-click outcome. Without jitter every detection lands.
  const Inequality& ineq = guehne4();
  const auto schedule = uniform_schedule(ineq.expression.scenario(), 5);
  PhysicalSimulator s(
      {{"trials", std::int64_t{100'000}}, {"jitter_ps", 1000.0}, {"detection_window_ps", std::int64_t{2000}}}, ineq,
      schedule);
  const Run r = assemble(s, schedule);
  const double f = party_no_click_fraction(r, 4);
  INFO("no-click fraction " << f);
  CHECK(std::fabs(f - (1 - std::erf(1 / std::sqrt(2.0)))) < 0.004);  // σ_f ≈ 7e-4
  CHECK(r.counters.stray_tags == r.counters.no_click);
  PhysicalSimulator small({{"trials", std::int64_t{100'000}}, {"jitter_ps", 50.0}}, ineq, schedule);
  const Run rs = assemble(small, schedule);
  CHECK(rs.counters.no_click == 0);  // 50 ps ≪ the 1 ns half-window (20σ)
}

TEST_CASE("slow modulators measure with the previous setting", "[simulator]") {
  // switching_time > detection_delay: the photon passes the modulator before the new setting is
  // valid, so it is measured with the setting of the previous trial while the trial is labelled
  // with the new one. With independent uniform settings the labelled statistics are
  // P(x|u) = (1/16) Σ_{u'} P_q(x|u') for every u, whose B·P the test computes directly.
  const Inequality& ineq = guehne4();
  const Scenario& sc = ineq.expression.scenario();
  const Behaviour q = protocol::quantum_behaviour(sc, *ineq.quantum);
  Behaviour mixed(q.size(), 0.0);
  const std::size_t nx = sc.outcome_count(), nu = sc.setting_count();
  for (std::size_t u = 0; u < nu; ++u)
    for (std::size_t x = 0; x < nx; ++x)
      for (std::size_t up = 0; up < nu; ++up) mixed[u * nx + x] += q[up * nx + x] / static_cast<double>(nu);
  const auto schedule = uniform_schedule(sc, 6);
  PhysicalSimulator slow({{"trials", std::int64_t{100'000}}, {"switching_time_ps", std::int64_t{20'000}}}, ineq,
                         schedule);
  const Run r = assemble(slow, schedule);
  const auto [value, se] = bell_estimate(ineq.expression, counts(sc, r.trials), mixed);
  INFO("B·P = " << value << " ± " << se << ", predicted " << ineq.expression.value(mixed));
  CHECK(std::fabs(value - ineq.expression.value(mixed)) < 5 * se);
  CHECK(ineq.expression.value(mixed) > 1);
  CHECK(slow.counters().late_switches > 0);
  // The echo reports the setting the modulator was given, so assembly sees nothing wrong: only
  // the Bell test can reveal a slow modulator.
  CHECK(r.counters.trials == 100'000);

  PhysicalSimulator fast({{"trials", std::int64_t{20'000}}, {"switching_time_ps", std::int64_t{9'000}}}, ineq,
                         schedule);
  const Run rf = assemble(fast, schedule);
  CHECK(ineq.expression.value(counts(sc, rf.trials)) == 0);
  CHECK(fast.counters().late_switches == 0);
}

TEST_CASE("a setting error is a hardware fault naming the trial", "[simulator]") {
  const Inequality& ineq = guehne4();
  const auto schedule = uniform_schedule(ineq.expression.scenario(), 7);
  PhysicalSimulator s({{"trials", std::int64_t{100'000}}, {"setting_error_rate", 1e-3}}, ineq, schedule);
  std::string message;
  try {
    assemble(s, schedule);
  } catch (const hal::HardwareFault& e) {
    message = e.what();
  }
  REQUIRE_FALSE(s.counters().setting_error_trials.empty());
  const std::uint64_t first = s.counters().setting_error_trials.front();
  INFO(message);
  CHECK(message.find("trial " + std::to_string(first) + ",") != std::string::npos);
  CHECK(message.find("modulator echo shows setting") != std::string::npos);
  CHECK(first < 100'000);

  // Without echo channels nothing detects it at assembly (the Bell test has to).
  PhysicalSimulator blind({{"trials", std::int64_t{20'000}}, {"setting_error_rate", 1e-2}, {"echo", false}}, ineq,
                          schedule);
  const Run r = assemble(blind, schedule);
  CHECK(r.trials.size() == 20'000);
  CHECK(blind.counters().setting_errors > 100);
  CHECK(blind.layout().parties[0].echo_channels.empty());
}

TEST_CASE("same seed, same tags — block size and pacing do not change the stream", "[simulator]") {
  const Inequality& ineq = ks294();
  const auto schedule = uniform_schedule(ineq.expression.scenario(), 1);
  SettingsMap noisy{{"trials", std::int64_t{30'000}},
                    {"visibility", 0.9},
                    {"efficiency", 0.7},
                    {"emission_probability", 0.8},
                    {"dark_count_rate_hz", 2e5},
                    {"dead_time_ps", std::int64_t{50'000}},
                    {"jitter_ps", 300.0},
                    {"misalignment_rad", 0.05},
                    {"seed", std::int64_t{42}}};
  PhysicalSimulator a(noisy, ineq, schedule), b(noisy, ineq, schedule);
  auto other = noisy;
  other["block_trials"] = std::int64_t{777};
  PhysicalSimulator c(other, ineq, schedule);
  other = noisy;
  other["seed"] = std::int64_t{43};
  PhysicalSimulator d(other, ineq, schedule);
  const Run ra = assemble(a, schedule, true), rb = assemble(b, schedule, true), rc = assemble(c, schedule, true),
            rd = assemble(d, schedule, true);
  CHECK(ra.tags[0].size() > 100'000);
  CHECK(same_tags(ra.tags[0], rb.tags[0]));
  CHECK(same_tags(ra.tags[0], rc.tags[0]));
  CHECK(rc.blocks > ra.blocks);
  CHECK_FALSE(same_tags(ra.tags[0], rd.tags[0]));
  CHECK(a.counters().dark_clicks > 0);
  CHECK(a.counters().dead_time_losses > 0);
  // Tags come in time order, as the assembler requires without a reorder window.
  for (std::size_t i = 1; i < ra.tags[0].size(); ++i) REQUIRE(ra.tags[0][i - 1].time_ps <= ra.tags[0][i].time_ps);
  // Restarting the same device replays the run.
  const Run again = assemble(a, schedule, true);
  CHECK(same_tags(ra.tags[0], again.tags[0]));
}

TEST_CASE("fail_after_trials ends the stream with an error after exactly N trials", "[simulator]") {
  const Inequality& ineq = guehne4();
  const auto schedule = uniform_schedule(ineq.expression.scenario());
  PhysicalSimulator s(
      {{"fail_after_trials", std::int64_t{1234}}, {"block_trials", std::int64_t{100}}, {"jitter_ps", 100.0}}, ineq,
      schedule);
  const Run r = assemble(s, schedule);
  REQUIRE(r.ends.size() == 1);
  CHECK(r.ends[0].error);
  CHECK(r.ends[0].reason.find("1234") != std::string::npos);
  REQUIRE(r.trials.size() == 1234);  // every trial before the failure is kept
  CHECK(r.trials.back().index == 1233);
  CHECK(s.counters().trials == 1234);
  // After the end, next() has nothing more.
  auto ev = s.next(std::chrono::milliseconds(0));
  REQUIRE(std::holds_alternative<hal::TagBlock>(ev));
  CHECK(std::get<hal::TagBlock>(ev).empty());

  // trials < fail_after_trials: a normal end.
  PhysicalSimulator ok({{"fail_after_trials", std::int64_t{1000}}, {"trials", std::int64_t{999}}}, ineq, schedule);
  const Run rok = assemble(ok, schedule);
  CHECK_FALSE(rok.ends[0].error);
  CHECK(rok.trials.size() == 999);

  // stop(): the tags held back are delivered, then a normal end.
  PhysicalSimulator st({{"block_trials", std::int64_t{10}}}, ineq, schedule);
  st.start();
  CHECK(std::holds_alternative<hal::StreamStart>(st.next(std::chrono::milliseconds(0))));
  CHECK(std::holds_alternative<hal::TagBlock>(st.next(std::chrono::milliseconds(0))));
  st.stop();
  bool ended = false;
  for (int i = 0; i < 3 && !ended; ++i) {
    auto e = st.next(std::chrono::milliseconds(0));
    if (auto* end = std::get_if<hal::StreamEnd>(&e)) {
      ended = true;
      CHECK_FALSE(end->error);
    }
  }
  CHECK(ended);
}

TEST_CASE("adversarial boxes: Protocol B rejects the local and the memory box", "[simulator]") {
  // Seed 001: every local strategy has B·P ≥ 4 over the 81 settings, so with uniform settings
  // E[L_n] ≥ 4/81 ≈ 0.049 > δ = 0.02 and Protocol B aborts. The memory box is a mixture of local
  // strategies chosen from the previous trial's settings, which are independent of the current
  // ones, so the same bound holds. The ideal quantum box has L_n = 0 and S_n ≈ 1/(81·16).
  const Inequality& ineq = ks294();
  const Scenario& sc = ineq.expression.scenario();
  const auto schedule = uniform_schedule(sc, 12);
  const std::uint64_t n = 200'000;
  protocol::ProtocolBParameters par;
  par.trials = n;
  const auto run_b = [&](const SettingsMap& settings, double* bell) {
    SettingsMap s = settings;
    s["trials"] = static_cast<std::int64_t>(n);
    PhysicalSimulator sim(s, ineq, schedule);
    const Run r = assemble(sim, schedule);
    REQUIRE(r.trials.size() == n);
    protocol::ProtocolB b(ineq.expression, par);
    b.add(r.trials);
    *bell = b.bell_statistic();
    return b.decide().verdict;
  };
  double bell = 0;
  CHECK(run_b({}, &bell) == protocol::Verdict::accept);
  CHECK(bell == 0);
  CHECK(run_b({{"source", std::string("local")}}, &bell) == protocol::Verdict::abort);
  CHECK(bell == Approx(4.0 / 81).margin(0.003));  // the optimal local strategy: exactly 4 settings lose
  CHECK(run_b({{"source", std::string("memory")}}, &bell) == protocol::Verdict::abort);
  CHECK(bell >= 4.0 / 81 - 0.003);
  // The no-signalling box reaches B·P = 0: it passes the Bell test (Protocol B's security is
  // against such boxes: what it certifies is the randomness left in P(x*|u*), eq. 36).
  CHECK(run_b({{"source", std::string("no_signalling")}}, &bell) == protocol::Verdict::accept);
  CHECK(bell == 0);
}

TEST_CASE("Protocol A on k logical devices: the quantum source passes, the local box fails", "[simulator]") {
  // Seed 000, Fig. 2: settings from weak-source bits (4 per trial), k = 24 devices in blocks of
  // 200 trials. Ideal quantum boxes never fail the Bell test (Z_k = 0); a local box fails it on at
  // least 2 of the 8 settings of U0 ∪ U1 (local bound 2), so Z_k ≈ 1/4 ≫ the threshold.
  const Inequality& ineq = guehne4();
  protocol::ProtocolAParameters par;
  par.epsilon = 0;
  par.devices = 24;
  const int per_device = 200;
  const auto run_a = [&](const std::string& source) {
    sim::IidSvSource fair(0.0, 5);
    protocol::BitLedger ledger(fair);
    std::vector<Trial> intended(static_cast<std::size_t>(par.devices * per_device));
    for (std::size_t i = 0; i < intended.size(); ++i) protocol::draw_setting_guehne(ledger, i, intended[i]);
    const SettingsMap settings{{"source", source},
                               {"logical_devices", std::int64_t{par.devices}},
                               {"device_assignment", std::string("blocks")},
                               {"device_block_trials", std::int64_t{per_device}},
                               {"trials", static_cast<std::int64_t>(intended.size())}};
    const auto schedule =
        sim::with_logical_devices([&](std::uint64_t i) { return intended[i]; }, sim::PhysicalSettings::from(settings));
    PhysicalSimulator s(settings, ineq, schedule);
    const Run r = assemble(s, schedule);
    REQUIRE(r.trials.size() == intended.size());
    protocol::ProtocolA a(ineq.expression, par);
    a.add(r.trials);
    for (const auto& d : a.devices()) CHECK(d.uses == static_cast<std::uint64_t>(per_device));
    return a.finalize(ledger);
  };
  const auto honest = run_a("quantum");
  CHECK(honest.decision.verdict == protocol::Verdict::accept);
  CHECK(honest.z_k == 0);
  const auto local = run_a("local");
  CHECK(local.decision.verdict == protocol::Verdict::abort);
  CHECK(local.z_k > 0.05);
}

TEST_CASE("the memory box passes when settings repeat and fails when they do not", "[simulator]") {
  // The repeat-guess box scores B = 0 whenever the current setting equals the previous one.
  const Inequality& ineq = guehne4();
  const Scenario& sc = ineq.expression.scenario();
  const auto repeat = [](std::uint64_t i) {  // each setting of U0 ∪ U1 held for 1000 trials
    static const std::array<std::array<std::uint8_t, 4>, 8> u{{{0, 0, 0, 1},
                                                               {0, 0, 1, 0},
                                                               {0, 1, 0, 0},
                                                               {1, 0, 0, 0},
                                                               {0, 1, 1, 1},
                                                               {1, 0, 1, 1},
                                                               {1, 1, 0, 1},
                                                               {1, 1, 1, 0}}};
    Trial t;
    t.index = i;
    t.u = u[(i / 1000) % 8];
    return t;
  };
  PhysicalSimulator s({{"trials", std::int64_t{16'000}}, {"source", std::string("memory")}}, ineq, repeat);
  const Run r = assemble(s, repeat);
  std::uint64_t bell_ones = 0;
  for (const Trial& t : r.trials) {
    protocol::Setting u(t.u.begin(), t.u.end());
    protocol::Outcome x(t.x.begin(), t.x.end());
    bell_ones += static_cast<std::uint64_t>(ineq.expression.coefficient(sc.index(u, x)));
  }
  CHECK(bell_ones <= 16);  // at most the first trial after each change
  const auto uniform = uniform_schedule(sc, 13);
  PhysicalSimulator iid({{"trials", std::int64_t{50'000}}, {"source", std::string("memory")}}, ineq, uniform);
  const Run ri = assemble(iid, uniform);
  const auto c = counts(sc, ri.trials);
  // Local bound 2 over the 8 settings of the expression (seed 000, after eq. 5).
  CHECK(ineq.expression.value(c) > 1.9);
}

TEST_CASE("logical devices: assignment, shared or independent apparatus", "[simulator]") {
  const Inequality& ineq = guehne4();
  SettingsMap settings{{"trials", std::int64_t{2000}},
                       {"logical_devices", std::int64_t{2}},
                       {"source", std::string("local")},
                       {"dead_time_ps", std::int64_t{1'500'000}}};
  const auto base = fixed_schedule({0, 0, 0, 0});
  SECTION("round robin over a shared apparatus: the dead detector is the other device's") {
    const auto schedule = sim::with_logical_devices(base, sim::PhysicalSettings::from(settings));
    PhysicalSimulator s(settings, ineq, schedule);
    CHECK(s.identity().find("2 logical devices (round_robin, one shared apparatus)") != std::string::npos);
    const Run r = assemble(s, schedule);
    for (const Trial& t : r.trials) REQUIRE(t.device == t.index % 2);
    CHECK(r.counters.no_click == 4 * 1000);  // every other trial, as with one device
  }
  SECTION("independent apparatuses: each device's detectors rest two periods") {
    settings["apparatus"] = std::string("independent");
    const auto schedule = sim::with_logical_devices(base, sim::PhysicalSettings::from(settings));
    PhysicalSimulator s(settings, ineq, schedule);
    CHECK(s.identity().find("2 independent apparatuses") != std::string::npos);
    const Run r = assemble(s, schedule);
    CHECK(r.counters.no_click == 0);
  }
  SECTION("blocks") {
    settings["logical_devices"] = std::int64_t{3};
    settings["device_assignment"] = std::string("blocks");
    settings["device_block_trials"] = std::int64_t{100};
    const auto ps = sim::PhysicalSettings::from(settings);
    CHECK(ps.device_of(0) == 0);
    CHECK(ps.device_of(99) == 0);
    CHECK(ps.device_of(100) == 1);
    CHECK(ps.device_of(250) == 2);
    CHECK(ps.device_of(300) == 0);
    const auto schedule = sim::with_logical_devices(base, ps);
    PhysicalSimulator s(settings, ineq, schedule);
    CHECK(s.identity().find("blocks of 100 trials") != std::string::npos);
    const Run r = assemble(s, schedule);
    for (const Trial& t : r.trials) REQUIRE(t.device == (t.index / 100) % 3);
  }
}

TEST_CASE("per-party stations: one sim device per station gives the same trials", "[simulator]") {
  // Every station's device simulates the whole experiment from the same seed and delivers only
  // its own tags, so merging the stations by sync index must reproduce the one-station run.
  const Inequality& ineq = guehne4();
  const auto schedule = uniform_schedule(ineq.expression.scenario(), 21);
  SettingsMap common{{"trials", std::int64_t{20'000}},
                     {"efficiency", 0.8},
                     {"jitter_ps", 400.0},
                     {"dark_count_rate_hz", 1e5},
                     {"dead_time_ps", std::int64_t{30'000}}};
  PhysicalSimulator one(common, ineq, schedule);
  const Run r1 = assemble(one, schedule);
  std::vector<std::unique_ptr<PhysicalSimulator>> stations;
  std::vector<PhysicalSimulator*> ptrs;
  for (int p = 0; p < 4; ++p) {
    SettingsMap s = common;
    s["station_layout"] = std::string("per_party");
    s["station"] = std::int64_t{p};
    stations.push_back(std::make_unique<PhysicalSimulator>(s, ineq, schedule));
    ptrs.push_back(stations.back().get());
  }
  const auto layout = stations[0]->layout();
  CHECK(layout.parties[3].station == 3);
  CHECK(stations[2]->channels() == std::vector<int>{1, 2, 3, 4, 5});
  const Run r4 = assemble(ptrs, layout, schedule);
  REQUIRE(r4.trials.size() == r1.trials.size());
  for (std::size_t i = 0; i < r1.trials.size(); ++i) {
    REQUIRE(r4.trials[i].u == r1.trials[i].u);
    REQUIRE(r4.trials[i].x == r1.trials[i].x);
    REQUIRE(r4.trials[i].flags == r1.trials[i].flags);
  }
  CHECK(r1.counters.no_click > 0);
}

TEST_CASE("pacing follows the (injected) clock", "[simulator]") {
  const Inequality& ineq = guehne4();
  const auto schedule = uniform_schedule(ineq.expression.scenario());
  PhysicalSimulator s({{"pace", 1.0}, {"block_trials", std::int64_t{1'000'000}}, {"echo", false}}, ineq, schedule);
  std::chrono::nanoseconds now{0};
  std::chrono::nanoseconds slept{0};
  s.set_clock({[&] { return now; }, [&](std::chrono::nanoseconds d) { now += d, slept += d; }});
  s.start();
  REQUIRE(std::holds_alternative<hal::StreamStart>(s.next(std::chrono::milliseconds(0))));
  const auto syncs = [](const hal::TaggerEvent& ev) {
    std::size_t n = 0;
    for (const auto& t : std::get<hal::TagBlock>(ev)) n += t.channel == 1;
    return n;
  };
  CHECK(syncs(s.next(std::chrono::milliseconds(0))) == 0);  // no time has passed, no timeout
  now += std::chrono::milliseconds(5);                      // 5 ms at 1 µs per trial
  CHECK(syncs(s.next(std::chrono::milliseconds(0))) == 5000);
  CHECK(slept.count() == 0);
  CHECK(syncs(s.next(std::chrono::milliseconds(10))) == 1);  // waits one period for the next trial
  CHECK(slept == std::chrono::microseconds(1));
  // Half speed: trials come half as fast.
  s.stop();
  while (!std::holds_alternative<hal::StreamEnd>(s.next(std::chrono::milliseconds(0)))) {
  }
  s.set("pace", 0.5);
  CHECK(s.get("pace") == hal::SettingValue(0.5));
  s.start();
  REQUIRE(std::holds_alternative<hal::StreamStart>(s.next(std::chrono::milliseconds(0))));
  now += std::chrono::milliseconds(5);
  CHECK(syncs(s.next(std::chrono::milliseconds(0))) == 2500);
}

TEST_CASE("driver `sim` is registered like hardware", "[simulator]") {
  hal::DriverRegistry registry;
  sim::register_sim(registry);
  const hal::DriverInfo* d = registry.find("sim", hal::DeviceKind::time_tagger);
  REQUIRE(d);
  REQUIRE(d->scan);
  const auto found = d->scan();
  REQUIRE(found.size() == 1);
  CHECK(found[0].driver == "sim");
  // Every setting the simulator reads is declared, with a default that passes its own check.
  for (const char* key : {"source",
                          "seed",
                          "sync_period_ps",
                          "emission_probability",
                          "visibility",
                          "misalignment_rad",
                          "misalignment",
                          "state_theta",
                          "alice_angle_0",
                          "alice_angle_1",
                          "bob_angle_0",
                          "bob_angle_1",
                          "efficiency",
                          "dark_count_rate_hz",
                          "dead_time_ps",
                          "jitter_ps",
                          "detection_delay_ps",
                          "detection_window_ps",
                          "switching_time_ps",
                          "setting_error_rate",
                          "echo",
                          "echo_delay_ps",
                          "echo_window_ps",
                          "modulator_delivery",
                          "segment_trials",
                          "logical_devices",
                          "device_assignment",
                          "device_block_trials",
                          "apparatus",
                          "station_layout",
                          "station",
                          "pace",
                          "block_trials",
                          "trials",
                          "fail_after_trials"}) {
    const auto it = std::find_if(d->capabilities.begin(), d->capabilities.end(),
                                 [&](const hal::Capability& c) { return c.key == key; });
    INFO(key);
    REQUIRE(it != d->capabilities.end());
    CHECK(hal::check_value(*it, it->default_value).empty());
    CHECK_FALSE(it->description.empty());
  }
  CHECK(d->capabilities.size() == 35);
  const auto problems =
      registry.validate(*d, {{"efficiency", 1.5}, {"colour", std::string("red")}, {"source", std::string("oracle")}});
  CHECK(problems.size() == 3);
  CHECK_THROWS_AS(d->create({{"efficiency", 1.5}}), std::invalid_argument);
  CHECK_THROWS_AS(d->create({{"detection_delay_ps", std::int64_t{999'999}}}),
                  std::invalid_argument);  // window past the period

  auto dev = d->create({{"trials", std::int64_t{100}}});
  CHECK(dev->driver() == "sim");
  auto* tagger = dynamic_cast<hal::TimeTagger*>(dev.get());
  REQUIRE(tagger);
  CHECK_THROWS_AS(tagger->start(), std::logic_error);  // unbound
  CHECK_THROWS_AS(dev->set("nope", 1.0), std::invalid_argument);
  CHECK_THROWS_AS(dev->set("visibility", 2.0), std::invalid_argument);
  dev->set("visibility", 0.99);
  CHECK(dev->get("visibility") == hal::SettingValue(0.99));
  CHECK(dev->get("jitter_ps") == hal::SettingValue(0.0));

  // The application binds it, then builds the assembler from the simulator's layout.
  auto& s = dynamic_cast<PhysicalSimulator&>(*dev);
  const auto schedule = uniform_schedule(guehne4().expression.scenario());
  s.bind(guehne4(), schedule);
  CHECK(s.channels().size() == 17);  // sync + 4 × (2 detectors + 2 echoes)
  CHECK(s.identity().find("guehne4") != std::string::npos);
  const auto layout = sim::sim_layout(SettingsMap{}, guehne4().expression.scenario());
  CHECK(layout.parties[1].detector_channels == std::vector<int>{6, 7});
  CHECK(layout.parties[1].echo_channels == std::vector<int>{8, 9});
  CHECK(layout.detection_offset_ps == 9000);
  const Run r = assemble(s, schedule);
  CHECK(r.trials.size() == 100);
  CHECK_NOTHROW(s.set("visibility", 0.98));  // the stream has ended
  s.start();
  CHECK_THROWS_AS(s.set("visibility", 0.97), std::logic_error);  // not while streaming
}

TEST_CASE("any behaviour can be the source", "[simulator]") {
  // The uniform box (every P(x|u) = 1/16 on guehne4) gives B·P = 8 · ½ = 4 in expectation.
  const Inequality& ineq = guehne4();
  const Scenario& sc = ineq.expression.scenario();
  const Behaviour flat(sc.size(), 1.0 / 16);
  const auto schedule = uniform_schedule(sc, 2);
  PhysicalSimulator s({{"trials", std::int64_t{100'000}}}, sc, flat, schedule);
  CHECK(std::get<std::string>(s.get("source")) == "behaviour");
  const Run r = assemble(s, schedule);
  const auto c = counts(sc, r.trials);
  const auto chi = chi_square(sc, c, flat);
  CHECK(chi.statistic < chi.critical);
  Behaviour bad = flat;
  bad[0] = 0.5;
  CHECK_THROWS_AS(PhysicalSimulator({}, sc, bad, schedule), std::invalid_argument);
}
