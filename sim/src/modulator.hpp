#pragma once
// The simulator's built-in modulators (one per party): hal::Modulator devices that receive the
// settings the SettingScheduler pushes, ahead of the trials. The physics model reads trial i's
// setting from here and generates trial i only once every party holds it (streaming) or has it
// armed (segment): a gated source, never one that pulls (docs/architecture.md).
#include "dira/sim/physical.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace dira::sim::detail {

/// The settings held by the modulators of all parties.
class ModulatorBank {
 public:
  /// Sets the shape and the delivery mode; empties every party (the next upload starts at trial 0).
  void configure(int parties, const std::array<int, protocol::kMaxParties>& settings_per_party,
                 hal::SettingDelivery mode, std::uint64_t segment_capacity);
  /// Empties every party; the next upload starts at trial 0.
  void reset();

  /// Appends settings for trials [first, first + settings.size()) of `party`. `first` must be
  /// the next trial not yet held, or 0 to start a new run while no stream is open (`idle`).
  /// Throws std::invalid_argument (a gap, an out-of-range setting, a segment longer than the
  /// sequence memory) or std::logic_error (segment: an upload while the armed segment plays).
  void schedule(int party, std::uint64_t first, std::span<const std::uint8_t> settings, bool idle);
  void arm(int party);
  bool holds(int party, std::uint64_t end) const { return lanes_[static_cast<std::size_t>(party)].end >= end; }

  /// Trials [0, playable_end()) can be generated: held by every party (streaming) or armed by
  /// every party (segment).
  std::uint64_t playable_end() const;
  /// The setting delivered for `trial` (held: base ≤ trial < end).
  std::uint8_t setting(int party, std::uint64_t trial) const {
    const Lane& l = lanes_[static_cast<std::size_t>(party)];
    return l.buf[l.head + static_cast<std::size_t>(trial - l.base)];
  }
  /// Trials < `played` were generated: their settings are dropped.
  void release(std::uint64_t played);
  std::uint64_t played() const { return played_; }

  hal::SettingDelivery mode() const { return mode_; }
  std::uint64_t segment_capacity() const { return capacity_; }
  int parties() const { return parties_; }
  const std::array<int, protocol::kMaxParties>& settings_per_party() const { return nset_; }

 private:
  struct Lane {
    std::vector<std::uint8_t> buf;  // settings of trials [base, end) from buf[head]
    std::size_t head = 0;
    std::uint64_t base = 0;
    std::uint64_t end = 0;
    std::uint64_t segment_first = 0;  // segment mode: first trial of the segment being uploaded/armed
    std::uint64_t armed = 0;          // segment mode: trials [0, armed) are armed
  };
  int parties_ = 0;
  std::array<int, protocol::kMaxParties> nset_{};
  hal::SettingDelivery mode_ = hal::SettingDelivery::streaming;
  std::uint64_t capacity_ = 0;
  std::uint64_t played_ = 0;
  std::array<Lane, protocol::kMaxParties> lanes_;
};

/// One party's built-in modulator, a view on the bank (driver "sim").
class SimModulator final : public hal::Modulator {
 public:
  SimModulator(PhysicalSimulator& owner, ModulatorBank& bank, int party) : owner_(owner), bank_(bank), party_(party) {}

  std::string driver() const override { return "sim"; }
  std::string identity() const override;
  /// modulator_delivery and segment_trials, read-only here (they are settings of the sim device).
  const std::vector<hal::Capability>& capabilities() const override;
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  void schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) override;
  /// Empty: the applied setting is reported on the echo channels.
  std::vector<hal::AppliedSetting> readback() override { return {}; }
  double settling_time_ns() const override;
  hal::SettingDelivery delivery() const override { return bank_.mode(); }
  std::uint64_t segment_capacity() const override {
    return bank_.mode() == hal::SettingDelivery::segment ? bank_.segment_capacity() : 0;
  }
  bool confirm(std::uint64_t end) override { return bank_.holds(party_, end); }
  void arm() override { bank_.arm(party_); }

 private:
  PhysicalSimulator& owner_;
  ModulatorBank& bank_;
  int party_;
};

}  // namespace dira::sim::detail

namespace dira::sim {

/// The built-in modulators of a PhysicalSimulator (one per possible party; modulators()
/// returns those of the bound scenario).
struct PhysicalSimulator::Delivery {
  explicit Delivery(PhysicalSimulator& owner);
  detail::ModulatorBank bank;
  std::array<std::unique_ptr<detail::SimModulator>, protocol::kMaxParties> modulators;
  // Pulled-schedule binding: trials [0, fed) were taken from the schedule into the bank.
  std::uint64_t fed = 0;
  std::array<std::vector<std::uint8_t>, protocol::kMaxParties> scratch;
};

}  // namespace dira::sim
