#pragma once
// Settings for simulator tests that need no weak source: independent uniform settings per
// trial, a pure function of the trial index and a seed (as a scheduler driven by an ideal
// source would give), shared by test_simulator.cpp and test_sim_paths.cpp.
#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"
#include "dira/sim/physical.hpp"

#include <cstdint>

namespace dira::test {

/// splitmix64's finaliser: a well-mixed 64-bit value from any input.
inline std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Trial i's settings: party p's setting from mix(i, seed), uniform over its settings.
inline sim::SettingSchedule uniform_schedule(const protocol::Scenario& sc, std::uint64_t seed = 99) {
  return [sc, seed](std::uint64_t i) {
    protocol::Trial t;
    t.index = i;
    std::uint64_t h = mix(i ^ (seed << 40));
    for (int p = 0; p < sc.parties(); ++p) {
      const auto s = static_cast<std::uint64_t>(sc.settings(p));
      t.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(h % s);
      h /= s;
    }
    return t;
  };
}

}  // namespace dira::test
