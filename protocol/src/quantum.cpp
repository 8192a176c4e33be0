#include "dira/protocol/quantum.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dira::protocol {

Behaviour quantum_behaviour(const Scenario& sc, const QuantumRealisation& q) {
  const int n = sc.parties();
  if (q.local_dimension.size() != static_cast<std::size_t>(n) || q.bases.size() != static_cast<std::size_t>(n))
    throw std::invalid_argument("quantum realisation: one dimension and one list of bases per party needed");
  Eigen::Index dim = 1;
  for (int p = 0; p < n; ++p) {
    dim *= q.local_dimension[static_cast<std::size_t>(p)];
    if (q.bases[static_cast<std::size_t>(p)].size() != static_cast<std::size_t>(sc.settings(p)))
      throw std::invalid_argument("quantum realisation: party " + std::to_string(p) + " needs one basis per setting");
    for (const auto& b : q.bases[static_cast<std::size_t>(p)])
      if (b.rows() != q.local_dimension[static_cast<std::size_t>(p)] || b.cols() != sc.outcomes(p))
        throw std::invalid_argument("quantum realisation: basis of party " + std::to_string(p) + " has the wrong shape");
  }
  if (q.state.size() != dim) throw std::invalid_argument("quantum realisation: state has the wrong dimension");

  Behaviour out(sc.size(), 0.0);
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    const Setting u = sc.setting_at(ui);
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
      const Outcome x = sc.outcome_at(xi);
      // ⊗_i b^i as a vector, party 0 most significant.
      Eigen::VectorXcd v = Eigen::VectorXcd::Ones(1);
      for (int p = 0; p < n; ++p) {
        const Eigen::VectorXcd col = q.bases[static_cast<std::size_t>(p)][static_cast<std::size_t>(u[static_cast<std::size_t>(p)])].col(x[static_cast<std::size_t>(p)]);
        Eigen::VectorXcd w(v.size() * col.size());
        for (Eigen::Index a = 0; a < v.size(); ++a)
          for (Eigen::Index b = 0; b < col.size(); ++b) w(a * col.size() + b) = v(a) * col(b);
        v = std::move(w);
      }
      out[ui * sc.outcome_count() + xi] = std::norm(v.dot(q.state));  // dot() conjugates v
    }
  }
  return out;
}

double signalling_violation(const Scenario& sc, const Behaviour& p) {
  double worst = 0;
  const int n = sc.parties();
  for (int party = 0; party < n; ++party) {
    // Marginal of the others: for each u (with u_party varied) and x_{-party}.
    for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
      Setting u = sc.setting_at(ui);
      if (u[static_cast<std::size_t>(party)] != 0) continue;
      for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
        Outcome x = sc.outcome_at(xi);
        if (x[static_cast<std::size_t>(party)] != 0) continue;
        double lo = 1e300, hi = -1e300;
        for (int s = 0; s < sc.settings(party); ++s) {
          u[static_cast<std::size_t>(party)] = s;
          double m = 0;
          for (int o = 0; o < sc.outcomes(party); ++o) {
            x[static_cast<std::size_t>(party)] = o;
            m += p[sc.index(u, x)];
          }
          lo = std::min(lo, m);
          hi = std::max(hi, m);
        }
        x[static_cast<std::size_t>(party)] = 0;
        u[static_cast<std::size_t>(party)] = 0;
        worst = std::max(worst, hi - lo);
      }
    }
  }
  return worst;
}

double normalisation_violation(const Scenario& sc, const Behaviour& p) {
  double worst = 0;
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    double s = 0;
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) s += p[ui * sc.outcome_count() + xi];
    worst = std::max(worst, std::fabs(s - 1));
  }
  return worst;
}

}  // namespace dira::protocol
