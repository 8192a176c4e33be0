#pragma once
/// @file simulated_apparatus.hpp
/// The contract between the session and a simulating driver (`sim`), the one thing a
/// simulator needs that real hardware has physically: what is being measured. Everything else
/// goes the way it goes with hardware: the device is created through the registry from its
/// settings, its modulators receive settings from the SettingScheduler ahead of the trials,
/// its tagger delivers tags that TrialAssembler turns into trials. (libsigrok's demo driver:
/// registered and driven exactly like real hardware.)

#include "dira/hal/device.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/inequality.hpp"
#include "dira/protocol/planner.hpp"

#include <cstdint>
#include <vector>

namespace dira::hal {

/// What the session tells a simulated apparatus before start().
struct ApparatusBinding {
  const protocol::Inequality* inequality = nullptr;  ///< what is measured (scenario, quantum realisation)
  std::uint64_t trials = 0;                          ///< the stream ends normally after this many trials (0: never)
  /// Protocol A: k logical devices in blocks of `device_block_trials` consecutive trials
  /// (Trial::device = (i / device_block_trials) mod k); 1 for one apparatus.
  std::uint32_t logical_devices = 1;
  std::uint64_t device_block_trials = 0;
};

/// Implemented by a TimeTagger that simulates the whole apparatus (source, modulators,
/// detectors). A session finds it with dynamic_cast on the created tagger.
class SimulatedApparatus {
 public:
  virtual ~SimulatedApparatus() = default;
  /// Binds the apparatus to what it measures. Throws std::invalid_argument when it cannot
  /// simulate it (e.g. a quantum source and no quantum realisation).
  virtual void bind(const ApparatusBinding& binding) = 0;
  /// The channel layout of its tags (what trial assembly needs), valid after bind().
  virtual TrialAssemblyConfig layout() const = 0;
  /// Its built-in modulators, one per party, owned by the apparatus, valid after bind(). The
  /// simulated tagger emits trial i only after every one of them has had trial i's setting
  /// scheduled (and, in segment mode, armed): a setting delivered late is never used.
  virtual std::vector<Modulator*> modulators() = 0;
  /// The hardware it simulates, in the planner's terms (visibility, efficiency, dark counts).
  virtual protocol::HardwareModel hardware_model() const = 0;
};

}  // namespace dira::hal
