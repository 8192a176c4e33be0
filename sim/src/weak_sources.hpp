#pragma once
// The simulated weak sources as entropy drivers `iid` and `adversarial` (like drivers/entropy's
// file, hwrng and command), so `weak_source: {driver: …, settings: …}` reaches them.
#include "dira/hal/registry.hpp"

namespace dira::sim::detail {

void register_weak_sources(hal::DriverRegistry& registry);

}  // namespace dira::sim::detail
