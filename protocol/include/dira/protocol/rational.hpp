#pragma once
/// @file rational.hpp
/// Exact rational numbers used for certificates (Boost.Multiprecision, header only).

#include <boost/multiprecision/cpp_int.hpp>

#include <string>
#include <string_view>

namespace dira::protocol {

/// Arbitrary-precision rational; every certified bound is one of these.
using Rational = boost::multiprecision::cpp_rational;

/// Parses "3", "-7/32", "0.125" or "1e-3" exactly (a decimal is read as the
/// rational it denotes, never through a double). Throws std::invalid_argument.
Rational parse_rational(std::string_view text);

/// "p/q" in lowest terms, or "p" when q = 1.
std::string to_string(const Rational& r);

/// Nearest double (for display and for the floating-point solver).
double to_double(const Rational& r);

/// Recovers the simple rational a floating-point LP value stands for: the first
/// continued-fraction convergent within `tolerance` whose denominator is at most
/// `max_denominator`; if there is none, the exact binary value of `x`.
/// Either way the result is only a candidate: certificates re-verify it exactly.
Rational rationalize(double x, double tolerance = 1e-11, long long max_denominator = 1'000'000'000LL);

}  // namespace dira::protocol
