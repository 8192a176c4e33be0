#include "dira/drivers/register.hpp"

#include "dira/drivers/entropy/entropy_sources.hpp"

namespace dira::drivers {

// Each driver folder adds its registration call here (issue 4).
void register_drivers(hal::DriverRegistry& registry) {
  register_entropy(registry);
}

}  // namespace dira::drivers
