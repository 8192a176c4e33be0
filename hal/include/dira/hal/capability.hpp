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
  std::string key;          ///< e.g. "efficiency"
  Type type = Type::real;
  std::string unit;         ///< e.g. "ps", "Hz", "" for dimensionless
  std::optional<double> min, max;      ///< range for integer/real
  std::vector<std::string> choices;    ///< for choice
  SettingValue default_value;
  bool can_get = true, can_set = true, can_list = false;
  std::string description;
};
const char* to_string(Capability::Type t);

/// Checks a value against a declaration; returns an error message or empty.
std::string check_value(const Capability& c, const SettingValue& v);

}  // namespace dira::hal
