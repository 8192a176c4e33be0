#include "dira/drivers/register.hpp"

#include "dira/drivers/entropy/entropy_sources.hpp"
#include "dira/drivers/picoquant/ptu_replay.hpp"
#include "dira/drivers/scpi_modulator/modulator.hpp"

namespace dira::drivers {

// Each driver folder adds its registration call here (issue 4).
void register_drivers(hal::DriverRegistry& registry) {
  register_entropy(registry);
  register_picoquant(registry);
  register_usbtmc(registry);
}

}  // namespace dira::drivers
