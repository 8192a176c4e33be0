#include "dira/app/devices.hpp"

#include "dira/drivers/register.hpp"
#include "dira/sim/register.hpp"
#include "dira/station/coordinator.hpp"

namespace dira::app {

const hal::DriverRegistry& driver_registry() {
  static const hal::DriverRegistry registry = [] {
    hal::DriverRegistry r;
    drivers::register_drivers(r);
    sim::register_sim(r);
    station::register_station_drivers(r);  // the coordinator's view of remote stations (docs/stations.md)
    return r;
  }();
  return registry;
}

namespace {
nlohmann::json value_json(const hal::SettingValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}
}  // namespace

nlohmann::json describe_drivers(const hal::DriverRegistry& registry, bool scan) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto* d : registry.all()) {
    nlohmann::json caps = nlohmann::json::array();
    for (const auto& c : d->capabilities) {
      nlohmann::json j{{"key", c.key},         {"type", hal::to_string(c.type)}, {"unit", c.unit},
                       {"default", value_json(c.default_value)}, {"get", c.can_get}, {"set", c.can_set},
                       {"list", c.can_list}, {"description", c.description}};
      j["min"] = c.min ? nlohmann::json(*c.min) : nlohmann::json(nullptr);
      j["max"] = c.max ? nlohmann::json(*c.max) : nlohmann::json(nullptr);
      if (!c.choices.empty()) j["choices"] = c.choices;
      caps.push_back(j);
    }
    nlohmann::json e{{"driver", d->name}, {"kind", hal::to_string(d->kind)}, {"description", d->description},
                     {"capabilities", caps}};
    if (scan && d->scan) {
      try {
        nlohmann::json found = nlohmann::json::array();
        for (const auto& f : d->scan()) found.push_back({{"identity", f.identity}, {"detail", f.detail}});
        e["found"] = found;
      } catch (const std::exception& ex) {
        e["found"] = nlohmann::json::array();
        e["scan_error"] = ex.what();
      }
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace dira::app
