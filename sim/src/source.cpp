// The photon source (docs/simulator.md, "Quantum source", "Two-qubit model", "Adversarial
// sources"): the behaviour P(x|u) the emitted state or box gives, as alias tables.
#include "source.hpp"

#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/sim/box_sampler.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <string>

namespace dira::sim::detail {

using protocol::Behaviour;
using protocol::Scenario;

namespace {

/// The unitary applied to a party's measurement bases (docs/simulator.md, "Misalignment").
Eigen::MatrixXcd misalignment_unitary(int d, double theta, MisalignmentKind kind, Rng& rng) {
  using Mat = Eigen::MatrixXcd;
  if (kind == MisalignmentKind::fixed) {
    // exp(−iθσ_y) on each pair of components: a real rotation by θ.
    Mat u = Mat::Identity(d, d);
    for (int k = 0; k + 1 < d; k += 2) {
      u(k, k) = std::cos(theta);
      u(k, k + 1) = -std::sin(theta);
      u(k + 1, k) = std::sin(theta);
      u(k + 1, k + 1) = std::cos(theta);
    }
    return u;
  }
  Gaussian g;
  Mat a(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) a(i, j) = std::complex<double>(g.draw(rng), g.draw(rng));
  const Mat h = (a + a.adjoint()) / 2.0;
  Eigen::SelfAdjointEigenSolver<Mat> es(h);
  const Eigen::VectorXd lambda = es.eigenvalues();
  const double norm = std::max(lambda.cwiseAbs().maxCoeff(), 1e-300);
  Eigen::VectorXcd phase(d);
  for (int k = 0; k < d; ++k) phase(k) = std::exp(std::complex<double>(0, -theta * lambda(k) / norm));
  return es.eigenvectors() * phase.asDiagonal() * es.eigenvectors().adjoint();
}

}  // namespace

void check_behaviour(const Scenario& sc, const Behaviour& p) {
  if (p.size() != sc.size()) throw std::invalid_argument("sim: behaviour of the wrong size for the scenario");
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double s = 0;
    for (std::size_t x = 0; x < nx; ++x) {
      const double v = p[u * nx + x];
      if (!(v >= -1e-9)) throw std::invalid_argument("sim: behaviour has a negative or NaN probability");
      s += v;
    }
    if (std::fabs(s - 1) > 1e-6)
      throw std::invalid_argument("sim: behaviour not normalised at setting " + std::to_string(u));
  }
}

protocol::QuantumRealisation two_qubit_realisation(const TwoQubitModel& m) {
  protocol::QuantumRealisation q;
  q.local_dimension = {2, 2};
  // |ab⟩ has index 2a + b (party 0 the most significant factor, quantum.hpp).
  q.state = Eigen::VectorXcd::Zero(4);
  q.state(0) = std::cos(m.state_theta);
  q.state(3) = std::sin(m.state_theta);
  const auto basis = [](double a) {
    // Column x = the vector outcome x projects on: a polariser at angle a transmits
    // cos a|0⟩ + sin a|1⟩ (outcome 1); the other port of the PBS is the orthogonal vector.
    Eigen::MatrixXcd b(2, 2);
    b(0, 0) = -std::sin(a);
    b(1, 0) = std::cos(a);
    b(0, 1) = std::cos(a);
    b(1, 1) = std::sin(a);
    return b;
  };
  q.bases = {{basis(m.alice_angle[0]), basis(m.alice_angle[1])}, {basis(m.bob_angle[0]), basis(m.bob_angle[1])}};
  return q;
}

SourceModel build_source(const PhysicalSettings& s, const Scenario& sc, const BoundSource& bound,
                         std::size_t apparatuses) {
  SourceModel out;
  const bool independent = apparatuses > 1;
  const auto table_from = [&](const Behaviour& p) {
    check_behaviour(sc, p);
    AliasTable t(sc.setting_count(), sc.outcome_count());
    for (std::size_t u = 0; u < sc.setting_count(); ++u) t.build_row(u, &p[u * sc.outcome_count()]);
    return t;
  };
  switch (s.source) {
    case SourceKind::quantum: {
      if (!s.two_qubit && (!bound.inequality || !bound.inequality->quantum))
        throw std::invalid_argument("sim: source = quantum needs an inequality with a quantum realisation");
      // Misalignment draws come from their own stream so that they do not shift the trial stream.
      Rng mis(s.seed ^ 0x6d6973616c69676eull);
      const bool per_apparatus = s.misalignment_rad > 0 && s.misalignment == MisalignmentKind::random && independent;
      if (per_apparatus && apparatuses > 4096)
        throw std::invalid_argument("sim: at most 4096 independent apparatuses with random misalignment");
      const std::size_t ntables = per_apparatus ? apparatuses : 1;
      for (std::size_t k = 0; k < ntables; ++k) {
        protocol::QuantumRealisation q = s.two_qubit ? two_qubit_realisation(*s.two_qubit) : *bound.inequality->quantum;
        if (s.misalignment_rad > 0)
          for (int p = 0; p < sc.parties(); ++p) {
            const auto pi = static_cast<std::size_t>(p);
            const Eigen::MatrixXcd u =
                misalignment_unitary(q.local_dimension[pi], s.misalignment_rad, s.misalignment, mis);
            for (auto& basis : q.bases[pi]) basis = u * basis;
          }
        // White noise on the behaviour: for rank-1 projectors this is the state
        // V|ψ⟩⟨ψ| + (1 − V)·I/d, since Tr[(⊗Π)·I/d] = 1/d for every outcome tuple.
        out.tables.push_back(table_from(white_noise(sc, protocol::quantum_behaviour(sc, q), s.visibility)));
      }
      out.table_per_apparatus = per_apparatus;
      break;
    }
    case SourceKind::local:
      if (!bound.inequality) throw std::invalid_argument("sim: source = local needs bind(inequality, …)");
      out.tables.push_back(
          table_from(deterministic_behaviour(sc, protocol::local_bound(bound.inequality->expression).optimal)));
      break;
    case SourceKind::no_signalling:
      if (!bound.inequality) throw std::invalid_argument("sim: source = no_signalling needs bind(inequality, …)");
      out.tables.push_back(table_from(no_signalling_box(*bound.inequality)));
      break;
    case SourceKind::memory:
      if (bound.custom_memory && *bound.custom_memory)
        out.memory = *bound.custom_memory;
      else if (bound.inequality)
        out.memory = repeat_guess_strategy(bound.inequality->expression);
      else
        throw std::invalid_argument("sim: source = memory needs bind(inequality, …) or a strategy");
      break;
    case SourceKind::behaviour:
      if (!bound.behaviour) throw std::invalid_argument("sim: source = behaviour needs bind(scenario, behaviour, …)");
      out.tables.push_back(table_from(*bound.behaviour));
      break;
  }
  return out;
}

}  // namespace dira::sim::detail
