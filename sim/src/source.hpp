#pragma once
// The photon source of the physics model: what P(x|u) the emitted state (or box) has.
#include "distributions.hpp"

#include "dira/sim/physical.hpp"

#include <optional>
#include <vector>

namespace dira::sim::detail {

/// Throws std::invalid_argument unless `p` is a behaviour on `scenario` (non-negative,
/// normalised to 1e-6 per setting).
void check_behaviour(const protocol::Scenario& scenario, const protocol::Behaviour& p);

/// The two-qubit realisation of `m` (docs/simulator.md, "Two-qubit model"): state
/// cos θ|00⟩ + sin θ|11⟩ (party 0 the most significant factor), and for each party and
/// setting the basis whose column 1 is cos a|0⟩ + sin a|1⟩ and column 0 the orthogonal
/// −sin a|0⟩ + cos a|1⟩.
protocol::QuantumRealisation two_qubit_realisation(const TwoQubitModel& m);

/// What emits, per run: alias tables of P(x|u) (one, or one per independent apparatus) or a
/// memory strategy.
struct SourceModel {
  std::vector<AliasTable> tables;
  bool table_per_apparatus = false;
  MemoryStrategy memory;
};

/// What is bound, as the source needs it.
struct BoundSource {
  const protocol::Inequality* inequality = nullptr;
  const protocol::Behaviour* behaviour = nullptr;
  const MemoryStrategy* custom_memory = nullptr;
};

/// Builds the source for one run. `apparatuses` is the number of independent apparatuses
/// (1 when shared). Throws std::invalid_argument when the binding cannot give `s.source`.
SourceModel build_source(const PhysicalSettings& s, const protocol::Scenario& scenario, const BoundSource& bound,
                         std::size_t apparatuses);

}  // namespace dira::sim::detail
