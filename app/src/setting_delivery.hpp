#pragma once
/// @file setting_delivery.hpp
/// How one run's settings reach the apparatus and the trials (part of the session, issue 10
/// item 5): the SettingScheduler pushes the setting rule's draws to the modulators ahead of the
/// trials they steer, and trial assembly only looks them up (never causes a draw). With
/// hardware-chosen settings there is no scheduler: the weak source drives the modulators and
/// trial assembly reads each party's setting from its echo channels.

#include "device_set.hpp"

#include "dira/app/experiment.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/sv_source.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace dira::app {

class SettingDelivery {
 public:
  /// Throws ConfigError (key devices.modulators) when the modulators cannot take the settings.
  SettingDelivery(const ExperimentConfig& config, const DeviceSet& devices, protocol::BitLedger& ledger,
                  std::uint64_t planned);

  bool hardware_chosen() const { return hardware_chosen_; }
  /// nullptr with hardware-chosen settings.
  hal::SettingScheduler* scheduler() { return scheduler_.get(); }
  const hal::SettingScheduler* scheduler() const { return scheduler_.get(); }
  hal::TrialAssembler& assembler() { return *assembler_; }
  const hal::TrialAssembler& assembler() const { return *assembler_; }
  /// One line for dira.log.
  std::string describe() const;

 private:
  bool hardware_chosen_;
  std::unique_ptr<hal::SettingScheduler> scheduler_;
  std::unique_ptr<hal::TrialAssembler> assembler_;  // refers to scheduler_: declared after it
};

}  // namespace dira::app
