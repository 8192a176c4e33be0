#include "dira/app/experiment.hpp"

#include "dira/app/devices.hpp"
#include "dira/app/driver_settings.hpp"
#include "dira/app/inequality_loader.hpp"
#include "dira/protocol/security_b.hpp"

#include "dira/conf/document.hpp"
#include "dira/conf/reader.hpp"

#include <cmath>
#include <sstream>

namespace dira::app {

using conf::Reader;

namespace {

double positive_fraction(Reader& r, const YAML::Node& n, const std::string& key, double lo, double hi, bool open_lo,
                         bool open_hi, double fallback) {
  if (!n.IsDefined()) return fallback;
  auto v = r.number(n, key);
  if (!v) return fallback;
  const bool ok = (open_lo ? *v > lo : *v >= lo) && (open_hi ? *v < hi : *v <= hi);
  if (!ok) {
    std::ostringstream os;
    os << "must be in " << (open_lo ? "(" : "[") << lo << ", " << hi << (open_hi ? ")" : "]") << ", got " << *v;
    r.issue(n, key, os.str());
    return fallback;
  }
  return *v;
}

std::uint64_t count(Reader& r, const YAML::Node& n, const std::string& key, std::uint64_t fallback) {
  if (!n.IsDefined()) return fallback;
  auto v = r.number(n, key);  // accepts 1e6
  if (!v) return fallback;
  if (!(*v >= 1) || *v > 1e15 || std::floor(*v) != *v) {
    r.issue(n, key, "must be a whole number between 1 and 1e15");
    return fallback;
  }
  return static_cast<std::uint64_t>(*v);
}

}  // namespace

namespace {

/// `driver: NAME` + `settings: {…}` of one device of the given kind.
DeviceConfig read_device(Reader& r, const YAML::Node& node, const std::string& path, hal::DeviceKind kind) {
  DeviceConfig d;
  if (!node.IsMap()) {
    r.issue(node, path, "expected driver: and settings:");
    return d;
  }
  r.allowed_keys(node, path, {"driver", "settings"});
  d.driver = r.string(node["driver"], path + ".driver").value_or("");
  const hal::DriverInfo* info = d.driver.empty() ? nullptr : driver_registry().find(d.driver, kind);
  if (!d.driver.empty() && !info) {
    std::string known;
    for (const auto* di : driver_registry().all())
      if (di->kind == kind) known += (known.empty() ? "" : ", ") + di->name;
    r.issue(node["driver"], path + ".driver",
            "no " + std::string(hal::to_string(kind)) + " driver '" + d.driver + "' (known: " + known + ")");
  }
  if (d.driver.empty() && !node["driver"]) r.issue(node, path + ".driver", "missing");
  if (const YAML::Node st = node["settings"]; st.IsDefined()) {
    if (!st.IsMap())
      r.issue(st, path + ".settings", "expected a map of settings (dira devices lists them)");
    else if (info)
      d.settings = read_driver_settings(r, *info, st, path + ".settings");
  }
  return d;
}

std::vector<int> read_channels(Reader& r, const YAML::Node& n, const std::string& path) {
  std::vector<int> out;
  if (!n.IsSequence()) {
    r.issue(n, path, "expected a list of channel numbers");
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto x = r.number(n[i], path + "[" + std::to_string(i) + "]");
    if (!x) continue;
    if (*x < 0 || *x > 4095 || std::floor(*x) != *x)
      r.issue(n[i], path + "[" + std::to_string(i) + "]", "a channel is a whole number 0…4095");
    else
      out.push_back(static_cast<int>(*x));
  }
  return out;
}

/// devices: {tagger, layout, modulators} — a tagger from any driver, the channel layout trial
/// assembly needs for it (hal::TrialAssemblyConfig), and optionally one modulator per party.
/// `stations_follow`: the experiment has a `stations:` section, which supplies the tagger and
/// layout; the checks on them are made there (read_stations).
void read_devices(Reader& r, const YAML::Node& dev, ExperimentConfig& c, bool stations_follow) {
  if (!dev.IsMap()) {
    r.issue(dev, "devices", "expected tagger:, layout: and optionally modulators:");
    return;
  }
  r.allowed_keys(dev, "devices", {"tagger", "layout", "modulators", "scheduler", "settings_chosen_by"});
  if (const YAML::Node by = dev["settings_chosen_by"]; by.IsDefined()) {
    const auto v = r.string(by, "devices.settings_chosen_by").value_or("dira");
    if (v == "hardware")
      c.devices.hardware_chosen_settings = true;
    else if (v != "dira")
      r.issue(by, "devices.settings_chosen_by", "must be dira or hardware, got '" + v + "'");
  }
  if (const YAML::Node sch = dev["scheduler"]; sch.IsDefined()) {
    if (!sch.IsMap()) {
      r.issue(sch, "devices.scheduler", "expected lookahead:, batch: and/or segment_trials:");
    } else {
      r.allowed_keys(sch, "devices.scheduler", {"lookahead", "batch", "segment_trials"});
      auto& S = c.devices.scheduler;
      if (sch["lookahead"]) S.lookahead = count(r, sch["lookahead"], "devices.scheduler.lookahead", S.lookahead);
      if (sch["batch"]) S.batch = count(r, sch["batch"], "devices.scheduler.batch", S.batch);
      if (sch["segment_trials"])
        S.segment_trials = count(r, sch["segment_trials"], "devices.scheduler.segment_trials", 0);
    }
  }
  // A tagger (with its layout) replaces the simulator; modulators alone go with either.
  c.devices.present = dev["tagger"].IsDefined();
  if (c.devices.present)
    c.devices.tagger = read_device(r, dev["tagger"], "devices.tagger", hal::DeviceKind::time_tagger);
  else if (dev["layout"])
    r.issue(dev["layout"], "devices.layout", "a layout belongs to devices.tagger (the simulator has its own)");
  const int parties = c.inequality.expression.scenario().parties();
  const YAML::Node lay = dev["layout"];
  if (!c.devices.present) {
  } else if (!lay) {
    r.issue(dev, "devices.layout",
            "missing: trial assembly needs the sync channel, the detector channels per party and the windows");
  } else if (!lay.IsMap()) {
    r.issue(lay, "devices.layout", "expected a map");
  } else {
    r.allowed_keys(lay, "devices.layout",
                   {"sync_channel", "sync_period_ps", "detectors", "echoes", "detection_offset_ps",
                    "detection_width_ps", "echo_offset_ps", "echo_width_ps", "reorder_window_ps", "fair_sampling"});
    auto& L = c.devices.layout;
    auto integer = [&](const char* key, std::int64_t lo, bool required,
                       std::int64_t hi = std::int64_t{1} << 62) -> std::int64_t {
      const std::string path = std::string("devices.layout.") + key;
      if (!lay[key]) {
        if (required) r.issue(lay, path, "missing");
        return 0;
      }
      // Picoseconds and channels: bounded well inside int64 before the conversion.
      return r.whole(lay[key], path, lo, hi).value_or(0);
    };
    const int sync = static_cast<int>(integer("sync_channel", 0, true, 4095));
    L.sync_period_ps = integer("sync_period_ps", 1, true);
    L.detection_offset_ps = integer("detection_offset_ps", 0, true);
    L.detection_width_ps = integer("detection_width_ps", 1, true);
    L.echo_offset_ps = integer("echo_offset_ps", 0, false);
    L.echo_width_ps = integer("echo_width_ps", 0, false);
    L.reorder_window_ps = integer("reorder_window_ps", 0, false);
    if (lay["fair_sampling"])
      L.fair_sampling = r.boolean(lay["fair_sampling"], "devices.layout.fair_sampling").value_or(false);
    std::vector<std::vector<int>> det, echo;
    if (const YAML::Node d = lay["detectors"]; !d) {
      r.issue(lay, "devices.layout.detectors", "missing: one list of detector channels per party (index = outcome)");
    } else if (!d.IsSequence() || static_cast<int>(d.size()) != parties) {
      r.issue(d, "devices.layout.detectors", "expected one list per party (" + std::to_string(parties) + " parties)");
    } else {
      for (std::size_t p = 0; p < d.size(); ++p) {
        det.push_back(read_channels(r, d[p], "devices.layout.detectors[" + std::to_string(p) + "]"));
        const int outcomes = c.inequality.expression.scenario().outcomes(static_cast<int>(p));
        if (static_cast<int>(det.back().size()) != outcomes)
          r.issue(d[p], "devices.layout.detectors[" + std::to_string(p) + "]",
                  "expected " + std::to_string(outcomes) + " channels (one per outcome of party " + std::to_string(p) +
                      ")");
      }
    }
    if (const YAML::Node e = lay["echoes"]; e) {
      if (!e.IsSequence() || static_cast<int>(e.size()) != parties) {
        r.issue(e, "devices.layout.echoes", "expected one list per party (" + std::to_string(parties) + " parties)");
      } else {
        for (std::size_t p = 0; p < e.size(); ++p) {
          echo.push_back(read_channels(r, e[p], "devices.layout.echoes[" + std::to_string(p) + "]"));
          const int settings = c.inequality.expression.scenario().settings(static_cast<int>(p));
          if (static_cast<int>(echo.back().size()) != settings)
            r.issue(e[p], "devices.layout.echoes[" + std::to_string(p) + "]",
                    "expected " + std::to_string(settings) + " channels (one per setting of party " +
                        std::to_string(p) + ")");
        }
        if (lay["echoes"] && L.echo_width_ps <= 0) r.issue(lay, "devices.layout.echo_width_ps", "needed with echoes");
      }
    }
    for (int p = 0; p < parties && static_cast<std::size_t>(p) < det.size(); ++p) {
      hal::StationLayout sl;
      sl.station = 0;  // one tagger delivers every party's tags
      sl.sync_channel = sync;
      sl.detector_channels = det[static_cast<std::size_t>(p)];
      if (static_cast<std::size_t>(p) < echo.size()) sl.echo_channels = echo[static_cast<std::size_t>(p)];
      L.parties.push_back(sl);
    }
    if (r.ok() && static_cast<int>(L.parties.size()) == parties) {
      try {
        hal::validate(L);
      } catch (const std::exception& ex) {
        r.issue(lay, "devices.layout", ex.what());
      }
    }
  }
  if (const YAML::Node mods = dev["modulators"]; mods) {
    if (!mods.IsSequence() || static_cast<int>(mods.size()) != parties) {
      r.issue(mods, "devices.modulators",
              "expected one modulator per party, in party order (" + std::to_string(parties) + ")");
    } else {
      for (std::size_t p = 0; p < mods.size(); ++p)
        c.devices.modulators.push_back(
            read_device(r, mods[p], "devices.modulators[" + std::to_string(p) + "]", hal::DeviceKind::modulator));
    }
  }
  if (c.devices.hardware_chosen_settings) {
    // The settings are read from the echo channels, one weak-source bit per party and trial:
    // the setting rule must be the identity on single bits (Protocol A; not B's rejection
    // sampling, which the hardware cannot be seen doing).
    if (c.protocol == 'B')
      r.issue(
          dev["settings_chosen_by"], "devices.settings_chosen_by",
          "hardware-chosen settings need one weak-source bit per party's setting (Protocols A and C); Protocol B draws "
          "its settings by rejection sampling, which dira must do itself");
    if (!stations_follow && (c.devices.layout.parties.empty() || c.devices.layout.parties[0].echo_channels.empty()))
      r.issue(dev["settings_chosen_by"], "devices.settings_chosen_by",
              "hardware-chosen settings are read from the setting echo: give devices.layout.echoes");
    if (dev["modulators"])
      r.issue(dev["modulators"], "devices.modulators",
              "with hardware-chosen settings the weak source drives the modulators, not dira: remove modulators");
  }
}

/// A path from the experiment file, relative to the file's directory (absolute paths as given).
std::filesystem::path beside(const Reader& r, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || p.empty()) return p;
  return (std::filesystem::path(r.file()).parent_path() / p).lexically_normal();
}

/// stations: {listen, key, …, layout, members} — the experiment's parties on separate stations
/// (docs/stations.md). Fills `c.devices` with what the coordinator runs: the `stations` tagger
/// with the members' keys, the merged layout (station s's channel ch is s · 256 + ch; station
/// 0's sync is the merged sync) and one `station_modulator` per party.
void read_stations(Reader& r, const YAML::Node& st, const YAML::Node& doc, ExperimentConfig& c) {
  if (!st.IsMap()) {
    r.issue(st, "stations",
            "expected listen:, key:, layout: and members: (docs/stations.md), found " + conf::describe(st));
    return;
  }
  r.allowed_keys(st, "stations",
                 {"listen", "key", "heartbeat_ms", "station_timeout_ms", "connect_timeout_ms", "health_file",
                  "state_theta", "alice_angle_0", "alice_angle_1", "bob_angle_0", "bob_angle_1", "layout", "members"});
  if (c.simulator.present)
    r.issue(doc["simulator"], "simulator", "give either simulator: or stations:, not both (the stations simulate)");
  if (c.devices.present)
    r.issue(doc["devices"]["tagger"], "devices.tagger",
            "give either stations: or devices.tagger, not both (stations: is the coordinator's tagger)");
  if (const YAML::Node dev = doc["devices"]; dev.IsDefined() && dev.IsMap() && dev["modulators"])
    r.issue(dev["modulators"], "devices.modulators",
            "with stations: each station drives its own modulators (its station file); remove these");
  auto& S = c.stations;
  S.present = true;
  const hal::DriverInfo* info = driver_registry().find("stations", hal::DeviceKind::time_tagger);
  if (!info) {
    r.issue(st, "stations", "this dira was built without the stations driver");
    return;
  }
  // Typed and range-checked as the driver declares them (the same messages as devices.tagger.settings).
  YAML::Node typed(YAML::NodeType::Map);
  for (const char* k : {"listen", "heartbeat_ms", "station_timeout_ms", "connect_timeout_ms", "state_theta",
                        "alice_angle_0", "alice_angle_1", "bob_angle_0", "bob_angle_1"})
    if (st[k]) typed[k] = st[k];
  DeviceConfig tagger;
  tagger.driver = "stations";
  tagger.settings = read_driver_settings(r, *info, typed, "stations");
  if (const auto l = r.string(r.require(st, "stations", "listen"), "stations.listen")) S.listen = *l;
  if (const auto k = r.string(r.require(st, "stations", "key"), "stations.key")) {
    S.key = beside(r, *k);
    tagger.settings["key"] = S.key.string();
  }
  if (st["health_file"])
    if (const auto h = r.string(st["health_file"], "stations.health_file"))
      tagger.settings["health_file"] = beside(r, *h).string();

  const auto& sc = c.inequality.expression.scenario();
  const int parties = c.inequality.name.empty() ? 0 : sc.parties();
  auto& L = c.devices.layout;
  const YAML::Node lay = r.require(st, "stations", "layout");
  if (lay.IsDefined() && !lay.IsMap()) r.issue(lay, "stations.layout", "expected a map (sync_channel:, …)");
  if (lay.IsMap()) {
    r.allowed_keys(lay, "stations.layout",
                   {"sync_channel", "sync_period_ps", "detection_offset_ps", "detection_width_ps", "echo_offset_ps",
                    "echo_width_ps", "reorder_window_ps", "fair_sampling"});
    auto integer = [&](const char* key, std::int64_t lo, bool required, std::int64_t hi) -> std::int64_t {
      const std::string path = std::string("stations.layout.") + key;
      if (!lay[key]) {
        if (required) r.issue(lay, path, "missing");
        return 0;
      }
      return r.whole(lay[key], path, lo, hi).value_or(0);
    };
    constexpr std::int64_t big = std::int64_t{1} << 62;
    S.sync_channel = static_cast<int>(integer("sync_channel", 0, true, StationsConfig::channel_stride - 1));
    L.sync_period_ps = integer("sync_period_ps", 1, true, big);
    L.detection_offset_ps = integer("detection_offset_ps", 0, true, big);
    L.detection_width_ps = integer("detection_width_ps", 1, true, big);
    L.echo_offset_ps = integer("echo_offset_ps", 0, false, big);
    L.echo_width_ps = integer("echo_width_ps", 0, false, big);
    L.reorder_window_ps = integer("reorder_window_ps", 0, false, big);
    if (lay["fair_sampling"])
      L.fair_sampling = r.boolean(lay["fair_sampling"], "stations.layout.fair_sampling").value_or(false);
  }
  tagger.settings["sync_channel"] = std::int64_t{S.sync_channel};

  // Members: who records which party, in its own channel numbering.
  std::vector<std::vector<int>> det(static_cast<std::size_t>(parties)), echo(static_cast<std::size_t>(parties));
  std::vector<int> owner(static_cast<std::size_t>(parties), -1);
  bool any_echoes = false, all_echoes = true;
  const YAML::Node mem = r.require(st, "stations", "members");
  constexpr std::size_t kMaxStations = 4096 / StationsConfig::channel_stride;  // merged channels stay ≤ 4095
  if (mem.IsDefined() && (!mem.IsSequence() || mem.size() == 0 || mem.size() > kMaxStations))
    r.issue(mem, "stations.members",
            "expected a list of 1 to " + std::to_string(kMaxStations) +
                " stations ({name:, public_key:, parties:, detectors:}), in station order");
  std::string list;
  if (mem.IsSequence() && mem.size() <= kMaxStations)
    for (std::size_t i = 0; i < mem.size(); ++i) {
      const std::string path = Reader::idx("stations.members", i);
      const YAML::Node m = mem[i];
      if (!m.IsMap()) {
        r.issue(m, path, "expected name:, public_key:, parties: and detectors:, found " + conf::describe(m));
        continue;
      }
      r.allowed_keys(m, path, {"name", "public_key", "parties", "detectors", "echoes"});
      StationMember sm;
      if (const auto n = r.string(r.require(m, path, "name"), path + ".name")) {
        sm.name = *n;
        if (sm.name.empty() || sm.name.find_first_of(",= \t") != std::string::npos)
          r.issue(m["name"], path + ".name", "a station name is one word without ',' or '='");
        for (const auto& o : S.members)
          if (o.name == sm.name) r.issue(m["name"], path + ".name", "station '" + sm.name + "' is listed twice");
      }
      if (const auto k = r.string(r.require(m, path, "public_key"), path + ".public_key"))
        sm.public_key = beside(r, *k);
      const YAML::Node ps = r.require(m, path, "parties");
      if (ps.IsDefined() && (!ps.IsSequence() || ps.size() == 0)) {
        r.issue(ps, path + ".parties", "expected a list of the parties this station records, e.g. [0]");
      } else if (ps.IsSequence()) {
        for (std::size_t j = 0; j < ps.size(); ++j) {
          const auto q = r.whole(ps[j], Reader::idx(path + ".parties", j), 0, 255);
          if (!q) continue;
          const int party = static_cast<int>(*q);
          if (party >= parties) {
            r.issue(ps[j], Reader::idx(path + ".parties", j),
                    "the inequality has parties 0…" + std::to_string(parties - 1) + ", not " + std::to_string(party));
            continue;
          }
          if (owner[static_cast<std::size_t>(party)] >= 0) {
            r.issue(ps[j], Reader::idx(path + ".parties", j),
                    "party " + std::to_string(party) + " is already recorded by station " +
                        S.members[static_cast<std::size_t>(owner[static_cast<std::size_t>(party)])].name);
            continue;
          }
          owner[static_cast<std::size_t>(party)] = static_cast<int>(i);
          sm.parties.push_back(party);
        }
      }
      // Channel lists, one per party in `parties` order, in the station's own numbering.
      auto lists = [&](const char* key, bool required, bool echoes) {
        const YAML::Node n = m[key];
        const std::string kp = path + "." + key;
        if (!n) {
          if (required) r.issue(m, kp, "missing: one list of channels per party in parties");
          return false;
        }
        if (!n.IsSequence() || n.size() != sm.parties.size()) {
          r.issue(n, kp,
                  "expected one list of channels per party in parties (" + std::to_string(sm.parties.size()) + ")");
          return true;
        }
        for (std::size_t j = 0; j < n.size(); ++j) {
          const std::string lp = Reader::idx(kp, j);
          auto ch = read_channels(r, n[j], lp);
          const int party = sm.parties[j];
          const int want = echoes ? sc.settings(party) : sc.outcomes(party);
          if (static_cast<int>(ch.size()) != want)
            r.issue(n[j], lp,
                    "expected " + std::to_string(want) + " channels (one per " + (echoes ? "setting" : "outcome") +
                        " of party " + std::to_string(party) + ")");
          for (int& x : ch) {
            if (x >= StationsConfig::channel_stride)
              r.issue(n[j], lp,
                      "a station's channel is 0…" + std::to_string(StationsConfig::channel_stride - 1) + ", not " +
                          std::to_string(x));
            x += static_cast<int>(i) * StationsConfig::channel_stride;
          }
          (echoes ? echo : det)[static_cast<std::size_t>(party)] = ch;
        }
        return true;
      };
      if (sm.parties.size() == (ps.IsSequence() ? ps.size() : 0) && !sm.parties.empty()) {
        lists("detectors", true, false);
        const bool e = lists("echoes", false, true);
        any_echoes = any_echoes || e;
        all_echoes = all_echoes && e;
      }
      list += (list.empty() ? "" : ", ") + sm.name + "=" + sm.public_key.string();
      S.members.push_back(std::move(sm));
    }
  tagger.settings["stations"] = list;
  if (mem.IsSequence() && r.ok())
    for (int p = 0; p < parties; ++p)
      if (owner[static_cast<std::size_t>(p)] < 0)
        r.issue(mem, "stations.members",
                "no station records party " + std::to_string(p) + " (add it to a parties: list)");
  if (any_echoes && !all_echoes) r.issue(mem, "stations.members", "echoes: give them for every station or for none");
  if (any_echoes && L.echo_width_ps <= 0) r.issue(lay, "stations.layout.echo_width_ps", "needed with echoes");
  // Hardware-chosen settings (each station's own physical source drives its modulator; the
  // loophole-free arrangement) are read from the setting echo: every station gives its echoes.
  if (c.devices.hardware_chosen_settings && !any_echoes)
    r.issue(mem, "stations.members",
            "devices.settings_chosen_by: hardware reads each party's setting from its echo channels: give echoes: "
            "for every station");
  if (!r.ok()) return;
  for (int p = 0; p < parties; ++p) {
    hal::StationLayout sl;
    sl.station = 0;                    // the merged stream is one tagger's
    sl.sync_channel = S.sync_channel;  // station 0's sync: the others align to it and are dropped
    sl.detector_channels = det[static_cast<std::size_t>(p)];
    if (any_echoes) sl.echo_channels = echo[static_cast<std::size_t>(p)];
    L.parties.push_back(sl);
  }
  try {
    hal::validate(L);
  } catch (const std::exception& ex) {
    r.issue(lay, "stations.layout", ex.what());
  }
  c.devices.present = true;
  c.devices.tagger = std::move(tagger);
  if (!c.devices.hardware_chosen_settings)
    for (int p = 0; p < parties; ++p)
      c.devices.modulators.push_back(
          DeviceConfig{"station_modulator", {{"coordinator", S.listen}, {"party", std::int64_t{p}}}});
}

}  // namespace

