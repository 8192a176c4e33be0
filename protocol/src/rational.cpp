#include "dira/protocol/rational.hpp"

#include <cmath>
#include <stdexcept>

namespace dira::protocol {

namespace {
using boost::multiprecision::cpp_int;

cpp_int pow10(int e) {
  cpp_int r = 1;
  for (int i = 0; i < e; ++i) r *= 10;
  return r;
}

Rational parse_decimal(std::string_view t) {
  // [sign] digits [. digits] [e|E [sign] digits]
  std::size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  cpp_int mantissa = 0;
  int scale = 0;
  bool any_digit = false;
  for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i, any_digit = true)
    mantissa = mantissa * 10 + (t[i] - '0');
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i, any_digit = true) {
      mantissa = mantissa * 10 + (t[i] - '0');
      ++scale;
    }
  }
  if (!any_digit) throw std::invalid_argument("not a number: '" + std::string(t) + "'");
  int exponent = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) eneg = t[i++] == '-';
    bool edigit = false;
    for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i, edigit = true) {
      exponent = exponent * 10 + (t[i] - '0');
      if (exponent > 4000) throw std::invalid_argument("exponent out of range: '" + std::string(t) + "'");
    }
    if (!edigit) throw std::invalid_argument("not a number: '" + std::string(t) + "'");
    if (eneg) exponent = -exponent;
  }
  if (i != t.size()) throw std::invalid_argument("not a number: '" + std::string(t) + "'");
  const int e = exponent - scale;
  Rational r = e >= 0 ? Rational(mantissa * pow10(e)) : Rational(mantissa, pow10(-e));
  return negative ? Rational(-r) : r;
}
}  // namespace

Rational parse_rational(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return parse_decimal(text);
  const Rational num = parse_decimal(text.substr(0, slash));
  const Rational den = parse_decimal(text.substr(slash + 1));
  if (den == 0) throw std::invalid_argument("zero denominator: '" + std::string(text) + "'");
  return num / den;
}

std::string to_string(const Rational& r) {
  const auto& num = boost::multiprecision::numerator(r);
  const auto& den = boost::multiprecision::denominator(r);
  if (den == 1) return num.str();
  return num.str() + "/" + den.str();
}

double to_double(const Rational& r) { return r.convert_to<double>(); }

Rational rationalize(double x, double tolerance, long long max_denominator) {
  if (!std::isfinite(x)) throw std::invalid_argument("rationalize: not finite");
  // Continued-fraction convergents h/k of x.
  long double rest = x;
  cpp_int h_prev = 1, h = static_cast<long long>(std::floor(rest));
  cpp_int k_prev = 0, k = 1;
  rest -= std::floor(rest);
  for (int iter = 0; iter < 64; ++iter) {
    const Rational candidate(h, k);
    if (std::fabs(to_double(candidate) - x) <= tolerance) return candidate;
    if (rest < 1e-18L) break;
    rest = 1.0L / rest;
    const long double a_ld = std::floor(rest);
    if (a_ld > 1e18L) break;
    const cpp_int a = static_cast<long long>(a_ld);
    rest -= a_ld;
    cpp_int h_next = a * h + h_prev, k_next = a * k + k_prev;
    if (k_next > max_denominator) break;
    h_prev = h; h = h_next;
    k_prev = k; k = k_next;
  }
  // Exact binary value of the double: always a valid rational.
  int exp2 = 0;
  const double frac = std::frexp(x, &exp2);  // x = frac * 2^exp2, |frac| in [0.5, 1)
  const auto mant = static_cast<long long>(std::ldexp(frac, 53));
  Rational r(mant);
  const int shift = exp2 - 53;
  if (shift >= 0) r *= Rational(cpp_int(1) << shift);
  else r /= Rational(cpp_int(1) << (-shift));
  return r;
}

}  // namespace dira::protocol
