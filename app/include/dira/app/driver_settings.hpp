#pragma once
/// @file driver_settings.hpp
/// The one reader of a device's `settings:` map in YAML (experiment files' `devices:`,
/// `simulator:` and `stations:`; station files' `tagger:` and `modulators:`), so that a value
/// means the same thing, and is refused with the same message, in every file dira reads.

#include "dira/conf/reader.hpp"
#include "dira/hal/registry.hpp"

#include <map>
#include <string>

namespace dira::app {

/// The settings of `driver` in the YAML map `settings`, whose key path is `key` (issues name
/// `key.NAME`). Each value is typed in the form the driver declares for it — a plain YAML scalar
/// has no type of its own: `1` is an integer or a real depending on the setting, integers may be
/// written 1e6, reals 3/4 — and a value that has not that form is an issue at its line and
/// column. The typed settings are then judged by `DriverRegistry::validate` alone (unknown key,
/// with the nearest settable one; read-only key; range; choice): unknown and read-only keys are
/// issues at the key, the rest at the value. Every problem is reported to `r`, in file order;
/// the map returned holds only the accepted settings.
std::map<std::string, hal::SettingValue> read_driver_settings(conf::Reader& r, const hal::DriverInfo& driver,
                                                              const YAML::Node& settings, const std::string& key);

}  // namespace dira::app
