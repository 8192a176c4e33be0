// The coordinator's network drivers `stations` and `station_modulator` (coordinator.hpp;
// docs/stations.md, "Coordinator").
#include "dira/station/coordinator.hpp"
#include "dira/station/merge.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace dira::station {

namespace detail {
void remember_hub(const std::string& listen, const std::shared_ptr<StationHub>& hub);
}

namespace {

using hal::Capability;
using hal::SettingValue;
using Settings = std::map<std::string, SettingValue>;

// A real number that may be left unset: its default is the empty text, so get() of an unset
// key is not a number and readers that look for a double skip it.
Capability model_cap(std::string key, std::string description) {
  Capability c = hal::real_setting(std::move(key), "rad", -4, 4, 0.0, std::move(description));
  c.default_value = std::string();
  return c;
}

std::vector<Capability> tagger_caps() {
  return {
      hal::text_setting("listen", "tcp://127.0.0.1:5555",
                        "where the coordinator listens for its stations (ZeroMQ endpoint)"),
      hal::text_setting("key", "", "the coordinator's secret key file (dira keygen; mode 0600)"),
      hal::text_setting(
          "stations", "",
          "the stations in order, as name=public-key-file, comma-separated; station 0 is the merge's time "
          "reference. Only these keys are admitted"),
      hal::integer_setting("heartbeat_ms", "ms", 10, 60000, 200,
                           "heartbeat period, both ways; a station silent for two is lost"),
      hal::integer_setting("station_timeout_ms", "ms", 100, 86400000, 5000,
                           "a station lost this long ends the run as a hardware fault (data kept)"),
      hal::integer_setting("connect_timeout_ms", "ms", 100, 86400000, 30000, "every station must connect within this"),
      hal::integer_setting("sync_channel", "", 0, 4095, 1,
                           "the stations' trial-clock channel (the same at every station)"),
      hal::integer_setting("channel_stride", "", 1, 1024, 256,
                           "station s's channel c is s * stride + c in the merged stream"),
      hal::text_setting("health_file", "",
                        "optional: write every station's health record here (JSON) when the run ends"),
      // What the stations measure, for Protocol C's model of the apparatus (app/protocol_c_run:
      // read from the tagger as from the simulator); unset, the planner's optimum for the
      // hardware: section is assumed instead.
      model_cap("state_theta", "Protocol C model: the source's state cos θ|00⟩ + sin θ|11⟩ (unset: planner's optimum)"),
      model_cap("alice_angle_0", "Protocol C model: party 0, setting 0 measurement angle (unset: planner's optimum)"),
      model_cap("alice_angle_1", "Protocol C model: party 0, setting 1 (as alice_angle_0)"),
      model_cap("bob_angle_0", "Protocol C model: party 1, setting 0 (as alice_angle_0)"),
      model_cap("bob_angle_1", "Protocol C model: party 1, setting 1 (as alice_angle_0)"),
  };
}

std::vector<Capability> modulator_caps() {
  return {
      hal::text_setting("coordinator", "tcp://127.0.0.1:5555", "the `listen` endpoint of this run's `stations` tagger"),
      hal::integer_setting("party", "", 0, 255, 0, "whose settings this modulator delivers"),
  };
}

template <class T>
T setting(const Settings& s, const std::vector<Capability>& caps, const std::string& key) {
  if (auto it = s.find(key); it != s.end()) return std::get<T>(it->second);
  for (const auto& c : caps)
    if (c.key == key) return std::get<T>(c.default_value);
  throw std::invalid_argument("no setting " + key);
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

class RemoteTagger final : public hal::TimeTagger {
 public:
  explicit RemoteTagger(const Settings& s) : caps_(tagger_caps()), settings_(s) {
    HubConfig hc;
    hc.listen = get<std::string>("listen");
    const std::string key_file = get<std::string>("key");
    if (key_file.empty()) throw std::invalid_argument("key: the coordinator's secret key file is needed");
    hc.key = read_secret_key_file(key_file);
    std::stringstream list(get<std::string>("stations"));
    for (std::string item; std::getline(list, item, ',');) {
      item = trim(item);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("stations: '" + item + "' is not name=public-key-file");
      hc.stations.emplace_back(trim(item.substr(0, eq)), read_public_key_file(trim(item.substr(eq + 1))));
    }
    if (hc.stations.empty()) throw std::invalid_argument("stations: no station listed");
    hc.heartbeat = std::chrono::milliseconds(get<std::int64_t>("heartbeat_ms"));
    hc.station_timeout = std::chrono::milliseconds(get<std::int64_t>("station_timeout_ms"));
    hc.connect_timeout = std::chrono::milliseconds(get<std::int64_t>("connect_timeout_ms"));
    hc.log = [](const std::string& line) { std::cerr << "dira: stations: " << line << std::endl; };
    names_ = hc.stations;
    hub_ = std::make_shared<StationHub>(hc);
    detail::remember_hub(hc.listen, hub_);
    merger_.emplace(hc.stations.size(), static_cast<int>(get<std::int64_t>("sync_channel")),
                    static_cast<int>(get<std::int64_t>("channel_stride")));
    // Every station must be there before the scheduler primes them with settings.
    hub_->wait_connected();
  }
  ~RemoteTagger() override { write_health(); }

  std::string driver() const override { return "stations"; }
  std::string identity() const override {
    std::ostringstream os;
    os << "stations at " << get<std::string>("listen") << ":";
    for (const auto& h : hub_->health())
      os << " " << h.name << " (" << to_string(h.link) << ", " << h.tags << " tags, " << h.rejected_frames
         << " rejected, " << h.drops << " drops, offset " << h.clock_offset_ps << " ps)";
    return os.str();
  }
  const std::vector<Capability>& capabilities() const override { return caps_; }
  void set(const std::string& key, const SettingValue&) override {
    throw std::invalid_argument(key + " is fixed when the coordinator starts");
  }
  SettingValue get(const std::string& key) const override {
    if (auto it = settings_.find(key); it != settings_.end()) return it->second;
    for (const auto& c : caps_)
      if (c.key == key) return c.default_value;
    throw std::invalid_argument("stations: no setting " + key);
  }
  void start() override { hub_->start(); }
  void stop() override {
    stopped_ = true;
    hub_->stop();
  }
  hal::TaggerEvent next(std::chrono::milliseconds timeout) override {
    if (!announced_) {
      announced_ = true;
      std::string source = "stations";
      for (const auto& n : names_) source += " " + n.first;
      return hal::StreamStart{1, source};
    }
    if (stopped_) return hal::StreamEnd{};
    hal::TagBlock out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    do {
      hub_->take_frames(incoming_, ended_, std::chrono::milliseconds(20));
      for (std::size_t s = 0; s < incoming_.size(); ++s) {
        for (const auto& frame : incoming_[s]) try {
            merger_->push_frame(s, frame);
          } catch (const WireError& e) {
            throw hal::HardwareFault(undecodable_block(names_[s].first, e));
          }
        // incoming_[s] is handed back at the next take_frames, whose buffers it reuses.
        if (ended_[s]) merger_->end(s);
      }
      merger_->pop(out);
      for (std::size_t s = 0; s < names_.size(); ++s) hub_->note_merge(s, merger_->offset(s), merger_->pending(s));
      if (!out.empty()) return out;
      if (merger_->finished()) return hal::StreamEnd{};
    } while (std::chrono::steady_clock::now() < until);
    return out;
  }
  std::vector<int> channels() const override { return {}; }

 private:
  template <class T>
  T get(const std::string& key) const {
    return setting<T>(settings_, caps_, key);
  }
  void write_health() const {
    const std::string file = get<std::string>("health_file");
    if (file.empty()) return;
    std::ofstream(file) << health_json(hub_->health()).dump(2) << "\n";
  }

  std::vector<Capability> caps_;
  Settings settings_;
  std::vector<std::pair<std::string, std::string>> names_;
  std::shared_ptr<StationHub> hub_;
  std::optional<SyncMerger> merger_;
  std::vector<std::vector<std::vector<std::uint8_t>>> incoming_;  // tag frames, per station
  std::vector<bool> ended_;
  bool announced_ = false;
  bool stopped_ = false;
};

class RemoteModulator final : public hal::Modulator {
 public:
  explicit RemoteModulator(const Settings& s) : caps_(modulator_caps()), settings_(s) {
    coordinator_ = setting<std::string>(settings_, caps_, "coordinator");
    party_ = static_cast<int>(setting<std::int64_t>(settings_, caps_, "party"));
  }
  std::string driver() const override { return "station_modulator"; }
  std::string identity() const override {
    return "party " + std::to_string(party_) + "'s stations via " + coordinator_;
  }
  const std::vector<Capability>& capabilities() const override { return caps_; }
  void set(const std::string& key, const SettingValue&) override {
    throw std::invalid_argument(key + " is fixed when the coordinator starts");
  }
  SettingValue get(const std::string& key) const override {
    if (auto it = settings_.find(key); it != settings_.end()) return it->second;
    for (const auto& c : caps_)
      if (c.key == key) return c.default_value;
    throw std::invalid_argument("station_modulator: no setting " + key);
  }
  void schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) override {
    hub().send_settings(party_, first_trial, settings);
  }
  std::vector<hal::AppliedSetting> readback() override { return {}; }
  double settling_time_ns() const override { return 0; }
  bool confirm(std::uint64_t end) override { return hub().settings_confirmed(party_, end); }

 private:
  StationHub& hub() {
    if (!hub_) hub_ = find_hub(coordinator_);
    if (!hub_)
      throw hal::HardwareFault("station_modulator: no `stations` tagger listens at " + coordinator_ +
                               " (devices.tagger must be driver stations with the same listen endpoint)");
    return *hub_;
  }
  std::vector<Capability> caps_;
  Settings settings_;
  std::string coordinator_;
  int party_ = 0;
  std::shared_ptr<StationHub> hub_;
};

}  // namespace

void register_station_drivers(hal::DriverRegistry& registry) {
  hal::DriverInfo t;
  t.name = "stations";
  t.kind = hal::DeviceKind::time_tagger;
  t.description =
      "the coordinator's view of remote stations (dira station): their tag streams merged by sync index "
      "over CurveZMQ (docs/stations.md)";
  t.capabilities = tagger_caps();
  t.create = [](const Settings& s) -> std::unique_ptr<hal::Device> { return std::make_unique<RemoteTagger>(s); };
  registry.add(std::move(t));
  hal::DriverInfo m;
  m.name = "station_modulator";
  m.kind = hal::DeviceKind::modulator;
  m.description = "one party's settings, sent ahead of the trials to the stations that apply them (docs/stations.md)";
  m.capabilities = modulator_caps();
  m.create = [](const Settings& s) -> std::unique_ptr<hal::Device> { return std::make_unique<RemoteModulator>(s); };
  registry.add(std::move(m));
  register_station_records_driver(registry);
}

}  // namespace dira::station
