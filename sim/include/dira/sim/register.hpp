#pragma once
/// @file register.hpp
/// Registers the physical simulator as the time-tagger driver `sim` (an explicit call, like
/// drivers::register_drivers: static libraries would drop self-registering objects).

#include "dira/hal/registry.hpp"

namespace dira::sim {

/// Adds driver "sim" (DeviceKind::time_tagger): capabilities = sim_capabilities(), scan returns
/// one always-present FoundDevice, create returns an unbound sim::PhysicalSimulator (the
/// application binds it to an inequality and a schedule before start(); physical.hpp).
void register_sim(hal::DriverRegistry& registry);

}  // namespace dira::sim
