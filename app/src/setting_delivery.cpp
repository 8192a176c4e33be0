#include "setting_delivery.hpp"

#include "setting_rule.hpp"

#include <stdexcept>

namespace dira::app {

SettingDelivery::SettingDelivery(const ExperimentConfig& c, const DeviceSet& devices, protocol::BitLedger& ledger,
                                 std::uint64_t planned)
    : hardware_chosen_(c.devices.present && c.devices.hardware_chosen_settings) {
  if (!hardware_chosen_) {
    hal::SchedulerConfig sc;
    sc.planned = planned;
    sc.lookahead = c.devices.scheduler.lookahead;
    sc.batch = c.devices.scheduler.batch;
    sc.segment_trials = c.devices.scheduler.segment_trials;
    try {
      scheduler_ = std::make_unique<hal::SettingScheduler>(setting_rule(c, ledger), devices.modulators, sc);
    } catch (const std::invalid_argument& e) {
      throw ConfigError({ConfigIssue{c.file, 0, 0, "devices.modulators", e.what()}});
    }
  }
  hal::TrialAssemblyConfig layout = devices.layout;
  if (hardware_chosen_) layout.settings_from_echo = true;
  assembler_ = std::make_unique<hal::TrialAssembler>(layout, scheduler_.get());
}

std::string SettingDelivery::describe() const {
  return scheduler_ ? std::string("settings delivery: ") + hal::to_string(scheduler_->mode())
                    : std::string("settings chosen by the hardware, read from the setting echo");
}

}  // namespace dira::app
