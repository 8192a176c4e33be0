#include "dira/protocol/scenario.hpp"

#include <catch2/catch.hpp>

using dira::protocol::Scenario;

TEST_CASE("mixed-radix indices round-trip, party 0 most significant", "[scenario]") {
  const Scenario ks({9, 9}, {4, 4});
  CHECK(ks.setting_count() == 81);
  CHECK(ks.outcome_count() == 16);
  CHECK(ks.size() == 1296);  // seed 001: "4^2 × 9^2 = 1296 probabilities"
  CHECK(ks.setting_index({1, 2}) == 11);  // 1*9 + 2
  CHECK(ks.outcome_index({3, 1}) == 13);  // 3*4 + 1
  for (std::size_t i = 0; i < ks.setting_count(); ++i) CHECK(ks.setting_index(ks.setting_at(i)) == i);
  const Scenario mixed({2, 3, 2}, {2, 3, 4});
  for (std::size_t i = 0; i < mixed.outcome_count(); ++i) CHECK(mixed.outcome_index(mixed.outcome_at(i)) == i);
  CHECK(mixed.describe() == "(3,(2,3,2),(2,3,4))");
  CHECK(ks.describe() == "(2,9,4)");
}

TEST_CASE("out-of-range labels are refused", "[scenario]") {
  const Scenario g({2, 2, 2, 2}, {2, 2, 2, 2});
  CHECK_THROWS(g.setting_index({0, 0, 0}));
  CHECK_THROWS(g.setting_index({0, 0, 0, 2}));
  CHECK_THROWS(g.outcome_index({0, -1, 0, 0}));
  CHECK_THROWS(Scenario({2, 2}, {2}));
  CHECK_THROWS(Scenario({0}, {2}));
}
