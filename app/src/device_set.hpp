#pragma once
/// @file device_set.hpp
/// The devices of one run, opened through the driver registry (the simulator like any
/// hardware): the time tagger, the modulators the SettingScheduler pushes settings to, the
/// weak source, the channel layout trial assembly needs, and the hardware model the planner
/// uses. One failure mapping: a device refused at open is a configuration error (ConfigError,
/// exit 2, nothing created); a device lost during the run is a hardware fault (exit 4).

#include "dira/app/experiment.hpp"
#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/simulated_apparatus.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/planner.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace dira::app {

struct DeviceSet {
  std::unique_ptr<hal::TimeTagger> tagger;
  /// Set when the tagger simulates the whole apparatus (driver `sim`).
  hal::SimulatedApparatus* apparatus = nullptr;
  /// What the scheduler pushes settings to: devices.modulators and the apparatus's own.
  std::vector<hal::PartyModulator> modulators;
  std::vector<std::unique_ptr<hal::Modulator>> owned_modulators;
  hal::TrialAssemblyConfig layout;
  int station = 0;  ///< the station whose tags this tagger delivers
  /// The hardware, in the planner's terms: from the simulator, or the experiment's
  /// `hardware:` section for real devices (absent: the planner's verdict is not given).
  std::optional<protocol::HardwareModel> hardware;
  std::unique_ptr<hal::EntropySource> weak_source;
};

/// The weak source of the experiment, from its entropy driver (`weak_source.driver`, or the
/// driver a legacy `weak_source.kind` names). Throws ConfigError naming weak_source.
std::unique_ptr<hal::EntropySource> open_weak_source(const ExperimentConfig& config,
                                                     const hal::DriverRegistry& registry);

/// Opens every device and binds a simulated apparatus to the experiment (`planned` trials).
/// Throws ConfigError when a device is refused.
DeviceSet open_devices(const ExperimentConfig& config, const hal::DriverRegistry& registry, std::uint64_t planned);

}  // namespace dira::app
