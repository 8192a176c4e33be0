#pragma once
// Private helper of dira_protocol: sums of numbers held as logarithms, for the security
// accounting, whose terms range from 10^-10^6 to 1.

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

namespace dira::protocol::detail {

inline constexpr double kLn2 = 0.69314718055994530942;
inline constexpr double kLn10 = 2.30258509299404568402;

/// ln Σ e^{x_i} without overflow (−inf when every term is −inf).
inline double log_sum_exp(std::initializer_list<double> xs) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : xs) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  // e^d for d ≤ −746 is exactly 0 (below the least subnormal): skipped, it would only take
  // exp's slow underflow path (most of the planner's time: its terms differ by 2^10^k).
  for (double x : xs)
    if (const double d = x - m; d > -746) s += std::exp(d);
  return m + std::log(s);
}

/// log10 Σ 10^{x_i}.
inline double log10_sum(std::initializer_list<double> xs) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : xs) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : xs) s += std::pow(10.0, x - m);
  return m + std::log10(s);
}

}  // namespace dira::protocol::detail
