#pragma once
/// @file register.hpp
/// Registers the physical simulator as the time-tagger driver `sim` (an explicit call, like
/// drivers::register_drivers: static libraries would drop self-registering objects).

#include "dira/hal/registry.hpp"

namespace dira::sim {

/// Adds driver "sim" (DeviceKind::time_tagger): capabilities = sim_capabilities(), scan returns
/// one always-present FoundDevice, create returns an unbound sim::PhysicalSimulator, which is a
/// hal::SimulatedApparatus (the session binds it before start(); hal/simulated_apparatus.hpp).
/// Also adds the simulated weak sources as DeviceKind::entropy_source drivers: "iid"
/// (bias, seed, epsilon; sim::IidSvSource) and "adversarial" (epsilon, avoid_setting,
/// bits_per_attempt, seed; sim::AdversarialSvSource::steer(bits_per_attempt, avoid_setting,
/// true)); each device is a hal::EntropySource giving the wrapped class's bit sequence.
void register_sim(hal::DriverRegistry& registry);

}  // namespace dira::sim
