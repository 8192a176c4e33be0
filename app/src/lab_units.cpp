// Lab units: presentation only (see lab_units.hpp). Nothing here feeds a decision.
#include "dira/app/lab_units.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dira::app::lab_units {

namespace {
// "%.*g" would print 1.0 as "1" and drop trailing zeros, which hides how many digits are
// meaningful; these keep exactly `digits` significant digits.
std::string fixed_significant(double x, int digits) {
  if (x == 0) return digits > 1 ? "0." + std::string(static_cast<std::size_t>(digits - 1), '0') : "0";
  const int exponent = static_cast<int>(std::floor(std::log10(std::fabs(x))));
  int decimals = digits - 1 - exponent;
  if (decimals < 0) decimals = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  std::string s = buf;
  // Rounding may carry into a new digit (9.995 → "10.00" for 3 digits): print one decimal fewer.
  const double rounded = std::strtod(buf, nullptr);
  if (rounded != 0 && static_cast<int>(std::floor(std::log10(std::fabs(rounded)))) > exponent && decimals > 0) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals - 1, x);
    s = buf;
  }
  return s;
}

std::string scientific(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", digits - 1, x);
  // "1.00e-09" → "1.00e-9", "1.41e+13" → "1.41e13": the exponent as a person writes it.
  std::string s = buf;
  const auto e = s.find('e');
  std::string mantissa = s.substr(0, e);
  std::string exp = s.substr(e + 1);
  const bool negative = exp[0] == '-';
  std::size_t i = 1;
  while (i + 1 < exp.size() && exp[i] == '0') ++i;
  return mantissa + "e" + (negative ? "-" : "") + exp.substr(i);
}

std::string with_unit(double x, const char* unit) {
  return fixed_significant(x, 3) + " " + unit;
}
}  // namespace

std::string significant(double x, int digits) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (digits < 1) digits = 1;
  const double a = std::fabs(x);
  if (a == 0 || (a >= 1e-3 && a < 1e5)) return fixed_significant(x, digits);
  return scientific(x, digits);
}

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "unknown";
  constexpr double minute = 60, hour = 3600, day = 86400, year = 365.25 * day;
  if (s < 1) return significant(s, 2) + " s";
  if (s < minute) return fixed_significant(std::round(s), 2) + " s";
  if (s < hour) return with_unit(s / minute, "min");
  if (s < day) return with_unit(s / hour, "h");
  if (s < year) return with_unit(s / day, "days");
  if (s < 1e6 * year) return with_unit(s / year, "years");
  return significant(s / year, 3) + " years";
}

std::string bytes(double n) {
  if (!std::isfinite(n) || n < 0) return "unknown";
  if (n < 1e3) return std::to_string(static_cast<long long>(n)) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB", "PB"};
  double v = n / 1e3;
  int i = 0;
  while (v >= 1e3 && i < 4) {
    v /= 1e3;
    ++i;
  }
  return with_unit(v, units[i]);
}

std::string click_rate(double r) {
  if (!std::isfinite(r) || r < 0) return "unknown";
  if (r < 1e3) return std::to_string(static_cast<long long>(std::round(r))) + " cps";
  if (r < 1e6) return with_unit(r / 1e3, "kcps");
  return with_unit(r / 1e6, "Mcps");
}

std::string trial_rate(double r) {
  if (!std::isfinite(r) || r < 0) return "unknown";
  if (r < 1e3) return std::to_string(static_cast<long long>(std::round(r))) + " trials/s";
  if (r < 1e6) return with_unit(r / 1e3, "k trials/s");
  return with_unit(r / 1e6, "M trials/s");
}

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  const std::size_t lead = digits.size() % 3;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && i >= lead && (i - lead) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string count(double n, const std::string& singular, const std::string& plural) {
  const std::string many = plural.empty() ? singular + "s" : plural;
  if (!std::isfinite(n)) return significant(n) + " " + many;
  const bool one = n == 1;
  if (std::fabs(n) < 1e9 && n == std::floor(n))
    return (n < 0 ? "-" : "") + grouped(static_cast<std::uint64_t>(std::fabs(n))) + " " + (one ? singular : many);
  return significant(n, 3) + " " + many;
}

}  // namespace dira::app::lab_units