namespace {
ExperimentConfig read_experiment(Reader& r, const YAML::Node& doc, std::string_view yaml,
                                 const std::filesystem::path& config_dir);
}  // namespace
protocol::ProtocolBSecurityInput protocol_b_security_input(const ExperimentConfig& c, double trials) {
  protocol::ProtocolBSecurityInput in;
  in.epsilon = c.epsilon;
  in.trials = trials;
  in.delta = c.b.delta;
  in.mu1 = c.b.mu1;
  in.u_star = c.b.u_star;
  in.kappa = c.b_accounting.kappa;
  in.delta_az = c.b_accounting.delta_az;
  in.tau = c.b_accounting.tau;
  return in;
}

ExperimentConfig load_experiment_text(std::string_view yaml, const std::string& file,
                                      const std::filesystem::path& config_dir) {
  Reader r(file);
  const YAML::Node doc = r.parse(yaml);
  if (!doc.IsMap()) {
    r.issue(
        doc, "",
        "expected a YAML map at the top level (inequality:, protocol:, weak_source:, …), found " + conf::describe(doc));
    throw ConfigError(r.issues());
  }
  // Whatever yaml-cpp still throws on a node shape the checks did not foresee is a config error
  // with a position, never a library exception (issue 12).
  try {
    return read_experiment(r, doc, yaml, config_dir);
  } catch (const YAML::Exception& e) {
    r.issues().push_back(ConfigIssue{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                                     e.mark.is_null() ? 0 : e.mark.column + 1, "", "YAML: " + e.msg});
    throw ConfigError(r.issues());
  }
}

