// `dira station STATION.yaml`: one party (or a group of parties) of an experiment whose
// stations sit on separate machines (docs/stations.md).
#include "commands.hpp"

#include "dira/app/devices.hpp"
#include "dira/app/driver_settings.hpp"
#include "dira/app/inequality_loader.hpp"
#include "dira/conf/document.hpp"
#include "dira/conf/issue.hpp"
#include "dira/conf/reader.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/simulated_apparatus.hpp"
#include "dira/station/station.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <tuple>

namespace dira::cli {

namespace {

std::atomic<bool> g_station_interrupt{false};
extern "C" void on_station_signal(int) {
  g_station_interrupt.store(true);
}

/// Every problem of a station file at once, each a conf::ConfigIssue (file:line:column, key,
/// message; exit 2), read with the config toolkit as the experiment loader reads its files
/// (conf::Reader: duplicate keys, unknown keys with "did you mean", types and ranges). Devices
/// are opened only once the whole file reads cleanly (nothing is opened for a file with a
/// mistake); what only an opened device can say (the driver's factory, a simulated apparatus's
/// parties) is then reported the same way.

/// A device of the station file (`driver:` + `settings:`, the settings read by
/// app::read_driver_settings as in an experiment file), read but not yet created.
struct DeviceEntry {
  const hal::DriverInfo* info = nullptr;
  std::map<std::string, hal::SettingValue> settings;
  YAML::Node node;
  std::string key;
};

/// `{driver: NAME, settings: {…}}` of one device of `kind`.
DeviceEntry read_device(conf::Reader& r, const YAML::Node& node, const std::string& key, hal::DeviceKind kind,
                        std::initializer_list<const char*> allowed = {"driver", "settings"}) {
  DeviceEntry e;
  e.node = node;
  e.key = key;
  if (!node.IsMap()) {
    r.issue(node, key,
            "expected {driver, settings}: a " + std::string(hal::to_string(kind)) + " driver, found " +
                conf::describe(node));
    return e;
  }
  r.allowed_keys(node, key, allowed);
  const auto name = r.string(r.require(node, key, "driver"), key + ".driver");
  if (!name) return e;
  e.info = app::driver_registry().find(*name, kind);
  if (!e.info) {
    std::vector<std::string> known;
    for (const auto* d : app::driver_registry().all())
      if (d->kind == kind) known.push_back(d->name);
    std::string list, near = conf::nearest(*name, known);
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    r.issue(node["driver"], key + ".driver",
            "no " + std::string(hal::to_string(kind)) + " driver '" + *name + "'" +
                (near.empty() ? "" : "; did you mean `" + near + "`?") + " (known: " + list + ")");
    return e;
  }
  if (const auto st = r.section(node, key, "settings", "the driver's settings: dira devices lists them"); st)
    e.settings = app::read_driver_settings(r, *e.info, st, key + ".settings");
  return e;
}

/// Creates a device read by read_device through the registry (its validate, then the driver's
/// factory); what the factory refuses is an issue at the device.
template <class T>
std::unique_ptr<T> create_device(conf::Reader& r, const DeviceEntry& e) {
  try {
    auto d = app::driver_registry().create(*e.info, e.settings);
    std::unique_ptr<T> out(dynamic_cast<T*>(d.get()));
    if (out) d.release();
    return out;
  } catch (const hal::SettingsRefused& x) {  // validate ran when the file was read: not expected here
    for (const auto& [k, msg] : x.problems()) r.issue(e.node, e.key + ".settings." + k, msg);
  } catch (const std::exception& x) {
    r.issue(e.node, e.key, e.info->name + ": " + x.what());
  }
  return nullptr;
}

/// The station file's issues on stderr (and with --json as one JSON object on stdout, the
/// issues listed). Returns 2.
int config_error(const conf::ConfigError& error, bool as_json) {
  auto issues_in_order = error.issues();  // in the order of the file, whatever order they were found in
  std::stable_sort(issues_in_order.begin(), issues_in_order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  const conf::ConfigError e(std::move(issues_in_order));
  std::cerr << "dira station: invalid station file:\n" << e.what() << "\n";
  if (as_json) {
    nlohmann::json issues = nlohmann::json::array();
    for (const auto& i : e.issues())
      issues.push_back(
          {{"file", i.file}, {"line", i.line}, {"column", i.column}, {"key", i.key}, {"message", i.message}});
    std::cout << nlohmann::json{{"error", std::string("invalid station file:\n") + e.what()},
                                {"command", "dira station"},
                                {"issues", issues},
                                {"exit_code", static_cast<int>(usage_error)}}
                     .dump(2)
              << "\n";
  }
  return usage_error;
}

int run_station_file(const std::string& file, const std::string& config_dir, bool as_json) {
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  conf::Reader r(file);
  YAML::Node root;
  try {
    root = r.parse(conf::read_config_file(file));
  } catch (const conf::ConfigError& e) {
    return config_error(e, as_json);
  }
  if (!root.IsMap()) {
    r.issue(root, "", "a station file is a map (docs/stations.md), found " + conf::describe(root));
    return config_error(conf::ConfigError(r.issues()), as_json);
  }
  r.allowed_keys(
      root, "",
      {"station", "coordinator", "key", "record", "settings_for", "heartbeat_ms", "coordinator_timeout_ms",
       "clock_offset_ps", "send_delay_ms", "inequality", "trials", "tagger", "settings_source", "modulators"});
  auto path = [&](const YAML::Node& map, const std::string& parent, const char* key) {
    const auto s = r.string(r.require(map, parent, key), conf::Reader::join(parent, key));
    if (!s) return std::optional<std::filesystem::path>();
    const std::filesystem::path p(*s);
    return std::optional<std::filesystem::path>(p.is_absolute() ? p : dir / p);
  };
  auto milliseconds = [&](const char* key, long long lo, long long hi, std::chrono::milliseconds def) {
    const auto v = r.integer(root[key], key, lo, hi);
    return v ? std::chrono::milliseconds(*v) : def;
  };

  // 1. The file alone: every key, every driver's settings through the registry's validate.
  station::StationConfig sc;
  sc.name = r.string(r.require(root, "", "station"), "station").value_or("");
  if (const auto coord = r.require(root, "", "coordinator"); coord.IsDefined() && !coord.IsMap()) {
    r.issue(coord, "coordinator", "expected {endpoint, public_key}, found " + conf::describe(coord));
  } else if (coord.IsDefined()) {
    r.allowed_keys(coord, "coordinator", {"endpoint", "public_key"});
    sc.coordinator = r.string(r.require(coord, "coordinator", "endpoint"), "coordinator.endpoint").value_or("");
    if (const auto p = path(coord, "coordinator", "public_key")) try {
        sc.coordinator_key = station::read_public_key_file(*p);
      } catch (const station::KeyError& e) {
        r.issue(coord["public_key"], "coordinator.public_key", e.what());
      }
  }
  if (const auto p = path(root, "", "key")) try {
      sc.key = station::read_secret_key_file(*p);
    } catch (const station::KeyError& e) {
      r.issue(root["key"], "key", e.what());
    }
  if (const auto p = path(root, "", "record")) sc.file = *p;
  if (const auto sf = root["settings_for"]; sf.IsDefined() && !sf.IsSequence()) {
    r.issue(sf, "settings_for", "expected a list of parties, found " + conf::describe(sf));
  } else if (sf.IsDefined()) {
    for (std::size_t i = 0; i < sf.size(); ++i)
      if (const auto p = r.integer(sf[i], conf::Reader::idx("settings_for", i), 0, 63)) {
        if (std::find(sc.settings_for.begin(), sc.settings_for.end(), static_cast<int>(*p)) != sc.settings_for.end())
          r.issue(sf[i], conf::Reader::idx("settings_for", i), "party " + std::to_string(*p) + " is listed twice");
        else
          sc.settings_for.push_back(static_cast<int>(*p));
      }
  }
  sc.heartbeat = milliseconds("heartbeat_ms", 10, 3'600'000, sc.heartbeat);
  sc.coordinator_timeout = milliseconds("coordinator_timeout_ms", 1, 86'400'000, sc.coordinator_timeout);
  sc.send_delay = milliseconds("send_delay_ms", 0, 3'600'000, sc.send_delay);
  sc.clock_offset_ps = r.integer(root["clock_offset_ps"], "clock_offset_ps").value_or(0);
  protocol::Inequality inequality;
  bool have_inequality = false;
  if (const auto name = r.string(root["inequality"], "inequality")) try {
      inequality = app::load_inequality_file(app::resolve_inequality(*name, config_dir));
      have_inequality = true;
    } catch (const conf::ConfigError& e) {  // the inequality file's own issues, at their lines
      for (const auto& i : e.issues()) r.issues().push_back(i);
    } catch (const std::exception& e) {
      r.issue(root["inequality"], "inequality", e.what());
    }
  const auto trials = r.whole(root["trials"], "trials", 0, 1'000'000'000'000'000LL);  // 0: until stopped

  DeviceEntry tagger_entry;
  if (const auto t = r.require(root, "", "tagger"); t.IsDefined())
    tagger_entry = read_device(r, t, "tagger", hal::DeviceKind::time_tagger);
  DeviceEntry source_entry;
  if (const auto s = root["settings_source"]; s.IsDefined()) {
    source_entry = read_device(r, s, "settings_source", hal::DeviceKind::entropy_source);
    // A file's path, like the station file's other paths, is relative to the station file.
    if (auto it = source_entry.settings.find("path"); it != source_entry.settings.end())
      if (const auto* p = std::get_if<std::string>(&it->second);
          p && !p->empty() && std::filesystem::path(*p).is_relative())
        it->second = (dir / *p).string();
    if (root["modulators"])
      r.issue(root["modulators"], "modulators", "with settings_source the source drives the modulators");
  }
  std::vector<std::pair<int, DeviceEntry>> modulator_entries;  // (party, device)
  if (const auto mnode = root["modulators"]; mnode.IsDefined() && !mnode.IsSequence()) {
    r.issue(mnode, "modulators", "expected a list of {party, driver, settings}, found " + conf::describe(mnode));
  } else if (mnode.IsDefined()) {
    for (std::size_t i = 0; i < mnode.size(); ++i) {
      const auto m = mnode[i];
      const std::string key = conf::Reader::idx("modulators", i);
      auto e = read_device(r, m, key, hal::DeviceKind::modulator, {"party", "driver", "settings"});
      if (!m.IsMap()) continue;
      const auto p = r.integer(r.require(m, key, "party"), key + ".party", 0, 63);
      if (!p) continue;
      if (std::find(sc.settings_for.begin(), sc.settings_for.end(), static_cast<int>(*p)) == sc.settings_for.end())
        r.issue(m["party"], key + ".party", "party " + std::to_string(*p) + " is not in settings_for");
      for (const auto& [q, other] : modulator_entries)
        if (q == *p) r.issue(m["party"], key + ".party", "party " + std::to_string(*p) + " has a modulator already");
      modulator_entries.emplace_back(static_cast<int>(*p), std::move(e));
    }
  }
  if (!r.ok()) return config_error(conf::ConfigError(r.issues()), as_json);

  // 2. The devices, through the registry (validate, then the driver's factory).
  std::unique_ptr<hal::TimeTagger> tagger = create_device<hal::TimeTagger>(r, tagger_entry);
  std::vector<std::unique_ptr<hal::Modulator>> own_modulators;
  std::unique_ptr<hal::EntropySource> setting_source;
  station::StationDevices dev;
  int parties = 0;
  for (int p : sc.settings_for) parties = std::max(parties, p + 1);
  dev.modulators.assign(static_cast<std::size_t>(parties), nullptr);
  if (auto* app_sim = dynamic_cast<hal::SimulatedApparatus*>(tagger.get())) {
    // A simulated apparatus simulates every party from one seed and keeps its own station's
    // channels; it needs every party's settings (settings_for lists them all). No real
    // station would receive another party's settings: docs/stations.md, "Simulated stations".
    if (!have_inequality) r.issue(root, "inequality", "missing (what the simulated apparatus measures)");
    if (!trials) r.issue(root, "trials", "missing (trials the simulated apparatus runs: the experiment's)");
    if (have_inequality && trials) {
      hal::ApparatusBinding b;
      b.inequality = &inequality;
      b.trials = static_cast<std::uint64_t>(*trials);
      try {
        app_sim->bind(b);
      } catch (const std::exception& e) {
        r.issue(tagger_entry.node, "tagger", e.what());
      }
      // settings_chosen_by: hardware (docs/stations.md): the station's own weak source drives
      // the simulated modulators, as a physical source wired to them would.
      if (source_entry.info) {
        setting_source = create_device<hal::EntropySource>(r, source_entry);
        dev.setting_source = setting_source.get();
        sc.own_setting_trials = b.trials;
      }
    }
    const auto mods = app_sim->modulators();
    for (std::size_t i = 0; i < sc.settings_for.size(); ++i) {
      const int p = sc.settings_for[i];
      if (static_cast<std::size_t>(p) >= mods.size())
        r.issue(root["settings_for"][i], conf::Reader::idx("settings_for", i),
                "the simulation has no party " + std::to_string(p));
      else
        dev.modulators[static_cast<std::size_t>(p)] = mods[static_cast<std::size_t>(p)];
    }
  } else if (tagger && source_entry.info) {
    r.issue(root["settings_source"], "settings_source",
            "simulated apparatus only: a real station's physical source drives its modulators directly (give no "
            "settings_for and no modulators; the setting echo carries the settings)");
  }
  for (const auto& [p, e] : modulator_entries) {
    if (!e.info) continue;
    if (auto m = create_device<hal::Modulator>(r, e)) {
      dev.modulators[static_cast<std::size_t>(p)] = m.get();
      own_modulators.push_back(std::move(m));
    }
  }
  if (tagger)
    for (std::size_t i = 0; i < sc.settings_for.size(); ++i)
      if (!dev.modulators[static_cast<std::size_t>(sc.settings_for[i])])
        r.issue(root["settings_for"][i], conf::Reader::idx("settings_for", i),
                "no modulator applies party " + std::to_string(sc.settings_for[i]) + "'s settings");
  if (!r.ok()) return config_error(conf::ConfigError(r.issues()), as_json);
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
