#pragma once
// Channel layout of driver `sim`: which tagger channel carries which sync, detector and echo.
#include "dira/sim/physical.hpp"

namespace dira::sim::detail {

/// 1 to 4 parties, at most 32 settings and outcomes per party (one echo/detector channel each).
void check_scenario(const protocol::Scenario& scenario);
/// A layout the simulator can deliver for `scenario` with `settings` (custom or sim_layout's):
/// the scenario's parties, one detector channel per outcome, one echo channel per setting value
/// exactly when echo is on, the settings' sync period, and a party on this device's station.
void check_layout(const hal::TrialAssemblyConfig& layout, const PhysicalSettings& settings,
                  const protocol::Scenario& scenario);
/// Latest end of a trial's windows after its sync: a tag at or after sync + this closes the trial
/// for trial assembly (where a segment's time mark goes).
std::int64_t window_end(const hal::TrialAssemblyConfig& layout);

}  // namespace dira::sim::detail
