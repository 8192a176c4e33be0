#include "dira/sim/box_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dira::sim {

using namespace dira::protocol;

BoxSampler::BoxSampler(const Scenario& sc, const Behaviour& p) : scenario_(sc), cumulative_(p.size()) {
  if (p.size() != sc.size()) throw std::invalid_argument("behaviour of the wrong size");
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double c = 0;
    for (std::size_t x = 0; x < nx; ++x) {
      const double v = p[u * nx + x];
      if (v < -1e-9) throw std::invalid_argument("behaviour has a negative probability");
      c += std::max(v, 0.0);
      cumulative_[u * nx + x] = c;
    }
    if (std::fabs(c - 1) > 1e-9)
      throw std::invalid_argument("behaviour not normalised at setting " + std::to_string(u));
    cumulative_[u * nx + nx - 1] = 1.0;  // absorb rounding
  }
}

void BoxSampler::sample(Trial& t, Rng& rng) const {
  const int n = scenario_.parties();
  std::size_t u = 0;
  for (int p = 0; p < n; ++p)
    u = u * static_cast<std::size_t>(scenario_.settings(p)) + t.u[static_cast<std::size_t>(p)];
  const std::size_t nx = scenario_.outcome_count();
  const double r = rng.uniform();
  const auto begin = cumulative_.begin() + static_cast<std::ptrdiff_t>(u * nx);
  std::size_t x = static_cast<std::size_t>(std::upper_bound(begin, begin + static_cast<std::ptrdiff_t>(nx), r) - begin);
  if (x >= nx) x = nx - 1;
  for (int p = n - 1; p >= 0; --p) {
    const auto o = static_cast<std::size_t>(scenario_.outcomes(p));
    t.x[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(x % o);
    x /= o;
  }
}

Behaviour white_noise(const Scenario& sc, const Behaviour& p, double v) {
  Behaviour out(p.size());
  const double flat = 1.0 / static_cast<double>(sc.outcome_count());
  for (std::size_t i = 0; i < p.size(); ++i) out[i] = v * p[i] + (1 - v) * flat;
  return out;
}

Behaviour deterministic_behaviour(const Scenario& sc, const DeterministicStrategy& s) {
  Behaviour out(sc.size(), 0.0);
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    const Setting us = sc.setting_at(u);
    Outcome x;
    for (int p = 0; p < sc.parties(); ++p)
      x.push_back(s.at(static_cast<std::size_t>(p)).at(static_cast<std::size_t>(us[static_cast<std::size_t>(p)])));
    out[sc.index(us, x)] = 1.0;
  }
  return out;
}

}  // namespace dira::sim
