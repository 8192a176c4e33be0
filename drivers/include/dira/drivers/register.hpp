#pragma once
/// @file register.hpp
/// Registers every real driver with a registry (an explicit call: static libraries would drop
/// self-registering objects at link time).

#include "dira/hal/registry.hpp"

namespace dira::drivers {
void register_drivers(hal::DriverRegistry& registry);
}  // namespace dira::drivers
