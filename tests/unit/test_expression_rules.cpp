// The Bell-expression builders of protocol/expression_rules.hpp and the setting-probability
// band. Golden values are enumerated by hand below (which outcome pairs are orthogonal or share
// a basis, which outcomes have the wanted parity), not computed by the code under test.
#include "dira/protocol/expression_rules.hpp"
#include "dira/protocol/extractor.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <tuple>

namespace {

using namespace dira::protocol;
using Term = std::tuple<int, int, int, int>;  // u0, u1, x0, x1

std::set<Term> terms_of(const Scenario& sc, const std::vector<std::int64_t>& coef) {
  std::set<Term> out;
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui)
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
      const auto u = sc.setting_at(ui);
      const auto x = sc.outcome_at(xi);
      const auto c = coef[sc.index(u, x)];
      if (c != 0) {
        REQUIRE(c == 1);
        out.insert({u[0], u[1], x[0], x[1]});
      }
    }
  return out;
}

}  // namespace

TEST_CASE("parity rule: CHSH as four parity groups", "[expression_rules]") {
  // CHSH in the probability form: P(a = b | 00) + P(a = b | 01) + P(a = b | 10) + P(a ≠ b | 11).
  const Scenario sc({2, 2}, {2, 2});
  const auto coef = parity_coefficients(sc, {{{{0, 0}, {0, 1}, {1, 0}}, 0}, {{{1, 1}}, 1}});
  const std::set<Term> golden = {{0, 0, 0, 0}, {0, 0, 1, 1}, {0, 1, 0, 0}, {0, 1, 1, 1},
                                 {1, 0, 0, 0}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, 0}};
  CHECK(terms_of(sc, coef) == golden);
  // local_bound is the minimum over deterministic strategies: at most three of the four
  // conditions a0=b0, a0=b1, a1=b0, a1≠b1 hold together (their parities sum to 1), so it is 1.
  CHECK(local_bound(BellExpression(sc, coef)).value == 1);
  CHECK_THROWS_AS(parity_coefficients(Scenario({2, 2}, {3, 2}), {}), std::invalid_argument);
}

TEST_CASE("orthogonality and hyperedge rules differ where orthogonal vectors share no basis", "[expression_rules]") {
  // Dimension 4: party 0 measures the computational basis Z = {e1, e2, e3, e4}, party 1 the
  // basis P = {p, q, r, s} with p, q = (e1 ± e2)/√2 and r, s = (e3 ± e4)/√2 (one setting each).
  // By hand: e1, e2 ⟂ r, s and e3, e4 ⟂ p, q (8 pairs); e1 · p = 1/√2 ≠ 0 etc. No basis holds a
  // vector of each, so the hyperedge rule gives no term at all.
  const double h = 1 / std::sqrt(2.0);
  ProjectiveModel m;
  auto vec = [](double a, double b, double c, double d) {
    Eigen::VectorXcd v(4);
    v << a, b, c, d;
    return v;
  };
  m.vectors = {{"e1", vec(1, 0, 0, 0)}, {"e2", vec(0, 1, 0, 0)}, {"e3", vec(0, 0, 1, 0)}, {"e4", vec(0, 0, 0, 1)},
               {"p", vec(h, h, 0, 0)},  {"q", vec(h, -h, 0, 0)}, {"r", vec(0, 0, h, h)},  {"s", vec(0, 0, h, -h)}};
  m.bases = {{"Z", {"e1", "e2", "e3", "e4"}}, {"P", {"p", "q", "r", "s"}}};
  m.setting_bases = {{"Z"}, {"P"}};
  const Scenario sc({1, 1}, {4, 4});
  const std::set<Term> golden = {{0, 0, 0, 2}, {0, 0, 0, 3}, {0, 0, 1, 2}, {0, 0, 1, 3},
                                 {0, 0, 2, 0}, {0, 0, 2, 1}, {0, 0, 3, 0}, {0, 0, 3, 1}};
  CHECK(terms_of(sc, orthogonality_coefficients(sc, m)) == golden);
  CHECK(terms_of(sc, hyperedge_coefficients(sc, m)).empty());
  // Both parties measuring Z: distinct members of Z are both orthogonal and co-members (12 pairs).
  m.setting_bases = {{"Z"}, {"Z"}};
  std::set<Term> off_diagonal;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b)
      if (a != b) off_diagonal.insert({0, 0, a, b});
  CHECK(terms_of(sc, orthogonality_coefficients(sc, m)) == off_diagonal);
  CHECK(terms_of(sc, hyperedge_coefficients(sc, m)) == off_diagonal);
}

