// Seed 001's (2,9,4) Kochen-Specker inequality: every claim the seed makes, recomputed.
#include "support.hpp"

#include "dira/protocol/bounds.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/ns_lp.hpp"
#include "dira/protocol/quantum.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <set>

using namespace dira::protocol;

namespace {
// Eq. 26, typed in again so that a typo in the YAML is caught.
const std::array<std::array<int, 4>, 18> kVectors{{{1, 0, 0, 0},  {0, 1, 0, 0},  {0, 0, 1, 1},   {0, 0, 1, -1}, {1, -1, 0, 0},
                                                   {1, 1, -1, -1}, {1, 1, 1, 1},  {1, -1, 1, -1}, {1, 0, -1, 0}, {0, 1, 0, -1},
                                                   {1, 0, 1, 0},  {1, 1, -1, 1}, {-1, 1, 1, 1},  {1, 1, 1, -1}, {1, 0, 0, 1},
                                                   {0, 1, -1, 0}, {0, 1, 1, 0},  {0, 0, 0, 1}}};
// Eq. 27, 1-based vector labels.
const std::array<std::array<int, 4>, 9> kBases{{{1, 2, 3, 4},
                                                {4, 5, 6, 7},
                                                {7, 8, 9, 10},
                                                {10, 11, 12, 13},
                                                {13, 14, 15, 16},
                                                {16, 17, 18, 1},
                                                {2, 9, 11, 18},
                                                {3, 5, 12, 14},
                                                {6, 8, 15, 17}}};
int dot(int a, int b) {
  int s = 0;
  for (int i = 0; i < 4; ++i) s += kVectors[static_cast<std::size_t>(a - 1)][static_cast<std::size_t>(i)] * kVectors[static_cast<std::size_t>(b - 1)][static_cast<std::size_t>(i)];
  return s;
}
}  // namespace

TEST_CASE("ks294: the KS set of eqs. 26-27 is what the seed says it is", "[ks294]") {
  // Nine orthogonal bases, each vector in exactly two of them (state-independent KS set).
  std::array<int, 19> uses{};
  for (const auto& b : kBases) {
    for (int i = 0; i < 4; ++i) {
      ++uses[static_cast<std::size_t>(b[static_cast<std::size_t>(i)])];
      for (int j = i + 1; j < 4; ++j) CHECK(dot(b[static_cast<std::size_t>(i)], b[static_cast<std::size_t>(j)]) == 0);
    }
  }
  for (int v = 1; v <= 18; ++v) CHECK(uses[static_cast<std::size_t>(v)] == 2);
}

TEST_CASE("ks294: loaded vectors and bases match eqs. 26-27", "[ks294]") {
  const auto ineq = dira::test::load("ks294");
  REQUIRE(ineq.quantum);
  for (int p = 0; p < 2; ++p)
    for (int s = 0; s < 9; ++s)
      for (int x = 0; x < 4; ++x) {
        const int v = kBases[static_cast<std::size_t>(s)][static_cast<std::size_t>(x)];
        Eigen::Vector4cd expected;
        for (int i = 0; i < 4; ++i) expected(i) = kVectors[static_cast<std::size_t>(v - 1)][static_cast<std::size_t>(i)];
        expected.normalize();
        const Eigen::VectorXcd got = ineq.quantum->bases[static_cast<std::size_t>(p)][static_cast<std::size_t>(s)].col(x);
        CHECK((got - expected).norm() < 1e-12);
      }
}

TEST_CASE("ks294: S_B has 504 terms by orthogonality (the seed's count), 432 by the seed's words", "[ks294]") {
  const auto orth = dira::test::load("ks294");
  const auto hyper = dira::test::load("ks294-hyperedge");
  const auto& sc = orth.expression.scenario();
  // Independent count from eqs. 26-27 with integer dot products. Each vector is orthogonal
  // to 7 others (2 bases × 3 partners + 1 more) and appears 2× among the 36 (u,x) entries
  // of each party: 36 × 7 × 2 = 504. Sharing a basis only: 36 × 6 × 2 = 432.
  int n_orth = 0, n_hyper = 0;
  for (std::size_t j = 0; j < sc.size(); ++j) {
    const auto u = sc.setting_at(j / 16), x = sc.outcome_at(j % 16);
    const int a = kBases[static_cast<std::size_t>(u[0])][static_cast<std::size_t>(x[0])];
    const int b = kBases[static_cast<std::size_t>(u[1])][static_cast<std::size_t>(x[1])];
    const bool is_orth = dot(a, b) == 0;
    bool share = false;
    for (const auto& basis : kBases) {
      const bool has_a = std::find(basis.begin(), basis.end(), a) != basis.end();
      const bool has_b = std::find(basis.begin(), basis.end(), b) != basis.end();
      share = share || (a != b && has_a && has_b);
    }
    n_orth += is_orth;
    n_hyper += share;
    REQUIRE(orth.expression.coefficient(j) == (is_orth ? 1 : 0));
    REQUIRE(hyper.expression.coefficient(j) == (share ? 1 : 0));
  }
  CHECK(n_orth == 504);
  CHECK(n_hyper == 432);
  CHECK(orth.expression.terms() == 504);
  CHECK(orth.claims.terms == std::optional<std::size_t>(504));
}

