#include "dira/protocol/local_bound.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <random>

using namespace dira::protocol;

namespace {
/// Naive enumeration of every joint deterministic strategy of all parties — the
/// independent algorithm the fast enumeration is checked against.
std::int64_t naive_local_minimum(const BellExpression& B) {
  const auto& sc = B.scenario();
  std::vector<std::pair<int, int>> digits;  // (party, setting)
  for (int p = 0; p < sc.parties(); ++p)
    for (int s = 0; s < sc.settings(p); ++s) digits.emplace_back(p, s);
  DeterministicStrategy st(static_cast<std::size_t>(sc.parties()));
  for (int p = 0; p < sc.parties(); ++p) st[static_cast<std::size_t>(p)].assign(static_cast<std::size_t>(sc.settings(p)), 0);
  std::int64_t best = std::numeric_limits<std::int64_t>::max();
  while (true) {
    std::int64_t v = 0;
    for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
      const auto u = sc.setting_at(ui);
      Outcome x;
      for (int p = 0; p < sc.parties(); ++p) x.push_back(st[static_cast<std::size_t>(p)][static_cast<std::size_t>(u[static_cast<std::size_t>(p)])]);
      v += B.coefficient(sc.index(u, x));
    }
    best = std::min(best, v);
    std::size_t d = 0;
    for (; d < digits.size(); ++d) {
      auto& c = st[static_cast<std::size_t>(digits[d].first)][static_cast<std::size_t>(digits[d].second)];
      c = (c + 1) % sc.outcomes(digits[d].first);
      if (c != 0) break;
    }
    if (d == digits.size()) return best;
  }
}

BellExpression random_expression(const Scenario& sc, std::mt19937& rng) {
  std::uniform_int_distribution<int> coef(-3, 3);
  std::vector<std::int64_t> c(sc.size());
  for (auto& v : c) v = coef(rng);
  return BellExpression(sc, c);
}
}  // namespace

TEST_CASE("fast local bound equals naive enumeration on random expressions", "[local]") {
  std::mt19937 rng(20261122);
  const std::vector<Scenario> scenarios{Scenario({3, 3}, {3, 3}), Scenario({2, 3}, {4, 2}), Scenario({2, 2, 2}, {2, 2, 2}),
                                        Scenario({2, 2, 2, 2}, {2, 2, 2, 2}), Scenario({3}, {2})};
  for (const auto& sc : scenarios)
    for (int rep = 0; rep < 20; ++rep) {
      const BellExpression B = random_expression(sc, rng);
      const LocalBound lb = local_bound(B);
      INFO(sc.describe());
      REQUIRE(lb.value == naive_local_minimum(B));
      // The reported optimal strategy really attains the value.
      CHECK(deterministic_value(B, lb.optimal) == lb.value);
    }
}
