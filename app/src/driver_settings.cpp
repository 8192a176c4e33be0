#include "dira/app/driver_settings.hpp"

#include "dira/app/devices.hpp"
#include "dira/conf/document.hpp"
#include "dira/protocol/rational.hpp"

#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <vector>

namespace dira::app {

namespace {

/// The largest magnitude an integer setting may be written with: whole numbers written as
/// floats (1e6) are compared as doubles before the cast, and 2⁶² is exact in both types.
constexpr long long kIntegerBound = std::int64_t{1} << 62;

/// `n` as an integer setting: 3, -7, 1e6 or 6/2 (a whole number written otherwise). Exact integers
/// are read as integers (a double holds only 53 bits); anything else goes through the double.
std::optional<std::int64_t> integer_value(conf::Reader& r, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) {
    r.issue(n, key, "expected an integer, found " + conf::describe(n));
    return std::nullopt;
  }
  if (long long i = 0; YAML::convert<long long>::decode(n, i)) {
    if (i < -kIntegerBound || i > kIntegerBound) {
      r.issue(n, key,
              "expected a whole number in [" + std::to_string(-kIntegerBound) + ", " + std::to_string(kIntegerBound) +
                  "], got '" + n.Scalar() + "'");
      return std::nullopt;
    }
    return static_cast<std::int64_t>(i);
  }
  double d = 0;
  if (!YAML::convert<double>::decode(n, d)) {
    try {  // 6/2, as conf::Reader::number reads a number
      d = protocol::to_double(protocol::parse_rational(n.Scalar()));
    } catch (const std::exception&) {
      r.issue(n, key, "expected an integer, got '" + n.Scalar() + "'");
      return std::nullopt;
    }
  }
  if (!std::isfinite(d)) {
    r.issue(n, key, "expected a finite number, got '" + n.Scalar() + "'");
    return std::nullopt;
  }
  if (std::floor(d) != d) {
    r.issue(n, key, "expected an integer, got '" + n.Scalar() + "'");
    return std::nullopt;
  }
  // Whole but outside the integers a setting holds: Reader::whole's message (range, then cast).
  const auto w = r.whole(n, key, -kIntegerBound, kIntegerBound);
  return w ? std::optional<std::int64_t>(static_cast<std::int64_t>(*w)) : std::nullopt;
}

/// `n` in the form `cap` declares (see the header); std::nullopt after an issue at `n`.
std::optional<hal::SettingValue> typed_value(conf::Reader& r, const YAML::Node& n, const hal::Capability& cap,
                                             const std::string& key) {
  switch (cap.type) {
    case hal::Capability::Type::boolean:
      if (const auto b = r.boolean(n, key)) return *b;
      return std::nullopt;
    case hal::Capability::Type::integer:
      if (const auto i = integer_value(r, n, key)) return *i;
      return std::nullopt;
    case hal::Capability::Type::real:  // 0.75, 3/4 or 1e-3; NaN and ±inf refused
      if (const auto x = r.number(n, key)) return *x;
      return std::nullopt;
    case hal::Capability::Type::text:
    case hal::Capability::Type::choice:  // validate says whether it is one of the choices
      if (const auto t = r.string(n, key)) return *t;
      return std::nullopt;
  }
  return std::nullopt;
}

const hal::Capability* capability(const hal::DriverInfo& d, const std::string& key) {
  for (const auto& c : d.capabilities)
    if (c.key == key) return &c;
  return nullptr;
}

}  // namespace

std::map<std::string, hal::SettingValue> read_driver_settings(conf::Reader& r, const hal::DriverInfo& driver,
                                                              const YAML::Node& settings, const std::string& key) {
  std::map<std::string, hal::SettingValue> accepted;
  // One key at a time, so every issue comes in file order whichever step finds it.
  for (const auto& kv : settings) {
    if (!kv.first.IsScalar()) continue;  // a complex key: the parser reported it
    const std::string name = kv.first.Scalar();
    const std::string path = conf::Reader::join(key, name);
    const hal::Capability* cap = capability(driver, name);
    const bool settable = cap && cap->can_set;
    // An unknown or read-only key is refused by validate whatever its value: it is not typed.
    std::optional<hal::SettingValue> value = settable ? typed_value(r, kv.second, *cap, path) : hal::SettingValue{};
    if (!value) continue;  // not of the declared form: reported at the value
    const auto refused = driver_registry().validate(driver, {{name, *value}});
    if (refused.empty()) {
      accepted[name] = *value;
      continue;
    }
    std::string msg = refused.front().second;
    if (!cap) {  // a misspelt setting: name the nearest settable one
      std::vector<std::string> names;
      for (const auto& c : driver.capabilities)
        if (c.can_set) names.push_back(c.key);
      if (const auto near = conf::nearest(name, names); !near.empty()) msg += "; did you mean `" + near + "`?";
    }
    r.issue(settable ? kv.second : kv.first, path, msg);
  }
  return accepted;
}

}  // namespace dira::app