TEST_CASE("ks294: local bound is 4 under both readings of S_B (seed 001 after eq. 24)", "[ks294]") {
  for (const char* name : {"ks294", "ks294-hyperedge"}) {
    const auto ineq = dira::test::load(name);
    const LocalBound lb = local_bound(ineq.expression);
    INFO(name);
    CHECK(lb.value == 4);
    CHECK(deterministic_value(ineq.expression, lb.optimal) == 4);
    CHECK(lb.strategies_enumerated == 262144);  // 4^9 strategies of Alice, not 4^18 pairs
  }
}

TEST_CASE("ks294: the eq. 25 state gives B·P = 0 and P(x*|u*) = 1/16", "[ks294]") {
  const auto ineq = dira::test::load("ks294");
  const auto& sc = ineq.expression.scenario();
  const Behaviour q = quantum_behaviour(sc, *ineq.quantum);
  CHECK(std::fabs(ineq.expression.value(q)) < 1e-12);
  CHECK(signalling_violation(sc, q) < 1e-12);
  CHECK(normalisation_violation(sc, q) < 1e-12);
  // P(a,b) = |<a|b>|²/4 for the maximally entangled state; <v1|v6> = 1·1/(1·2) = 1/2.
  REQUIRE(ineq.events.size() == 1);
  CHECK(ineq.events[0].setting == Setting{0, 1});
  CHECK(ineq.events[0].event == Outcome{0, 2});
  CHECK(q[sc.index({0, 1}, {0, 2})] == Approx(1.0 / 16).margin(1e-14));
}

TEST_CASE("ks294: Lemma 2's (3+2δ)/4 is valid on a δ grid, tight only at δ = 0", "[ks294][lp]") {
  const auto ineq = dira::test::load("ks294");
  NoSignallingLp lp(ineq.expression);
  const auto obj = event_objective(ineq.expression.scenario(), {0, 1}, {0, 2});
  for (int k = 0; k <= 24; ++k) {
    const Rational delta(k, 8);  // δ̃ from 0 to 3
    const double d = k / 8.0;
    const LpSolution s = lp.maximize(obj, delta, true);
    INFO("δ = " << k << "/8");
    CHECK(s.value <= (3 + 2 * d) / 4 + 1e-9);
    CHECK(s.value <= 1 + 1e-9);
    CHECK(s.certified);
    CHECK(dira::test::is_no_signalling_witness(ineq.expression, s.primal, d));
    // What we found (proved by witness + certificate): min(1, 3/4 + δ/6 for δ ≤ 1/2,
    // 5/6 + (δ − 1/2)/9 after). The seed's slope 1/2 is three times too steep near 0.
    const Rational expected = d <= 0.5 ? Rational(3, 4) + delta / 6
                                       : std::min(Rational(1), Rational(5, 6) + (delta - Rational(1, 2)) / 9);
    REQUIRE(s.certificate);
    CHECK(s.certificate->bound == expected);
    CHECK(s.value >= to_double(expected) - 1e-9);
  }
}

TEST_CASE("ks294: event table at B·P = 0 — 432 events capped at 3/4, 360 unconstrained", "[ks294][lp][slow]") {
  // Not a seed claim: a finding of this LP (docs/seed-notes.md). Every capped event is
  // worth the same, which says u* = (1,2), x* = (1,3) is one of 432 equivalent choices.
  const auto ineq = dira::test::load("ks294");
  BoundsOptions opt;
  opt.deltas.clear();
  opt.certify_event_table = false;
  const auto rep = compute_bounds(ineq, opt);
  REQUIRE(rep.event_table.size() == 1296 - 504);
  int capped = 0, free = 0;
  for (const auto& e : rep.event_table) {
    if (std::fabs(e.lp_value - 0.75) < 1e-9) ++capped;
    else if (std::fabs(e.lp_value - 1) < 1e-9) ++free;
  }
  CHECK(capped == 432);
  CHECK(free == 360);
}
