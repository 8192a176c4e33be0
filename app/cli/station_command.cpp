// `dira station STATION.yaml`: one party (or a group of parties) of an experiment whose
// stations sit on separate machines (docs/stations.md).
#include "commands.hpp"

#include "dira/app/devices.hpp"
#include "dira/app/inequality_loader.hpp"
#include "dira/conf/document.hpp"
#include "dira/conf/issue.hpp"
#include "dira/conf/reader.hpp"
#include "dira/hal/simulated_apparatus.hpp"
#include "dira/station/station.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {

std::atomic<bool> g_station_interrupt{false};
extern "C" void on_station_signal(int) {
  g_station_interrupt.store(true);
}

/// A problem in the station file is a conf::ConfigError (the config toolkit's one issue type:
/// file:line:column, key, message; exit 2). The file is read and parsed by the toolkit too
/// (conf::read_config_file, conf::Reader::parse: duplicate and complex keys, directories, empty or
/// binary files are issues with their positions); the rest stops at the first problem.

struct StationFileReader {
  std::string file;
  std::filesystem::path dir;
  [[noreturn]] void fail(const YAML::Node& n, const std::string& key, const std::string& what) const {
    const auto m = n.Mark();
    throw conf::ConfigError({conf::ConfigIssue{file, m.line + 1, m.column + 1, key, what}});
  }
  template <class T>
  T value(const YAML::Node& root, const std::string& key, const std::string& what) const {
    const auto n = root[key];
    if (!n) fail(root, key, "missing (" + what + ")");
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(n, key, "expected " + what);
    }
  }
  template <class T>
  T value_or(const YAML::Node& root, const std::string& key, T def, const std::string& what) const {
    return root[key] ? value<T>(root, key, what) : def;
  }
  std::filesystem::path path(const YAML::Node& root, const std::string& key) const {
    std::filesystem::path p = value<std::string>(root, key, "a path");
    return p.is_absolute() ? p : dir / p;
  }
};

/// YAML scalars as the driver declares them (type from its capability).
std::map<std::string, hal::SettingValue> driver_settings(const StationFileReader& r, const hal::DriverInfo& d,
                                                         const YAML::Node& node, const std::string& key) {
  std::map<std::string, hal::SettingValue> out;
  if (!node) return out;
  if (!node.IsMap()) r.fail(node, key, "expected a map of driver settings");
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    const hal::Capability* cap = nullptr;
    for (const auto& c : d.capabilities)
      if (c.key == k) cap = &c;
    if (!cap) r.fail(kv.first, key + "." + k, "driver " + d.name + " has no such setting (dira devices lists them)");
    try {
      switch (cap->type) {
        case hal::Capability::Type::boolean:
          out[k] = kv.second.as<bool>();
          break;
        case hal::Capability::Type::integer:
          out[k] = kv.second.as<std::int64_t>();
          break;
        case hal::Capability::Type::real:
          out[k] = kv.second.as<double>();
          break;
        default:
          out[k] = kv.second.as<std::string>();
      }
    } catch (const YAML::Exception&) {
      r.fail(kv.second, key + "." + k, std::string("expected ") + hal::to_string(cap->type));
    }
    if (const auto msg = hal::check_setting(d, k, out[k]); !msg.empty()) r.fail(kv.second, key + "." + k, msg);
  }
  return out;
}

