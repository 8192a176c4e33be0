#pragma once
/// @file device.hpp
/// Device interfaces: TimeTagger, Modulator, EntropySource. Small and abstract (GNU Radio's
/// interface/factory/impl split); drivers implement them, `sim` is one driver among others.

#include "dira/hal/capability.hpp"
#include "dira/hal/tag.hpp"
#include "dira/protocol/sv_source.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace dira::hal {

/// A hardware fault: an error, not a protocol result (docs/architecture.md).
class HardwareFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string driver() const = 0;
  /// Model, serial number or file: whatever identifies this instance in a report.
  virtual std::string identity() const = 0;
  virtual const std::vector<Capability>& capabilities() const = 0;
  /// Throws std::invalid_argument for an unknown key or a value outside the declaration.
  virtual void set(const std::string& key, const SettingValue& value) = 0;
  virtual SettingValue get(const std::string& key) const = 0;
};

/// Framed tag stream (libsigrok's SR_DF_HEADER … SR_DF_END as a variant): a StreamStart,
/// then TagBlocks, then one StreamEnd.
struct StreamStart {
  std::int64_t resolution_ps = 1;
  std::string source;
};
struct StreamEnd {
  bool error = false;  ///< true: the device failed (a HardwareFault); false: normal end
  std::string reason;
};
using TaggerEvent = std::variant<StreamStart, TagBlock, StreamEnd>;

class TimeTagger : public Device {
 public:
  virtual void start() = 0;
  virtual void stop() = 0;
  /// The next event; blocks at most `timeout` and returns an empty TagBlock if nothing came.
  virtual TaggerEvent next(std::chrono::milliseconds timeout) = 0;
  /// Channels this tagger time-stamps.
  virtual std::vector<int> channels() const = 0;
  /// Built-in test signal on a channel, where the device has one.
  virtual bool has_test_signal() const { return false; }
  virtual void set_test_signal(int /*channel*/, bool /*on*/) { throw std::invalid_argument("no test signal"); }
};

/// What a modulator reports it applied (echo/marker channel or readback).
struct AppliedSetting {
  std::uint64_t trial = 0;
  int setting = 0;
};

/// How a modulator takes its settings (declared as its capability `delivery`; the
/// SettingScheduler reads it, setting_scheduler.hpp):
/// - streaming: batches are appended while the apparatus runs, kept a look-ahead ahead of it;
/// - segment: an AWG's sequence memory: a segment of K settings is uploaded, confirmed and
///   armed, the apparatus plays exactly those K trials, then the next segment is uploaded.
enum class SettingDelivery { streaming, segment };
const char* to_string(SettingDelivery d);

class Modulator : public Device {
 public:
  /// Settings to apply on the trial-clock edges starting at trial `first_trial`.
  virtual void schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) = 0;
  /// What was applied so far (empty when the device reports through an echo channel instead).
  virtual std::vector<AppliedSetting> readback() = 0;
  /// Time the modulator needs after a clock edge before the setting is valid.
  virtual double settling_time_ns() const = 0;
  /// Streaming or segment delivery (capability `delivery`; streaming unless declared).
  virtual SettingDelivery delivery() const { return SettingDelivery::streaming; }
  /// Segment delivery: how many trials one segment (the sequence memory) holds.
  virtual std::uint64_t segment_capacity() const { return 0; }
  /// True once every setting scheduled for trials < `end` is loaded in the device (its
  /// readback or operation-complete query). A device that cannot tell returns true once
  /// schedule() returned without error. The scheduler polls this before it lets the tagger
  /// record those trials.
  virtual bool confirm(std::uint64_t /*end*/) { return true; }
  /// Segment delivery: play the uploaded segment from the next trigger edge (exactly the
  /// uploaded trials, then stop).
  virtual void arm() {}
};

/// Weak-source bits from a device; ε where the device declares it.
class EntropySource : public Device, public protocol::SvSource {};

}  // namespace dira::hal