TEST_CASE("setting probability band: per party (½∓ε) or the rejection-sampling bounds", "[expression_rules]") {
  // One bit per party: the SV definition gives (½−ε)^n ≤ P(u | past) ≤ (½+ε)^n for n parties.
  const Scenario four({2, 2, 2, 2}, {2, 2, 2, 2});
  const auto [lo, hi] = setting_probability_band(four, 0.01, SettingRule::one_bit_per_party);
  CHECK(lo == Approx(std::pow(0.49, 4)).epsilon(1e-14));
  CHECK(hi == Approx(std::pow(0.51, 4)).epsilon(1e-14));
  // Rejection sampling with s = 4 = 2² settings never rejects: (½∓ε)^2 per party (seed 001 eq. 33).
  const Scenario two({4, 4}, {2, 2});
  const auto [l2, h2] = setting_probability_band(two, 0.1, SettingRule::rejection_sampling);
  CHECK(l2 == Approx(std::pow(0.4, 4)).epsilon(1e-12));
  CHECK(h2 == Approx(std::pow(0.6, 4)).epsilon(1e-12));
}

TEST_CASE("Protocol B finalize: device outputs fixed first, then the extractor's bits, output cut to the plan",
          "[expression_rules][protocol_b]") {
  // A synthetic accounting (n_x = 400 device bits, k_x = 300): finalize must (1) fix the outputs
  // of its trials in the ledger before drawing, (2) feed device bit i to the extractor's first
  // input and the next n2 weak-source bits to its second, (3) keep min(extractor m, plan bits).
  // The reference output is the extractor applied by hand to the same two inputs.
  const Scenario sc({2, 2}, {2, 2});
  const BellExpression B(sc, std::vector<std::int64_t>(sc.size(), 0));
  ProtocolBParameters par;
  par.epsilon = 0.01;
  par.u_star = {0, 1};
  par.x_star = {0, 1};
  ProtocolB b(B, par);
  for (std::uint64_t i = 0; i < 100; ++i) {
    Trial t;
    t.index = i;
    t.x[0] = static_cast<std::uint8_t>(i % 2);
    t.x[1] = 1;
    b.add(t);
  }
  ProtocolBConstants k;
  k.n_x = 400;
  ProtocolBOutputPlan plan;
  plan.k_x = 300;
  plan.bits = 5;
  std::vector<bool> weak(20000);
  for (std::size_t i = 0; i < weak.size(); ++i) weak[i] = ((i * 7) % 5) < 2;
  BufferSvSource source(weak, "test bits");
  BitLedger ledger(source);
  auto device_bit = [](std::size_t i) { return (i % 3) == 0; };
  const auto fin = b.finalize(ledger, k, plan, -20, true, device_bit);
  REQUIRE(fin.extractor);
  CHECK(ledger.device_outputs_fixed());
  CHECK(ledger.fixed_trials() == 100);
  const auto& p = *fin.extractor;
  BitVector x = BitVector::zeros(p.n1);
  for (std::size_t i = 0; i < p.n1 && i < 400; ++i) x.set(i, device_bit(i));
  const BitVector y = BitVector::from_bools(std::vector<bool>(weak.begin(), weak.begin() + static_cast<long>(p.n2)));
  const BitVector z = extract(p, x, y);
  REQUIRE(z.size >= 5);
  CHECK(fin.output_bits == 5);
  REQUIRE(fin.output.size() == 1);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(((fin.output[0] >> (7 - i)) & 1u) == (z.get(i) ? 1u : 0u));
  CHECK(ledger.bits_drawn(BitPurpose::extractor) == p.n2);
}