int run_station_file(const std::string& file, const std::string& config_dir, bool as_json) {
  StationFileReader r{file, std::filesystem::path(file).parent_path()};
  YAML::Node root;
  try {
    conf::Reader reader(file);
    root = reader.parse(conf::read_config_file(file));
    reader.throw_if_any();
  } catch (const conf::ConfigError& e) {
    std::cerr << "dira station: invalid station file:\n" << e.what() << "\n";
    return usage_error;
  }
  station::StationConfig sc;
  std::unique_ptr<hal::TimeTagger> tagger;
  std::vector<std::unique_ptr<hal::Modulator>> own_modulators;
  std::unique_ptr<hal::EntropySource> setting_source;
  station::StationDevices dev;
  protocol::Inequality inequality;
  try {
    if (!root.IsMap()) r.fail(root, "station", "a station file is a map (docs/stations.md)");
    sc.name = r.value<std::string>(root, "station", "the station's name, as the coordinator lists it");
    const auto coord = root["coordinator"];
    if (!coord || !coord.IsMap()) r.fail(root, "coordinator", "missing: {endpoint, public_key}");
    sc.coordinator = r.value<std::string>(coord, "endpoint", "a ZeroMQ endpoint, e.g. tcp://10.0.0.1:5555");
    sc.coordinator_key = station::read_public_key_file(r.path(coord, "public_key"));
    sc.key = station::read_secret_key_file(r.path(root, "key"));
    sc.file = r.path(root, "record");
    sc.settings_for = r.value_or<std::vector<int>>(root, "settings_for", {}, "a list of parties");
    sc.heartbeat = std::chrono::milliseconds(r.value_or<std::int64_t>(root, "heartbeat_ms", 200, "milliseconds"));
    sc.coordinator_timeout =
        std::chrono::milliseconds(r.value_or<std::int64_t>(root, "coordinator_timeout_ms", 60000, "milliseconds"));
    sc.clock_offset_ps = r.value_or<std::int64_t>(root, "clock_offset_ps", 0, "picoseconds");
    sc.send_delay = std::chrono::milliseconds(r.value_or<std::int64_t>(root, "send_delay_ms", 0, "milliseconds"));
    if (sc.heartbeat.count() < 10) r.fail(root["heartbeat_ms"], "heartbeat_ms", "at least 10");

    const auto& reg = app::driver_registry();
    const auto tnode = root["tagger"];
    if (!tnode || !tnode.IsMap()) r.fail(root, "tagger", "missing: {driver, settings}");
    const std::string tdriver = r.value<std::string>(tnode, "driver", "a time_tagger driver (dira devices)");
    const auto* tinfo = reg.find(tdriver, hal::DeviceKind::time_tagger);
    if (!tinfo) r.fail(tnode["driver"], "tagger.driver", "no time_tagger driver '" + tdriver + "'");
    auto tsettings = driver_settings(r, *tinfo, tnode["settings"], "tagger.settings");
    try {
      auto d = reg.create(*tinfo, tsettings);
      tagger.reset(dynamic_cast<hal::TimeTagger*>(d.release()));
    } catch (const std::exception& e) {
      r.fail(tnode, "tagger", tdriver + ": " + e.what());
    }
    int parties = 0;
    for (int p : sc.settings_for) parties = std::max(parties, p + 1);
    dev.modulators.assign(static_cast<std::size_t>(parties), nullptr);
    if (auto* app_sim = dynamic_cast<hal::SimulatedApparatus*>(tagger.get())) {
      // A simulated apparatus simulates every party from one seed and keeps its own station's
      // channels; it needs every party's settings (settings_for lists them all). No real
      // station would receive another party's settings: docs/stations.md, "Simulated stations".
      const std::string ineq = r.value<std::string>(root, "inequality", "what the simulated apparatus measures");
      try {
        inequality = app::load_inequality_file(app::resolve_inequality(ineq, config_dir));
      } catch (const std::exception& e) {
        r.fail(root["inequality"], "inequality", e.what());
      }
      hal::ApparatusBinding b;
      b.inequality = &inequality;
      b.trials = r.value<std::uint64_t>(root, "trials", "trials the simulated apparatus runs (the experiment's)");
      try {
        app_sim->bind(b);
      } catch (const std::exception& e) {
        r.fail(tnode, "tagger", e.what());
      }
      // settings_chosen_by: hardware (docs/stations.md): the station's own weak source drives
      // the simulated modulators, as a physical source wired to them would.
      if (const auto snode = root["settings_source"]) {
        if (!snode.IsMap()) r.fail(snode, "settings_source", "expected {driver, settings}: an entropy_source driver");
        const std::string sdriver = r.value<std::string>(snode, "driver", "an entropy_source driver (dira devices)");
        const auto* sinfo = reg.find(sdriver, hal::DeviceKind::entropy_source);
        if (!sinfo) r.fail(snode["driver"], "settings_source.driver", "no entropy_source driver '" + sdriver + "'");
        auto ssettings = driver_settings(r, *sinfo, snode["settings"], "settings_source.settings");
        // A file's path, like the station file's other paths, is relative to the station file.
        if (auto it = ssettings.find("path"); it != ssettings.end())
          if (const auto* path = std::get_if<std::string>(&it->second);
              path && !path->empty() && std::filesystem::path(*path).is_relative())
            it->second = (r.dir / *path).string();
        try {
          auto d = sinfo->create(ssettings);
          setting_source.reset(dynamic_cast<hal::EntropySource*>(d.release()));
        } catch (const std::exception& e) {
          r.fail(snode, "settings_source", sdriver + ": " + e.what());
        }
        if (root["modulators"])
          r.fail(root["modulators"], "modulators", "with settings_source the source drives the simulated modulators");
        dev.setting_source = setting_source.get();
        sc.own_setting_trials = b.trials;
      }
      const auto mods = app_sim->modulators();
      for (int p : sc.settings_for) {
        if (p < 0 || static_cast<std::size_t>(p) >= mods.size())
          r.fail(root["settings_for"], "settings_for", "the simulation has no party " + std::to_string(p));
        dev.modulators[static_cast<std::size_t>(p)] = mods[static_cast<std::size_t>(p)];
      }
    }
    if (root["settings_source"] && !dev.setting_source)
      r.fail(root["settings_source"], "settings_source",
             "simulated apparatus only: a real station's physical source drives its modulators directly (give no "
             "settings_for and no modulators; the setting echo carries the settings)");
    if (const auto mnode = root["modulators"]) {
      for (std::size_t i = 0; i < mnode.size(); ++i) {
        const auto m = mnode[i];
        const std::string key = "modulators[" + std::to_string(i) + "]";
        const int p = r.value<int>(m, "party", "the party whose settings it applies");
        if (p < 0 || p >= parties ||
            std::find(sc.settings_for.begin(), sc.settings_for.end(), p) == sc.settings_for.end())
          r.fail(m, key + ".party", "not in settings_for");
        const std::string md = r.value<std::string>(m, "driver", "a modulator driver");
        const auto* minfo = reg.find(md, hal::DeviceKind::modulator);
        if (!minfo) r.fail(m["driver"], key + ".driver", "no modulator driver '" + md + "'");
        try {
          auto d = reg.create(*minfo, driver_settings(r, *minfo, m["settings"], key + ".settings"));
          own_modulators.emplace_back(dynamic_cast<hal::Modulator*>(d.release()));
        } catch (const conf::ConfigError&) {
          throw;
        } catch (const std::exception& e) {
          r.fail(m, key, md + ": " + e.what());
        }
        dev.modulators[static_cast<std::size_t>(p)] = own_modulators.back().get();
      }
    }
    for (int p : sc.settings_for)
      if (!dev.modulators[static_cast<std::size_t>(p)])
        r.fail(root["settings_for"], "settings_for", "no modulator applies party " + std::to_string(p) + "'s settings");
  } catch (const conf::ConfigError& e) {
    std::cerr << "dira station: invalid station file:\n" << e.what() << "\n";
    return usage_error;
  } catch (const station::KeyError& e) {
    std::cerr << "dira station: " << e.what() << "\n";
    return usage_error;
  }
  dev.tagger = tagger.get();
  struct sigaction sa {};
  sa.sa_handler = on_station_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const std::string name = sc.name;
  auto log = [name](const std::string& line) { std::cerr << "dira station " << name << ": " << line << std::endl; };
  const auto res = station::run_station(sc, dev, log, &g_station_interrupt);
  if (as_json)
    std::cout << nlohmann::json{{"station", sc.name},   {"status", res.status},       {"tags", res.tags},
                                {"blocks", res.blocks}, {"record", sc.file.string()}, {"exit_code", res.exit_code}}
                     .dump(2)
              << "\n";
  else
    std::cout << "station " << sc.name << ": " << res.status << ", " << res.tags << " tags in " << res.blocks
              << " blocks, recorded in " << sc.file.string() << "\n";
  return res.exit_code;
}

}  // namespace

std::function<int()> register_station_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto config_dir = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* c = app.add_subcommand("station",
                               "Run one station of a multi-station experiment: its tagger and modulators, its local "
                               "record, its CurveZMQ link to the coordinator (docs/stations.md)");
  c->add_option("station_file", *file, "Station YAML (docs/stations.md)")->required()->check(CLI::ExistingFile);
  c->add_option("--config-dir", *config_dir, "Extra directory searched for inequalities");
  c->add_flag("--json", *as_json, "JSON summary on stdout when the station ends");
  return [=]() -> int {
    if (!*c) return -1;
    return run_station_file(*file, *config_dir, *as_json);
  };
}

}  // namespace dira::cli
