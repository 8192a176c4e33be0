#pragma once
/// @file box_sampler.hpp
/// Draws trial outcomes from a behaviour P(x|u): honest quantum boxes (with white noise),
/// local deterministic strategies, no-signalling boxes found by the LP.

#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"
#include "dira/sim/rng.hpp"

#include <vector>

namespace dira::sim {

/// Samples x ~ P(·|u) independently per trial (an i.i.d. box; memory effects are issue 4's).
class BoxSampler {
 public:
  /// Throws std::invalid_argument if p is not a behaviour on the scenario (negative
  /// entries or a setting whose probabilities do not sum to 1 within 1e-9).
  BoxSampler(const protocol::Scenario& scenario, const protocol::Behaviour& p);
  /// Fills t.x from t.u.
  void sample(protocol::Trial& t, Rng& rng) const;

 private:
  protocol::Scenario scenario_;
  std::vector<double> cumulative_;  // per setting, cumulative over outcome index
};

/// V·P + (1−V)·uniform: white noise of visibility V on every setting.
protocol::Behaviour white_noise(const protocol::Scenario& scenario, const protocol::Behaviour& p, double visibility);

/// The 0/1 behaviour of a local deterministic strategy ([party][setting] → outcome).
protocol::Behaviour deterministic_behaviour(const protocol::Scenario& scenario,
                                            const protocol::DeterministicStrategy& s);

}  // namespace dira::sim
