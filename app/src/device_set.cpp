#include "device_set.hpp"

#include <algorithm>

namespace dira::app {

namespace {

ConfigError refused(const ExperimentConfig& c, const std::string& key, const std::string& what) {
  return ConfigError({ConfigIssue{c.file, 0, 0, key, what}});
}

/// Creates a device of `kind` from `driver`, casting it to the interface T.
template <class T>
std::unique_ptr<T> create(const ExperimentConfig& c, const hal::DriverRegistry& reg, hal::DeviceKind kind,
                          const std::string& driver, const std::map<std::string, hal::SettingValue>& settings,
                          const std::string& key) {
  const auto* info = reg.find(driver, kind);
  if (!info) throw refused(c, key, "no " + std::string(hal::to_string(kind)) + " driver '" + driver + "'");
  std::unique_ptr<hal::Device> dev;
  try {
    dev = reg.create(*info, settings);  // validated against the capabilities first: every problem at once
  } catch (const hal::SettingsRefused& e) {
    std::vector<ConfigIssue> issues;
    for (const auto& [k, msg] : e.problems()) issues.push_back(ConfigIssue{c.file, 0, 0, key + "." + k, msg});
    throw ConfigError(issues);
  } catch (const ConfigError&) {
    throw;  // a driver's own config file (an instrument profile): its issues name file, line and key
  } catch (const std::exception& e) {
    throw refused(c, key, driver + ": " + e.what());
  }
  auto* t = dynamic_cast<T*>(dev.get());
  if (!t) throw refused(c, key, driver + " is not a " + hal::to_string(kind));
  dev.release();
  return std::unique_ptr<T>(t);
}

}  // namespace

std::unique_ptr<hal::EntropySource> open_weak_source(const ExperimentConfig& c, const hal::DriverRegistry& reg) {
  const auto& w = c.weak_source;
  std::string driver = w.driver;
  auto settings = w.settings;
  if (driver.empty()) {  // the legacy form: weak_source.kind and its keys
    const double eps = c.epsilon;
    if (w.kind == "adversarial") {
      if (w.avoid_setting.empty())
        throw refused(c, "weak_source.avoid_setting", "an adversarial source needs the setting to avoid");
      driver = "adversarial";
      settings["epsilon"] = eps;
      settings["avoid_setting"] = static_cast<std::int64_t>(w.avoid_setting[0]);
      // The setting rule's bits per attempt: one bit per party (A, C), 4-bit attempts (B).
      settings["bits_per_attempt"] = static_cast<std::int64_t>(c.protocol == 'B' ? 4 : 1);
      settings["seed"] = static_cast<std::int64_t>(w.seed);
    } else if (w.kind == "file") {
      driver = "file";
      settings["path"] = w.path;
      settings["epsilon"] = eps;
    } else {
      driver = "iid";
      settings["bias"] = w.bias;
      settings["seed"] = static_cast<std::int64_t>(w.seed);
    }
  }
  return create<hal::EntropySource>(c, reg, hal::DeviceKind::entropy_source, driver, settings, "weak_source");
}

DeviceSet open_devices(const ExperimentConfig& c, const hal::DriverRegistry& reg, std::uint64_t planned) {
  DeviceSet d;
  const auto& sc = c.inequality.expression.scenario();
  if (!c.simulator.present && !c.devices.present)
    throw refused(c, "simulator",
                  "nothing to drive: add a simulator: section (driver sim) or a devices: section "
                  "(docs/experiment-yaml.md)");
  // Modulators first (devices.modulators, one per party): a refused one leaves nothing behind.
  for (std::size_t p = 0; p < c.devices.modulators.size(); ++p) {
    const auto& m = c.devices.modulators[p];
    const std::string key = "devices.modulators[" + std::to_string(p) + "]";
    auto mod = create<hal::Modulator>(c, reg, hal::DeviceKind::modulator, m.driver, m.settings, key);
    for (const auto& cap : mod->capabilities())
      if (cap.key == "settings") {
        const auto v = mod->get("settings");
        if (const auto* n = std::get_if<std::int64_t>(&v); n && *n < sc.settings(static_cast<int>(p)))
          throw refused(c, key,
                        "its profile maps " + std::to_string(*n) + " settings, party " + std::to_string(p) + " needs " +
                            std::to_string(sc.settings(static_cast<int>(p))));
      }
    d.modulators.push_back({mod.get(), static_cast<int>(p)});
    d.owned_modulators.push_back(std::move(mod));
  }
  if (c.simulator.present) {
    d.tagger = create<hal::TimeTagger>(c, reg, hal::DeviceKind::time_tagger, "sim", c.simulator.settings, "simulator");
    d.apparatus = dynamic_cast<hal::SimulatedApparatus*>(d.tagger.get());
    if (!d.apparatus) throw refused(c, "simulator", "driver sim does not simulate an apparatus");
    hal::ApparatusBinding b;
    b.inequality = &c.inequality;
    b.trials = planned;
    if (c.protocol == 'A') {  // k logical devices in equal blocks of m trials (seed 000, Fig. 2)
      if (c.uses_per_device.empty())
        throw refused(c, "protocol.uses_per_device", "needed for a simulated Protocol A run");
      for (auto m : c.uses_per_device)
        if (m != c.uses_per_device[0])
          throw refused(c, "protocol.uses_per_device", "the simulator assigns equal blocks: give one number");
      b.logical_devices = static_cast<std::uint32_t>(c.a.devices);
      b.device_block_trials = c.uses_per_device[0];
    }
    // External modulators beside the simulator: the simulated ones take the settings the same
    // way (one delivery mode for the scheduler), so an AWG's segments are what the simulated
    // apparatus plays.
    if (!d.modulators.empty() && d.modulators.front().device->delivery() == hal::SettingDelivery::segment) {
      std::uint64_t capacity = UINT64_MAX;
      for (const auto& m : d.modulators) capacity = std::min(capacity, m.device->segment_capacity());
      try {
        d.tagger->set("modulator_delivery", std::string("segment"));
        d.tagger->set("segment_trials", static_cast<std::int64_t>(capacity));
      } catch (const std::exception& e) {
        throw refused(c, "simulator", std::string("cannot put the simulated modulators in segment mode: ") + e.what());
      }
    }
    try {
      d.apparatus->bind(b);
    } catch (const std::exception& e) {
      throw refused(c, "simulator", e.what());
    }
    d.layout = d.apparatus->layout();
    d.hardware = d.apparatus->hardware_model();
    const auto own = d.apparatus->modulators();
    for (std::size_t p = 0; p < own.size(); ++p) d.modulators.push_back({own[p], static_cast<int>(p)});
  } else {
    d.tagger = create<hal::TimeTagger>(c, reg, hal::DeviceKind::time_tagger, c.devices.tagger.driver,
                                       c.devices.tagger.settings, "devices.tagger");
    d.layout = c.devices.layout;
    if (c.hardware) d.hardware = c.hardware;
  }
  for (const auto& cap : d.tagger->capabilities())
    if (cap.key == "station")
      if (const auto v = d.tagger->get("station"); std::holds_alternative<std::int64_t>(v))
        d.station = static_cast<int>(std::get<std::int64_t>(v));
  d.weak_source = open_weak_source(c, reg);
  return d;
}

}  // namespace dira::app
