#include "dira/hal/capability.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/tag.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace dira::hal {

const char* to_string(TagType t) {
  switch (t) {
    case TagType::time_tag:
      return "time_tag";
    case TagType::error:
      return "error";
    case TagType::overflow_begin:
      return "overflow_begin";
    case TagType::overflow_end:
      return "overflow_end";
    case TagType::missed_events:
      return "missed_events";
    case TagType::time_mark:
      return "time_mark";
  }
  return "?";
}

const char* to_string(SettingDelivery d) {
  return d == SettingDelivery::segment ? "segment" : "streaming";
}

std::string to_string(const SettingValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>)
          return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          return x;
        else {
          std::ostringstream os;
          os << x;
          return os.str();
        }
      },
      v);
}

const char* to_string(Capability::Type t) {
  switch (t) {
    case Capability::Type::boolean:
      return "bool";
    case Capability::Type::integer:
      return "int";
    case Capability::Type::real:
      return "real";
    case Capability::Type::text:
      return "string";
    case Capability::Type::choice:
      return "choice";
  }
  return "?";
}

Capability real_setting(std::string key, std::string unit, std::optional<double> min, std::optional<double> max,
                        double default_value, std::string description) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::real;
  c.unit = std::move(unit);
  c.min = min;
  c.max = max;
  c.default_value = default_value;
  c.description = std::move(description);
  return c;
}

Capability integer_setting(std::string key, std::string unit, std::optional<double> min, std::optional<double> max,
                           std::int64_t default_value, std::string description) {
  Capability c = real_setting(std::move(key), std::move(unit), min, max, 0.0, std::move(description));
  c.type = Capability::Type::integer;
  c.default_value = default_value;
  return c;
}

Capability text_setting(std::string key, std::string default_value, std::string description) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::text;
  c.default_value = std::move(default_value);
  c.description = std::move(description);
  return c;
}

Capability bool_setting(std::string key, bool default_value, std::string description) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::boolean;
  c.default_value = default_value;
  c.description = std::move(description);
  return c;
}

Capability choice_setting(std::string key, std::vector<std::string> choices, std::string default_value,
                          std::string description) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::choice;
  c.choices = std::move(choices);
  c.can_list = true;
  c.default_value = std::move(default_value);
  c.description = std::move(description);
  return c;
}

Capability read_only(Capability c) {
  c.can_set = false;
  return c;
}

namespace {
// A number as the operator wrote it: a whole number below 10^15 as an integer (a bound of 2^24
// reads 16777216, not the stream's 1.67772e+07), any other as the shortest text that reads back
// as the same double, in %g style (std::to_chars, general: 10^-4 reads 0.0001).
std::string number_text(double x) {
  if (std::abs(x) < 1e15 && x == std::trunc(x)) return std::to_string(static_cast<std::int64_t>(x));
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general);
  return r.ec == std::errc() ? std::string(buf, r.ptr) : std::to_string(x);
}
}  // namespace

std::string check_value(const Capability& c, const SettingValue& v) {
  // `text`: the value as given (an integer exactly, not through a double).
  auto range = [&](double x, const std::string& text) -> std::string {
    if ((c.min && x < *c.min) || (c.max && x > *c.max))
      return text + " out of range [" + (c.min ? number_text(*c.min) : std::string("-inf")) + ", " +
             (c.max ? number_text(*c.max) : std::string("inf")) + "]" + (c.unit.empty() ? "" : " " + c.unit);
    return {};
  };
  const auto integer = [&](std::int64_t i) { return range(static_cast<double>(i), std::to_string(i)); };
  const auto real = [&](double x) { return range(x, number_text(x)); };
  switch (c.type) {
    case Capability::Type::boolean:
      return std::holds_alternative<bool>(v) ? "" : "expected true or false";
    case Capability::Type::integer:
      if (!std::holds_alternative<std::int64_t>(v)) return "expected an integer";
      return integer(std::get<std::int64_t>(v));
    case Capability::Type::real:
      if (std::holds_alternative<std::int64_t>(v)) return integer(std::get<std::int64_t>(v));
      if (!std::holds_alternative<double>(v)) return "expected a number";
      return real(std::get<double>(v));
    case Capability::Type::text:
      return std::holds_alternative<std::string>(v) ? "" : "expected a string";
    case Capability::Type::choice: {
      if (!std::holds_alternative<std::string>(v)) return "expected one of the listed choices";
      const auto& s = std::get<std::string>(v);
      if (std::find(c.choices.begin(), c.choices.end(), s) != c.choices.end()) return "";
      std::string all;
      for (const auto& ch : c.choices) all += (all.empty() ? "" : ", ") + ch;
      return "'" + s + "' is not one of: " + all;
    }
  }
  return "unknown type";
}

const char* to_string(DeviceKind k) {
  switch (k) {
    case DeviceKind::time_tagger:
      return "time_tagger";
    case DeviceKind::modulator:
      return "modulator";
    case DeviceKind::entropy_source:
      return "entropy_source";
  }
  return "?";
}

void DriverRegistry::add(DriverInfo info) {
  for (const auto& d : drivers_)
    if (d.name == info.name && d.kind == info.kind)
      throw std::invalid_argument("driver registered twice: " + info.name);
  drivers_.push_back(std::move(info));
}

const DriverInfo* DriverRegistry::find(const std::string& name, DeviceKind kind) const {
  for (const auto& d : drivers_)
    if (d.name == name && d.kind == kind) return &d;
  return nullptr;
}

std::vector<const DriverInfo*> DriverRegistry::all() const {
  std::vector<const DriverInfo*> out;
  for (const auto& d : drivers_) out.push_back(&d);
  return out;
}

std::string check_setting(const DriverInfo& d, const std::string& key, const SettingValue& value) {
  const auto it =
      std::find_if(d.capabilities.begin(), d.capabilities.end(), [&](const Capability& c) { return c.key == key; });
  if (it == d.capabilities.end()) {
    std::string known;
    for (const auto& c : d.capabilities)
      if (c.can_set) known += (known.empty() ? "" : ", ") + c.key;
    return "unknown setting of driver '" + d.name + "' (known: " + known + ")";
  }
  if (!it->can_set) return "read-only (driver '" + d.name + "' reports it, it cannot be set)";
  return check_value(*it, value);
}

SettingsRefused::SettingsRefused(const std::string& driver, std::vector<std::pair<std::string, std::string>> problems)
    : std::invalid_argument([&] {
        std::string s = driver + ": settings refused";
        for (const auto& [key, msg] : problems) s += "; " + key + ": " + msg;
        return s;
      }()),
      problems_(std::move(problems)) {}

std::unique_ptr<Device> DriverRegistry::create(const DriverInfo& d,
                                               const std::map<std::string, SettingValue>& settings) const {
  if (auto problems = validate(d, settings); !problems.empty()) throw SettingsRefused(d.name, std::move(problems));
  if (!d.create) throw std::invalid_argument("driver '" + d.name + "' cannot create devices");
  return d.create(settings);
}

std::vector<std::pair<std::string, std::string>> DriverRegistry::validate(
    const DriverInfo& d, const std::map<std::string, SettingValue>& settings) const {
  std::vector<std::pair<std::string, std::string>> problems;
  for (const auto& [key, value] : settings)
    if (auto msg = check_setting(d, key, value); !msg.empty()) problems.emplace_back(key, msg);
  return problems;
}

}  // namespace dira::hal
