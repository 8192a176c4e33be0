#include "distributions.hpp"

#include <algorithm>
#include <cmath>

namespace dira::sim::detail {

Gaussian::Gaussian() {
  constexpr double m1 = 2147483648.0, vn = 9.91256303526217e-3;
  double dn = kR, tn = dn;
  const double q = vn / std::exp(-0.5 * dn * dn);
  kn_[0] = static_cast<std::uint32_t>((dn / q) * m1);
  kn_[1] = 0;
  wn_[0] = q / m1;
  wn_[127] = dn / m1;
  fn_[0] = 1.0;
  fn_[127] = std::exp(-0.5 * dn * dn);
  for (int i = 126; i >= 1; --i) {
    dn = std::sqrt(-2 * std::log(vn / dn + std::exp(-0.5 * dn * dn)));
    kn_[i + 1] = static_cast<std::uint32_t>((dn / tn) * m1);
    tn = dn;
    fn_[i] = std::exp(-0.5 * dn * dn);
    wn_[i] = dn / m1;
  }
}

void AliasTable::build_row(std::size_t row, const double* p) {
  const std::size_t n = columns_;
  std::vector<double> q(n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += std::max(p[i], 0.0);
  for (std::size_t i = 0; i < n; ++i) q[i] = std::max(p[i], 0.0) / sum * static_cast<double>(n);
  std::vector<std::size_t> small, large;
  for (std::size_t i = 0; i < n; ++i) (q[i] < 1 ? small : large).push_back(i);
  std::uint64_t* thr = &threshold_[row * n];
  std::uint32_t* alias = &alias_[row * n];
  while (!small.empty() && !large.empty()) {
    const std::size_t s = small.back(), l = large.back();
    small.pop_back();
    thr[s] = std::min(static_cast<std::uint64_t>(std::llround(q[s] * kTwo32)), std::uint64_t{1} << 32);
    alias[s] = static_cast<std::uint32_t>(l);
    q[l] -= 1 - q[s];
    if (q[l] < 1) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Left-overs have q = 1 up to rounding (the total is invariant): always themselves.
  for (std::size_t i : small) thr[i] = std::uint64_t{1} << 32, alias[i] = static_cast<std::uint32_t>(i);
  for (std::size_t i : large) thr[i] = std::uint64_t{1} << 32, alias[i] = static_cast<std::uint32_t>(i);
}

}  // namespace dira::sim::detail
