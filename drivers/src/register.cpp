#include "dira/drivers/register.hpp"

namespace dira::drivers {

// Each driver folder adds its registration function here as it lands (issue 4).
void register_drivers(hal::DriverRegistry& /*registry*/) {}

}  // namespace dira::drivers
