// Settings of driver `sim`: parsing and validation against the declaration (capabilities.cpp),
// plus the cross-field rules no single capability can express.
#include "settings.hpp"

#include <cmath>
#include <stdexcept>

namespace dira::sim {

namespace detail {

void throw_problems(const std::vector<std::string>& problems) {
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
  throw std::invalid_argument("sim: " + all);
}

const char* name(SourceKind k) {
  switch (k) {
    case SourceKind::quantum:
      return "quantum";
    case SourceKind::local:
      return "local";
    case SourceKind::no_signalling:
      return "no_signalling";
    case SourceKind::memory:
      return "memory";
    case SourceKind::behaviour:
      return "behaviour";
  }
  return "?";
}

}  // namespace detail

namespace {

using hal::SettingValue;

/// Reads a value, defaulted from the capability.
struct Reader {
  const SettingsMap& given;
  const SettingValue& value(const std::string& key) const {
    if (auto it = given.find(key); it != given.end()) return it->second;
    if (const auto* c = detail::find_capability(key)) return c->default_value;
    throw std::logic_error("sim: no capability " + key);
  }
  double real(const std::string& key) const {
    const auto& v = value(key);
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    return std::get<double>(v);
  }
  std::int64_t integer(const std::string& key) const { return std::get<std::int64_t>(value(key)); }
  bool boolean(const std::string& key) const { return std::get<bool>(value(key)); }
  const std::string& text(const std::string& key) const { return std::get<std::string>(value(key)); }
};

}  // namespace

PhysicalSettings PhysicalSettings::from(const SettingsMap& given) {
  std::vector<std::string> problems;
  for (const auto& [key, value] : given) {
    const auto* cap = detail::find_capability(key);
    if (!cap) {
      problems.push_back("unknown setting '" + key + "'");
      continue;
    }
    if (auto msg = hal::check_value(*cap, value); !msg.empty()) problems.push_back(key + ": " + msg);
  }
  if (!problems.empty()) detail::throw_problems(problems);
  const Reader r{given};
  PhysicalSettings s;
  const std::string& src = r.text("source");
  s.source = src == "quantum"         ? SourceKind::quantum
             : src == "local"         ? SourceKind::local
             : src == "no_signalling" ? SourceKind::no_signalling
             : src == "memory"        ? SourceKind::memory
                                      : SourceKind::behaviour;
  s.seed = static_cast<std::uint64_t>(r.integer("seed"));
  s.sync_period_ps = r.integer("sync_period_ps");
  s.emission_probability = r.real("emission_probability");
  s.visibility = r.real("visibility");
  s.misalignment_rad = r.real("misalignment_rad");
  s.misalignment = r.text("misalignment") == "fixed" ? MisalignmentKind::fixed : MisalignmentKind::random;
  s.efficiency = r.real("efficiency");
  s.dark_count_rate_hz = r.real("dark_count_rate_hz");
  s.dead_time_ps = r.integer("dead_time_ps");
  s.jitter_ps = r.real("jitter_ps");
  s.detection_delay_ps = r.integer("detection_delay_ps");
  s.detection_window_ps = r.integer("detection_window_ps");
  s.switching_time_ps = r.integer("switching_time_ps");
  s.setting_error_rate = r.real("setting_error_rate");
  s.echo = r.boolean("echo");
  s.echo_delay_ps = r.integer("echo_delay_ps");
  s.echo_window_ps = r.integer("echo_window_ps");
  s.logical_devices = static_cast<std::uint32_t>(r.integer("logical_devices"));
  s.device_assignment =
      r.text("device_assignment") == "blocks" ? DeviceAssignment::blocks : DeviceAssignment::round_robin;
  s.device_block_trials = static_cast<std::uint64_t>(r.integer("device_block_trials"));
  s.apparatus = r.text("apparatus") == "independent" ? ApparatusKind::independent : ApparatusKind::shared;
  s.station_layout = r.text("station_layout") == "per_party" ? StationLayoutKind::per_party : StationLayoutKind::shared;
  s.station = static_cast<int>(r.integer("station"));
  s.pace = r.real("pace");
  s.block_trials = static_cast<std::uint64_t>(r.integer("block_trials"));
  s.trials = static_cast<std::uint64_t>(r.integer("trials"));
  s.fail_after_trials = static_cast<std::uint64_t>(r.integer("fail_after_trials"));
  s.modulator_delivery =
      r.text("modulator_delivery") == "segment" ? hal::SettingDelivery::segment : hal::SettingDelivery::streaming;
  s.segment_trials = static_cast<std::uint64_t>(r.integer("segment_trials"));
  // The two-qubit model is on when any of its settings is given ("overrides the inequality's
  // realisation when given"); the others keep their defaults (CHSH at Tsirelson's bound).
  bool two_qubit = false;
  for (const auto& key : detail::two_qubit_keys()) two_qubit = two_qubit || given.count(key) != 0;
  if (two_qubit) {
    TwoQubitModel m;
    m.state_theta = r.real("state_theta");
    m.alice_angle = {r.real("alice_angle_0"), r.real("alice_angle_1")};
    m.bob_angle = {r.real("bob_angle_0"), r.real("bob_angle_1")};
    s.two_qubit = m;
  }

  // Cross-field rules: windows must lie inside one period, or the assembler would give a tag two trials.
  const auto window_inside = [&](const char* what, std::int64_t delay, std::int64_t width) {
    if (delay - width / 2 < 0 || delay + (width - width / 2) > s.sync_period_ps)
      problems.push_back(std::string(what) +
                         " window [delay − width/2, delay + width/2) must lie inside [0, sync_period_ps)");
  };
  window_inside("detection", s.detection_delay_ps, s.detection_window_ps);
  if (s.echo) window_inside("echo", s.echo_delay_ps, s.echo_window_ps);
  if (s.switching_time_ps > s.sync_period_ps)
    problems.push_back("switching_time_ps longer than the trial period: settings could never settle");
  if (s.station_layout == StationLayoutKind::shared && s.station != 0)
    problems.push_back("station must be 0 with station_layout = shared");
  if (s.two_qubit && s.source != SourceKind::quantum)
    problems.push_back("state_theta and the angles describe the quantum source, but source = " +
                       std::string(detail::name(s.source)));
  if (!problems.empty()) detail::throw_problems(problems);
  return s;
}

double PhysicalSettings::dark_count_probability() const {
  return -std::expm1(-dark_count_rate_hz * static_cast<double>(detection_window_ps) * 1e-12);
}

std::uint32_t PhysicalSettings::device_of(std::uint64_t trial) const {
  const std::uint64_t k = logical_devices;
  if (k <= 1) return 0;
  if (device_assignment == DeviceAssignment::round_robin) return static_cast<std::uint32_t>(trial % k);
  return static_cast<std::uint32_t>((trial / device_block_trials) % k);
}

}  // namespace dira::sim
