#pragma once
/// @file capability.hpp
/// Device settings declared as data (libsigrok's SR_CONF_* with GET/SET/LIST): YAML
/// validation, `dira devices` and GUI forms are all generated from these declarations.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dira::hal {

using SettingValue = std::variant<bool, std::int64_t, double, std::string>;
std::string to_string(const SettingValue& v);

struct Capability {
  enum class Type { boolean, integer, real, text, choice };
  std::string key;  ///< e.g. "efficiency"
  Type type = Type::real;
  std::string unit;                  ///< e.g. "ps", "Hz", "" for dimensionless
  std::optional<double> min, max;    ///< range for integer/real
  std::vector<std::string> choices;  ///< for choice
  SettingValue default_value;
  bool can_get = true, can_set = true, can_list = false;
  std::string description;
};
const char* to_string(Capability::Type t);

/// Checks a value against a declaration; returns an error message or empty.
std::string check_value(const Capability& c, const SettingValue& v);

/// Builders, so that a driver declares each setting on one line (as a libsigrok driver's
/// devopts table does) and every driver fills the fields the same way. `min`/`max` bound
/// integer and real values (std::nullopt: unbounded); a choice can be listed.
Capability real_setting(std::string key, std::string unit, std::optional<double> min, std::optional<double> max,
                        double default_value, std::string description);
Capability integer_setting(std::string key, std::string unit, std::optional<double> min, std::optional<double> max,
                           std::int64_t default_value, std::string description);
Capability text_setting(std::string key, std::string default_value, std::string description);
Capability bool_setting(std::string key, bool default_value, std::string description);
Capability choice_setting(std::string key, std::vector<std::string> choices, std::string default_value,
                          std::string description);
/// The same declaration, reported by get() but refused by set() (a value the device or its
/// file decides: a PTU header's record count, an instrument profile's channel count).
Capability read_only(Capability c);

}  // namespace dira::hal
