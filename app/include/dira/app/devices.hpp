#pragma once
/// @file devices.hpp
/// The driver registry with every built-in driver (real drivers and the simulator), and its
/// description as JSON for `dira devices` (and, later, the GUI's device panel).

#include "dira/hal/registry.hpp"

#include <nlohmann/json.hpp>

namespace dira::app {

/// All drivers dira ships, registered once.
const hal::DriverRegistry& driver_registry();

/// Drivers, their capabilities (key, type, unit, range, default, get/set/list) and the devices
/// each driver's scan finds. Scan failures are reported per driver, never thrown.
nlohmann::json describe_drivers(const hal::DriverRegistry& registry, bool scan);

}  // namespace dira::app
