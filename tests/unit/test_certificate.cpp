// Exact dual certificates: they prove what they claim and nothing else.
#include "support.hpp"

#include "dira/protocol/bounds.hpp"
#include "dira/protocol/ns_lp.hpp"

#include <catch2/catch.hpp>

using namespace dira::protocol;

TEST_CASE("a certificate's bound survives exact re-verification", "[certificate]") {
  const auto ineq = dira::test::load("ks294");
  NoSignallingLp lp(ineq.expression);
  const auto obj = event_objective(ineq.expression.scenario(), {0, 1}, {0, 2});
  const Rational delta(1, 10);
  const LpSolution s = lp.maximize(obj, delta, true);
  REQUIRE(s.certificate);
  CHECK(s.exact_simplex_optimal);
  const auto rows = bounded_bell_rows(ineq.expression, delta);
  std::string why;
  const auto bound = verify_certificate(ineq.expression.scenario(), rows, obj, s.certificate->multipliers, &why);
  REQUIRE(bound);
  CHECK(*bound == s.certificate->bound);
  CHECK(*bound == Rational(23, 30));
  CHECK(s.certificate->slack == 0);
}

TEST_CASE("tampering with a certificate weakens or breaks it", "[certificate]") {
  const auto ineq = dira::test::load("guehne4");
  NoSignallingLp lp(ineq.expression);
  const auto obj = majority_objective(ineq.expression.scenario(), {0, 1, 2}, {0, 0, 0, 1}, 0);
  const LpSolution s = lp.maximize(obj, Rational(0), true);
  REQUIRE(s.certificate);
  const auto rows = bounded_bell_rows(ineq.expression, Rational(0));
  auto lambda = s.certificate->multipliers;

  // A negative multiplier on the Bell (≤) row is not a valid certificate at all.
  auto neg = lambda;
  neg.back() = -1;
  std::string why;
  CHECK_FALSE(verify_certificate(ineq.expression.scenario(), rows, obj, neg, &why));
  CHECK(why.find("negative multiplier") != std::string::npos);

  // Perturbing an equality multiplier still gives a valid bound — but never a smaller one
  // than the optimum, which the witness below reaches.
  for (std::size_t i = 0; i < lambda.size() - 1; i += 7) {
    auto t = lambda;
    t[i] += Rational(1, 3);
    const auto b = verify_certificate(ineq.expression.scenario(), rows, obj, t);
    REQUIRE(b);
    CHECK(*b >= Rational(1, 4));
  }
  CHECK(dira::test::is_no_signalling_witness(ineq.expression, s.primal, 0.0));
  CHECK(s.value == Approx(0.25).margin(1e-9));

  // Wrong length is refused.
  lambda.pop_back();
  CHECK_FALSE(verify_certificate(ineq.expression.scenario(), rows, obj, lambda));
}

TEST_CASE("an infeasible Bell cut is reported, not solved", "[certificate]") {
  // Bell values below the no-signalling minimum (0) admit no behaviour.
  const auto ineq = dira::test::load("guehne4");
  NoSignallingLp lp(ineq.expression);
  const auto obj = majority_objective(ineq.expression.scenario(), {0, 1, 2}, {0, 0, 0, 1}, 0);
  CHECK_THROWS_AS(lp.maximize(obj, Rational(-1, 10), false), std::domain_error);
  // …and the LP object stays usable afterwards.
  CHECK(lp.maximize(obj, Rational(0), false).value == Approx(0.25).margin(1e-9));
}
