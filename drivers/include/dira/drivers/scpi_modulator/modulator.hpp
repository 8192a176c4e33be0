#pragma once
/// @file modulator.hpp
/// `usbtmc-awg`: a pulse/arbitrary-waveform generator driving the Pockels cells, as a
/// hal::Modulator. The settings schedule is uploaded as a sequence (one step per trial-clock edge)
/// with the SCPI templates of an instrument profile (profile.hpp), over USBTMC.

#include "dira/drivers/scpi_modulator/profile.hpp"
#include "dira/drivers/usbtmc/connection.hpp"
#include "dira/hal/registry.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dira::drivers {

/// Registers `usbtmc-awg` (DeviceKind::modulator); its scan lists USBTMC devices via libusb
/// (an empty list when USB is not accessible).
void register_usbtmc(hal::DriverRegistry& registry);

namespace scpi_modulator {

/// The settings `usbtmc-awg` accepts (resource, profile, timeout_ms, reset_on_open) and reports
/// (channels, settings, settling_time_ns, readback).
std::vector<hal::Capability> capabilities();

class ScpiModulator : public hal::Modulator {
 public:
  struct Options {
    std::string resource;                  ///< as given (for get("resource"))
    std::chrono::milliseconds timeout{0};  ///< 0: the profile's timeout_ms
    bool reset_on_open = true;
  };
  /// Connects (GET_CAPABILITIES), identifies, and sends the profile's open commands, checking
  /// the instrument's error queue as the profile says. Throws hal::HardwareFault on an instrument error.
  ScpiModulator(Profile profile, std::unique_ptr<usbtmc::Transport> transport, Options options);

  std::string driver() const override { return "usbtmc-awg"; }
  std::string identity() const override { return identity_; }
  const std::vector<hal::Capability>& capabilities() const override;
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  /// Uploads `settings` as the instrument's sequence: step i is applied on the (i+1)-th
  /// trial-clock edge after arming, i.e. to trial first_trial + i. Streaming profiles arm at once
  /// (the `arm` commands follow the upload); segment profiles hold `arm` back until arm().
  void schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) override;
  /// The profile's `delivery.mode` (streaming when the profile declares no sequence memory).
  hal::SettingDelivery delivery() const override { return profile_.delivery; }
  /// Segment mode: the profile's `delivery.segment_trials`; 0 for streaming.
  std::uint64_t segment_capacity() const override;
  /// True when every trial < `end` is in the current upload and the upload is confirmed: by the
  /// profile's `delivery.confirm` query answering `delivery.confirm_reply` (sent once per upload),
  /// or, when the profile has no confirm query, as soon as schedule() returned. Trials before the
  /// current upload count as confirmed; trials after it are not (false). Throws
  /// hal::HardwareFault when the instrument answers anything else.
  bool confirm(std::uint64_t end) override;
  /// Segment mode: sends the profile's `arm` commands for the confirmed upload (step counts of
  /// readback() restart). Throws std::logic_error before schedule() and confirm(), or when the
  /// segment is already armed. Streaming: nothing (schedule() armed).
  void arm() override;
  /// marker profiles: empty (the echo is on a tagger channel). step_count profiles: the trials
  /// the instrument reports having advanced through since the last call.
  std::vector<hal::AppliedSetting> readback() override;
  double settling_time_ns() const override { return profile_.settling_time_ns; }

  const Profile& profile() const { return profile_; }
  usbtmc::Connection& connection() { return *connection_; }

 private:
  void run(const std::vector<Command>& commands);
  void send(const Command& c);
  void check_errors(const std::string& after);

  Profile profile_;
  Options options_;
  std::unique_ptr<usbtmc::Connection> connection_;
  std::string identity_;
  std::uint64_t first_trial_ = 0;
  std::vector<std::uint8_t> scheduled_;
  std::size_t reported_ = 0;
  bool confirmed_ = false;             // the current upload passed confirm()
  bool armed_ = false;                 // the current upload is armed (streaming: by schedule())
  std::vector<Command> arm_commands_;  // segment mode: the current upload's `arm` group, sent by arm()
};

/// Creates the device from its YAML settings: loads the profile, opens the USB device (or the
/// in-process fake for `resource: fake`), connects.
std::unique_ptr<hal::Device> create(const std::map<std::string, hal::SettingValue>& settings);

}  // namespace scpi_modulator
}  // namespace dira::drivers