namespace {

ExperimentConfig read_experiment(Reader& r, const YAML::Node& doc, std::string_view yaml,
                                 const std::filesystem::path& config_dir) {
  ExperimentConfig c;
  c.file = r.file();
  r.allowed_keys(doc, "",
                 {"name", "inequality", "protocol", "weak_source", "security_target", "simulator", "devices",
                  "stations", "stop", "outputs", "hardware"});
  c.text = std::string(yaml);
  c.name = doc["name"] ? r.string(doc["name"], "name").value_or("") : "";
  c.security_target = positive_fraction(r, doc["security_target"], "security_target", 0, 1, true, true, 1e-6);

  const YAML::Node in = r.require(doc, "", "inequality");
  if (in.IsDefined()) {
    if (auto name = r.string(in, "inequality")) {
      c.inequality_name = *name;
      try {
        c.inequality = load_inequality_file(resolve_inequality(*name, config_dir));
      } catch (const UnknownInequality& e) {
        r.issue(in, "inequality", e.what());
      } catch (const ConfigError& e) {
        for (const auto& i : e.issues()) r.issues().push_back(i);
      }
    }
  }

  const YAML::Node p = r.require(doc, "", "protocol");
  if (p.IsDefined() && !p.IsMap()) r.issue(p, "protocol", "expected a map with kind: A, B or C and its parameters");
  if (p.IsMap()) {
    const auto kind = r.string(r.require(p, "protocol", "kind"), "protocol.kind");
    // The one ε (seed 000 and 001: the SV parameter of the source): [0, ½) for A and B; Protocol
    // C's PEF settings model needs ε > 0 (docs/protocol-c-security.md).
    const bool c_kind = kind == "C";
    c.epsilon = positive_fraction(r, p["epsilon"], "protocol.epsilon", 0, 0.5, c_kind, true, c_kind ? 1e-3 : 0.01);
    if (p["demonstration"]) c.demonstration = r.boolean(p["demonstration"], "protocol.demonstration").value_or(false);
    const bool have_ineq = !c.inequality.name.empty();
    if (kind == "A") {
      c.protocol = 'A';
      r.allowed_keys(p, "protocol",
                     {"kind", "epsilon", "delta", "mu", "devices", "uses_per_device", "majority_parties",
                      "device_mapping", "demonstration"});
      auto& a = c.a;
      a.delta = positive_fraction(r, p["delta"], "protocol.delta", 0, 8, true, false, a.delta);
      a.mu = positive_fraction(r, p["mu"], "protocol.mu", 0, 1, true, true, a.mu);
      a.devices = static_cast<int>(count(r, p["devices"], "protocol.devices", static_cast<std::uint64_t>(a.devices)));
      if (const YAML::Node u = p["uses_per_device"]; u.IsDefined()) {
        if (u.IsSequence()) {
          if (static_cast<int>(u.size()) != a.devices)
            r.issue(u, "protocol.uses_per_device", "needs one entry per device (" + std::to_string(a.devices) + ")");
          for (std::size_t i = 0; i < u.size(); ++i)
            c.uses_per_device.push_back(count(r, u[i], Reader::idx("protocol.uses_per_device", i), 1));
        } else {
          c.uses_per_device.assign(static_cast<std::size_t>(a.devices), count(r, u, "protocol.uses_per_device", 1));
        }
      }
      if (p["device_mapping"]) c.device_mapping = r.string(p["device_mapping"], "protocol.device_mapping").value_or("");
      if (have_ineq && c.inequality.expression.scenario().parties() != 4)
        r.issue(p["kind"], "protocol.kind",
                "Protocol A needs a four-party inequality (guehne4); '" + c.inequality.name + "' has " +
                    std::to_string(c.inequality.expression.scenario().parties()));
      // Fig. 2 step 3 needs the threshold (½−ε)^4·(δ/2)·(1−μ) to be reachable by Z_k ≥ 0,
      // and Lemma 7's bound is only informative for δ ≤ 8 (the largest Bell value).
    } else if (kind == "C") {
      c.protocol = 'C';
      r.allowed_keys(
          p, "protocol",
          {"kind", "epsilon", "bits", "error", "trials", "stop_when_certified", "behaviour_model", "demonstration"});
      auto& pc = c.c;
      pc.bits = count(r, p["bits"], "protocol.bits", pc.bits);
      pc.error = positive_fraction(r, p["error"], "protocol.error", 0, 1, true, true, pc.error);
      pc.trials = count(r, p["trials"], "protocol.trials", pc.trials);
      if (p["stop_when_certified"])
        pc.stop_when_certified =
            r.boolean(p["stop_when_certified"], "protocol.stop_when_certified").value_or(pc.stop_when_certified);
      if (p["behaviour_model"]) {
        pc.behaviour_model = r.string(p["behaviour_model"], "protocol.behaviour_model").value_or(pc.behaviour_model);
        if (pc.behaviour_model != "no-signalling")
          r.issue(p["behaviour_model"], "protocol.behaviour_model",
                  "only no-signalling is implemented (the seeds' adversary); got '" + pc.behaviour_model + "'");
      }
      if (have_ineq) {
        const auto& sc = c.inequality.expression.scenario();
        if (sc.parties() != 2 || sc.settings(0) != 2 || sc.settings(1) != 2 || sc.outcomes(0) != 2 ||
            sc.outcomes(1) != 2)
          r.issue(p["kind"], "protocol.kind",
                  "Protocol C needs a two-party, two-setting, two-outcome inequality (chsh); '" + c.inequality.name +
                      "' is not");
      }
    } else if (kind == "B") {
      c.protocol = 'B';
      r.allowed_keys(p, "protocol",
                     {"kind", "epsilon", "delta", "mu1", "trials", "u_star", "x_star", "extractor", "demonstration",
                      "kappa", "delta_az", "tau"});
      auto& b = c.b;
      b.delta = positive_fraction(r, p["delta"], "protocol.delta", 0, 1, false, false, b.delta);
      b.mu1 = positive_fraction(r, p["mu1"], "protocol.mu1", 0, 1, true, false, b.mu1);
      b.trials = count(r, p["trials"], "protocol.trials", b.trials);
      // The accounting parameters dira plan chooses (seed 001 Lemmas 4–5; docs/protocol-b-security.md §2.4).
      if (p["kappa"]) c.b_accounting.kappa = positive_fraction(r, p["kappa"], "protocol.kappa", 0, 0.5, true, true, 0);
      if (p["delta_az"])
        c.b_accounting.delta_az = positive_fraction(r, p["delta_az"], "protocol.delta_az", 0, 1, true, false, 0);
      if (p["tau"]) c.b_accounting.tau = positive_fraction(r, p["tau"], "protocol.tau", 0, 1, true, false, 0);
      if (have_ineq) {
        std::vector<int> S, O;
        const auto& sc = c.inequality.expression.scenario();
        for (int q = 0; q < sc.parties(); ++q) {
          S.push_back(sc.settings(q));
          O.push_back(sc.outcomes(q));
        }
        if (p["u_star"]) {
          if (auto u = r.tuple(p["u_star"], "protocol.u_star", S, "setting")) b.u_star = *u;
        } else if (!c.inequality.events.empty()) {
          b.u_star = c.inequality.events[0].setting;
        }
        if (p["x_star"]) {
          if (auto x = r.tuple(p["x_star"], "protocol.x_star", O, "outcome")) b.x_star = *x;
        } else if (!c.inequality.events.empty()) {
          b.x_star = c.inequality.events[0].event;
        }
        if (sc.valid_setting(b.u_star) && sc.valid_outcome(b.x_star) &&
            c.inequality.expression.coefficient(sc.index(b.u_star, b.x_star)) != 0)
          r.issue(p["x_star"] ? p["x_star"] : p, "protocol.x_star",
                  "(u*, x*) is a term of the Bell expression: it has probability 0 at maximal violation");
      }
      if (const YAML::Node e = r.section(p, "protocol", "extractor", "kind:, log2_error:, side_information:");
          e.IsDefined()) {
        r.allowed_keys(e, "protocol.extractor", {"kind", "log2_error", "side_information"});
        if (e["kind"]) {
          c.extractor.kind = r.string(e["kind"], "protocol.extractor.kind").value_or("auto");
          if (c.extractor.kind != "auto" && c.extractor.kind != "dodis" && c.extractor.kind != "circulant")
            r.issue(e["kind"], "protocol.extractor.kind", "must be auto, dodis or circulant");
        }
        if (e["log2_error"]) {
          auto v = r.number(e["log2_error"], "protocol.extractor.log2_error");
          if (v && !(*v < 0 && *v >= -1000))
            r.issue(e["log2_error"], "protocol.extractor.log2_error", "must be in [-1000, 0)");
          else if (v)
            c.extractor.log2_error = *v;
        }
        if (e["side_information"])
          c.extractor.side_information =
              r.boolean(e["side_information"], "protocol.extractor.side_information").value_or(true);
      }
    } else if (kind) {
      r.issue(p["kind"], "protocol.kind", "must be A, B or C, got '" + *kind + "'");
    }
  }

  // The weak source is the experiment's key input: never assumed (an unbiased simulated source
  // in its place would make every security statement about some other source).
  if (const YAML::Node w = r.require(doc, "", "weak_source"); w.IsDefined() && !w.IsMap()) {
    r.issue(w, "weak_source", "expected driver: and settings: (or the short form kind: …), found " + conf::describe(w));
  } else if (w.IsDefined()) {
    auto& s = c.weak_source;
    if (w["driver"]) {
      if (w["kind"]) r.issue(w["kind"], "weak_source.kind", "give either driver: (and settings:) or kind:, not both");
      const DeviceConfig d = read_device(r, w, "weak_source", hal::DeviceKind::entropy_source);
      s.driver = d.driver;
      s.settings = d.settings;
      // One ε (issue 10 item 6): a source may declare its own ε (the bound its maker or its
      // certification states), but every security statement is made at protocol.epsilon, which
      // holds for the source only if its ε is no larger (an ε'-SV source with ε' ≤ ε is ε-SV).
      if (const auto it = s.settings.find("epsilon"); it != s.settings.end()) {
        double declared = 0;
        if (const auto* v = std::get_if<double>(&it->second)) declared = *v;
        if (const auto* v = std::get_if<std::int64_t>(&it->second)) declared = static_cast<double>(*v);
        if (declared > c.epsilon + 1e-12) {
          std::ostringstream os;
          os << "the source declares ε = " << declared
             << ", above the experiment's one ε (protocol.epsilon = " << c.epsilon
             << "): every security statement is made at protocol.epsilon";
          r.issue(w["settings"]["epsilon"], "weak_source.settings.epsilon", os.str());
        }
      }
    } else {
      r.allowed_keys(w, "weak_source", {"kind", "bias", "epsilon", "seed", "path", "avoid_setting"});
    }
    if (s.driver.empty() && w["kind"]) {
      s.kind = r.string(w["kind"], "weak_source.kind").value_or("iid");
      if (s.kind != "iid" && s.kind != "adversarial" && s.kind != "file")
        r.issue(w["kind"], "weak_source.kind", "must be iid, adversarial or file");
    }
    if (w["bias"]) s.bias = positive_fraction(r, w["bias"], "weak_source.bias", -0.5, 0.5, true, true, 0);
    // One ε in the experiment file (issue 10 item 6): the SV parameter is protocol.epsilon.
    if (w["epsilon"])
      r.issue(w["epsilon"], "weak_source.epsilon",
              "the experiment has one ε: give it as protocol.epsilon (a driver's declared ε goes in "
              "weak_source.settings)");
    if (w["seed"]) s.seed = count(r, w["seed"], "weak_source.seed", 1);
    if (w["path"]) s.path = r.string(w["path"], "weak_source.path").value_or("");
    if (s.kind == "file" && s.path.empty()) r.issue(w, "weak_source.path", "a file source needs a path");
    if (w["avoid_setting"] && !c.inequality.name.empty()) {
      std::vector<int> S;
      for (int q = 0; q < c.inequality.expression.scenario().parties(); ++q)
        S.push_back(c.inequality.expression.scenario().settings(q));
      if (auto u = r.tuple(w["avoid_setting"], "weak_source.avoid_setting", S, "setting")) s.avoid_setting = *u;
    }
    const double eps = c.epsilon;
    if (s.driver.empty() && s.kind == "iid" && std::fabs(s.bias) > eps + 1e-12) {
      std::ostringstream os;
      os << "|bias| = " << std::fabs(s.bias) << " exceeds the protocol's ε = " << eps
         << ": the source would not be the ε-SV source the security statement assumes";
      r.issue(w["bias"], "weak_source.bias", os.str());
    }
  }
  // The protocol's own security conditions (seed 001 eq. 87 and completeness), unless the
  // file declares itself a demonstration.
  if (r.ok() && c.protocol == 'B' && !c.demonstration && !c.inequality.name.empty()) {
    const auto k = protocol::protocol_b_constants(protocol_b_security_input(c, static_cast<double>(c.b.trials)));
    for (const auto& v : k.violations)
      r.issue(p, "protocol",
              v + " (set protocol.demonstration: true to run anyway; dira plan --protocol B shows valid parameters)");
  }
  if (const YAML::Node sim = doc["simulator"]; sim.IsDefined()) {
    // Settings of driver `sim`, typed and range-checked by its capability declarations.
    if (!sim.IsMap()) {
      r.issue(sim, "simulator", "expected a map of simulator settings (dira devices lists them)");
    } else {
      c.simulator.present = true;
      if (const auto* info = driver_registry().find("sim", hal::DeviceKind::time_tagger))
        c.simulator.settings = read_driver_settings(r, *info, sim, "simulator");
      else
        r.issue(sim, "simulator", "this dira was built without the sim driver");
    }
  }
  if (const YAML::Node dev = doc["devices"]; dev.IsDefined()) read_devices(r, dev, c, doc["stations"].IsDefined());
  if (const YAML::Node st = doc["stations"]; st.IsDefined()) read_stations(r, st, doc, c);
  if (c.simulator.present && c.devices.present && !c.stations.present)
    r.issue(doc["devices"]["tagger"], "devices.tagger",
            "give either simulator: (driver sim) or devices.tagger, not both");
  if (const YAML::Node hw = doc["hardware"]; hw.IsDefined()) {
    // Real devices: what the planner assumes of them (a simulator reports its own).
    if (!hw.IsMap()) {
      r.issue(hw, "hardware", "expected visibility:, efficiency: and dark_count_probability:");
    } else {
      r.allowed_keys(hw, "hardware", {"visibility", "efficiency", "dark_count_probability"});
      protocol::HardwareModel m;
      m.visibility = positive_fraction(r, hw["visibility"], "hardware.visibility", 0, 1, true, true, 1);
      m.efficiency = positive_fraction(r, hw["efficiency"], "hardware.efficiency", 0, 1, false, true, 1);
      m.dark_count =
          positive_fraction(r, hw["dark_count_probability"], "hardware.dark_count_probability", 0, 1, true, true, 0);
      c.hardware = m;
    }
  }
  if (const YAML::Node st = r.section(doc, "", "stop", "trials:, duration_s:"); st.IsDefined()) {
    r.allowed_keys(st, "stop", {"trials", "duration_s"});
    if (st["trials"]) c.stop.max_trials = count(r, st["trials"], "stop.trials", 0);
    if (st["duration_s"])
      c.stop.duration_s = positive_fraction(r, st["duration_s"], "stop.duration_s", 0, 1e9, true, false, 0);
  }
  if (const YAML::Node o = r.section(doc, "", "outputs", "directory:, raw_tags:"); o.IsDefined()) {
    r.allowed_keys(o, "outputs", {"directory", "raw_tags"});
    if (o["directory"]) c.outputs.directory = r.string(o["directory"], "outputs.directory").value_or("runs");
    if (o["raw_tags"]) c.outputs.raw_tags = r.boolean(o["raw_tags"], "outputs.raw_tags").value_or(false);
  }
  if (!r.ok()) throw ConfigError(r.issues());
  return c;
}

}  // namespace

ExperimentConfig load_experiment_file(const std::filesystem::path& path, const std::filesystem::path& config_dir) {
  return load_experiment_text(conf::read_config_file(path), path.string(), config_dir);
}

}  // namespace dira::app
