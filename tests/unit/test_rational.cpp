#include "dira/protocol/rational.hpp"

#include <catch2/catch.hpp>

using dira::protocol::parse_rational;
using dira::protocol::Rational;
using dira::protocol::rationalize;

TEST_CASE("decimals are read exactly, never through a double", "[rational]") {
  CHECK(parse_rational("0.1") == Rational(1, 10));
  CHECK(parse_rational("-7/32") == Rational(-7, 32));
  CHECK(parse_rational("1e-3") == Rational(1, 1000));
  CHECK(parse_rational("2.5E2") == Rational(250));
  CHECK(parse_rational(" 3 ") == Rational(3));
  CHECK(parse_rational("0.75/1.5") == Rational(1, 2));
  CHECK(dira::protocol::to_string(Rational(6, 8)) == "3/4");
  CHECK(dira::protocol::to_string(Rational(4, 2)) == "2");
}

TEST_CASE("malformed numbers are rejected", "[rational]") {
  for (const char* bad : {"", "abc", "1/0", "1.2.3", "1e", "--1", "3/"}) {
    INFO(bad);
    CHECK_THROWS(parse_rational(bad));
  }
}

TEST_CASE("rationalize recovers simple fractions and is exact otherwise", "[rational]") {
  CHECK(rationalize(0.25) == Rational(1, 4));
  CHECK(rationalize(1.0 / 3.0) == Rational(1, 3));
  CHECK(rationalize(-23.0 / 30.0) == Rational(-23, 30));
  CHECK(rationalize(0.0) == Rational(0));
  // No small fraction within 1e-11 of pi: the exact binary value comes back.
  const double pi = 3.141592653589793;
  CHECK(dira::protocol::to_double(rationalize(pi, 1e-300)) == pi);
}
