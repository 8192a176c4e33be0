// Channel layout of driver `sim` (docs/simulator.md, "Time structure and channel layout").
#include "layout.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dira::sim {

using protocol::Scenario;

namespace detail {

void check_scenario(const Scenario& sc) {
  if (sc.parties() < 1 || sc.parties() > protocol::kMaxParties) throw std::invalid_argument("sim: 1 to 4 parties");
  for (int p = 0; p < sc.parties(); ++p) {
    if (sc.settings(p) > 32) throw std::invalid_argument("sim: at most 32 settings per party (echo channels)");
    if (sc.outcomes(p) > 32) throw std::invalid_argument("sim: at most 32 outcomes per party (detector channels)");
  }
}

void check_layout(const hal::TrialAssemblyConfig& l, const PhysicalSettings& s, const Scenario& sc) {
  hal::validate(l);
  if (static_cast<int>(l.parties.size()) != sc.parties())
    throw std::invalid_argument("sim: the layout has " + std::to_string(l.parties.size()) + " parties, the scenario " +
                                std::to_string(sc.parties()));
  if (l.sync_period_ps != s.sync_period_ps)
    throw std::invalid_argument("sim: the layout's sync period differs from sync_period_ps");
  bool any = false;
  for (int p = 0; p < sc.parties(); ++p) {
    const auto& st = l.parties[static_cast<std::size_t>(p)];
    if (static_cast<int>(st.detector_channels.size()) != sc.outcomes(p))
      throw std::invalid_argument("sim: party " + std::to_string(p) + " needs one detector channel per outcome");
    const std::size_t echoes = s.echo ? static_cast<std::size_t>(sc.settings(p)) : 0;
    if (st.echo_channels.size() != echoes)
      throw std::invalid_argument(
          "sim: party " + std::to_string(p) +
          (s.echo ? " needs one echo channel per setting value (echo is on)" : " has echo channels but echo is off"));
    any = any || st.station == s.station;
  }
  if (!any) throw std::invalid_argument("sim: no party of the layout is on station " + std::to_string(s.station));
}

std::int64_t window_end(const hal::TrialAssemblyConfig& l) {
  std::int64_t end = l.detection_offset_ps + l.detection_width_ps;
  if (l.echo_width_ps > 0) end = std::max(end, l.echo_offset_ps + l.echo_width_ps);
  return end;
}

}  // namespace detail

hal::TrialAssemblyConfig sim_layout(const PhysicalSettings& s, const Scenario& sc) {
  detail::check_scenario(sc);
  hal::TrialAssemblyConfig c;
  c.sync_period_ps = s.sync_period_ps;
  c.detection_offset_ps = s.detection_delay_ps - s.detection_window_ps / 2;
  c.detection_width_ps = s.detection_window_ps;
  if (s.echo) {
    c.echo_offset_ps = s.echo_delay_ps - s.echo_window_ps / 2;
    c.echo_width_ps = s.echo_window_ps;
  }
  int next = 2;
  for (int p = 0; p < sc.parties(); ++p) {
    hal::StationLayout l;
    if (s.station_layout == StationLayoutKind::per_party) {
      l.station = p;
      next = 2;
    }
    l.sync_channel = 1;
    for (int o = 0; o < sc.outcomes(p); ++o) l.detector_channels.push_back(next++);
    if (s.echo)
      for (int v = 0; v < sc.settings(p); ++v) l.echo_channels.push_back(next++);
    c.parties.push_back(std::move(l));
  }
  return c;
}

hal::TrialAssemblyConfig sim_layout(const SettingsMap& settings, const Scenario& sc) {
  return sim_layout(PhysicalSettings::from(settings), sc);
}

SettingSchedule with_logical_devices(SettingSchedule schedule, const PhysicalSettings& settings) {
  return [schedule = std::move(schedule), settings](std::uint64_t i) {
    protocol::Trial t = schedule(i);
    t.device = settings.device_of(i);
    return t;
  };
}

}  // namespace dira::sim
