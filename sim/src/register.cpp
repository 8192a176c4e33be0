#include "dira/sim/register.hpp"

#include "dira/sim/physical.hpp"
#include "weak_sources.hpp"

namespace dira::sim {

void register_sim(hal::DriverRegistry& registry) {
  hal::DriverInfo info;
  info.name = "sim";
  info.kind = hal::DeviceKind::time_tagger;
  info.description =
      "physical simulator: pulsed source with the inequality's quantum state or an adversarial box, modulators "
      "with setting echo, detectors with efficiency, dark counts, dead time and jitter (docs/simulator.md)";
  info.capabilities = sim_capabilities();
  info.create = [](const std::map<std::string, hal::SettingValue>& settings) -> std::unique_ptr<hal::Device> {
    return std::make_unique<PhysicalSimulator>(settings);
  };
  info.scan = [] {
    return std::vector<hal::FoundDevice>{
        {"sim", "sim", "physical simulator (always present; bound to an inequality and a schedule by the session)"}};
  };
  registry.add(std::move(info));
  detail::register_weak_sources(registry);
}

}  // namespace dira::sim
