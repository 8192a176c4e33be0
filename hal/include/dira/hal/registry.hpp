#pragma once
/// @file registry.hpp
/// Drivers register by name; devices are created from their YAML settings. Registration is an
/// explicit call (register_*_drivers) so static libraries do not drop it at link time.

#include "dira/hal/device.hpp"

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dira::hal {

enum class DeviceKind { time_tagger, modulator, entropy_source };
const char* to_string(DeviceKind k);

/// A device a driver found (on the bus, on disk, or always present like `sim`).
struct FoundDevice {
  std::string driver;
  std::string identity;
  std::string detail;
};

struct DriverInfo {
  std::string name;  ///< `driver:` in YAML
  DeviceKind kind = DeviceKind::time_tagger;
  std::string description;
  std::vector<Capability> capabilities;
  std::function<std::unique_ptr<Device>(const std::map<std::string, SettingValue>&)> create;
  std::function<std::vector<FoundDevice>()> scan;  ///< may be empty
};

/// The one check of one setting of a driver, used by every path that accepts settings (YAML
/// experiment files, the GUI's device editor, DriverRegistry::validate): unknown key (naming
/// the known ones), read-only key, or a value outside the declaration. Empty: accepted.
std::string check_setting(const DriverInfo& driver, const std::string& key, const SettingValue& value);

/// Settings a driver's capability declarations refuse, every problem at once (key → message).
class SettingsRefused : public std::invalid_argument {
 public:
  SettingsRefused(const std::string& driver, std::vector<std::pair<std::string, std::string>> problems);
  const std::vector<std::pair<std::string, std::string>>& problems() const { return problems_; }

 private:
  std::vector<std::pair<std::string, std::string>> problems_;
};

class DriverRegistry {
 public:
  void add(DriverInfo info);
  const DriverInfo* find(const std::string& name, DeviceKind kind) const;
  std::vector<const DriverInfo*> all() const;
  /// Validates settings against the driver's capabilities (all problems at once; key → message).
  std::vector<std::pair<std::string, std::string>> validate(const DriverInfo& d,
                                                            const std::map<std::string, SettingValue>& settings) const;
  /// The one way the application makes a device from settings (session, GUI, station): validate()
  /// — every problem, thrown at once as SettingsRefused, before the driver is called — then the
  /// driver's factory, which may still refuse what the declarations cannot say (std::invalid_argument).
  std::unique_ptr<Device> create(const DriverInfo& d, const std::map<std::string, SettingValue>& settings) const;

 private:
  std::vector<DriverInfo> drivers_;
};

}  // namespace dira::hal
