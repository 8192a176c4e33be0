#pragma once
/// @file profile.hpp
/// Instrument profiles for the SCPI modulator (config/devices/*.yaml, docs/usbtmc.md "Adding an
/// instrument profile"): which output levels each setting label 0..S-1 puts on each channel, and
/// the SCPI command templates that upload a settings schedule as a sequence and arm it on the
/// external trial clock. Turning a profile and a schedule into SCPI text is pure and tested
/// against hand-written golden text.

#include "dira/conf/issue.hpp"
#include "dira/hal/device.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace dira::drivers::scpi_modulator {

/// Every problem in a profile file at once, each a conf::ConfigIssue (file, line, column, key):
/// the config toolkit's one error type, so a bad profile is a configuration error (exit 2).
using ProfileError = conf::ConfigError;

struct Channel {
  int number = 1;                              ///< the instrument's channel number ({ch} in templates)
  std::string name;                            ///< what it drives, e.g. "pockels-alice"
  std::optional<double> min_volts, max_volts;  ///< safe range of the cell driver; levels are checked against it
};

/// The command groups, in the order they are sent (docs/usbtmc.md lists the placeholders of each).
struct Commands {
  std::string identify = "*IDN?";
  std::vector<std::string> reset;     ///< on open (skipped with reset_on_open: false)
  std::vector<std::string> setup;     ///< on open
  std::vector<std::string> segment;   ///< on open, once per setting (and per channel if it names one)
  std::vector<std::string> sequence;  ///< on schedule()
  std::vector<std::string> trigger;   ///< on schedule(): external trial clock as trigger source
  std::vector<std::string> arm;       ///< streaming: on schedule(); segment: on arm()
  std::string error_query = "SYST:ERR?";
};

enum class Readback {
  marker,      ///< the applied setting is echoed on a time-tagger marker channel; readback() is empty
  step_count,  ///< `readback_query` returns how many sequence steps the instrument has advanced
};
enum class ErrorCheck { each_command, each_group };

struct Profile {
  std::string name;
  std::string description;
  std::string file;      ///< where it was read from
  bool example = false;  ///< commands written from a programming manual, not yet checked on the instrument
  std::string resource;  ///< default USB resource (VID:PID[:SERIAL]); a device's `resource:` setting wins
  int settings = 2;      ///< S: setting labels 0..S-1
  std::vector<Channel> channels;
  std::vector<std::vector<double>> levels;  ///< levels[setting][channel index], volts
  double settling_time_ns = 0;
  int timeout_ms = 2000;
  std::string terminator = "\n";   ///< appended to every message
  int segment_offset = 0;          ///< {segment} = setting + segment_offset (1 for instruments that number from 1)
  std::size_t min_length = 1;      ///< shortest sequence the instrument accepts
  std::size_t max_length = 65536;  ///< longest sequence the instrument accepts
  Commands commands;
  ErrorCheck check_errors = ErrorCheck::each_command;
  Readback readback = Readback::marker;
  std::string readback_query;         ///< step_count only
  std::optional<int> marker_channel;  ///< marker only: tagger channel carrying the echo (informational)
  /// How schedules reach the instrument (`delivery.mode`). segment: the schedule fills a
  /// sequence memory of `segment_trials` steps; schedule() uploads (sequence, trigger), confirm()
  /// checks the upload, arm() sends `arm`. streaming (also when the profile has no `delivery`
  /// section, i.e. no sequence memory is declared): schedule() uploads and arms at once.
  hal::SettingDelivery delivery = hal::SettingDelivery::streaming;
  std::size_t segment_trials = 0;   ///< segment: trials one segment holds (default max_length)
  std::string confirm_query;        ///< sent by confirm(); empty: confirm() is true once schedule() returned
  std::string confirm_reply = "1";  ///< expected reply ({length}, {first_trial} substituted); "1" answers *OPC?

  double low(std::size_t channel) const;   ///< lowest level on a channel
  double high(std::size_t channel) const;  ///< highest level on a channel
};

/// Parses a profile; throws ProfileError with every problem found (unknown keys, levels of the
/// wrong shape or outside a channel's range, unknown or misplaced template placeholders).
Profile parse_profile(const std::string& yaml_text, const std::string& file);
/// A name is looked up as devices/NAME.yaml in $DIRA_CONFIG_DIR, the source tree's config/ and
/// <prefix>/share/dira/config; anything with a '/' or ending in .yaml is a path.
std::filesystem::path resolve_profile(const std::string& name_or_path);
Profile load_profile(const std::string& name_or_path);
std::vector<std::string> known_profiles();

/// One SCPI message to send (without terminator); `query` if the instrument answers it.
struct Command {
  std::string text;
  bool query = false;
  std::string group;  ///< "reset", "setup", … (for error messages)
};

/// Commands sent when the device is opened: reset (if `reset`), setup, segment.
std::vector<Command> open_commands(const Profile& p, bool reset = true);
/// Commands that upload and arm a schedule: sequence, trigger, arm (group "arm"; a segment-mode
/// modulator holds these back until arm()). Throws std::invalid_argument for a setting label ≥ S
/// or a length outside [min_length, max_length] (segment mode: [min_length, segment_trials]).
std::vector<Command> schedule_commands(const Profile& p, std::uint64_t first_trial,
                                       std::span<const std::uint8_t> settings);

/// The reply confirm() expects for a schedule of `length` trials starting at `first_trial`.
std::string expected_confirm_reply(const Profile& p, std::uint64_t first_trial, std::size_t length);

/// Numbers in commands: printf "%.6g", never "-0".
std::string format_number(double v);

}  // namespace dira::drivers::scpi_modulator
