#pragma once
/// @file physical.hpp
/// The physical simulator, registered as the ordinary time-tagger driver `sim`: a pulsed
/// source on a trial clock, the seeds' quantum states (or an adversarial box), modulators
/// with switching time, setting errors and setting echoes, detectors with efficiency, dark
/// counts, dead time and timing jitter. It produces a hal tag stream exactly like a real
/// tagger, which hal::TrialAssembler turns back into trials (docs/simulator.md).
///
/// Wiring (app code), through the hal contract only (hal/simulated_apparatus.hpp): create the
/// device through the registry, bind it, push settings into its built-in modulators with the
/// SettingScheduler, assemble its tags with its layout:
/// @code
///   auto dev = registry.find("sim", hal::DeviceKind::time_tagger)->create(settings);
///   auto& apparatus = dynamic_cast<hal::SimulatedApparatus&>(*dev);
///   apparatus.bind({&inequality, trials, k, block_trials});
///   hal::SettingScheduler scheduler(draw, apparatus.modulators(), config);
///   hal::TrialAssembler assembler(apparatus.layout(), [&](auto i) { return scheduler.intended(i); });
///   scheduler.prime();
///   tagger.start();  // then: next() → push(station, block) → pop → scheduler.advance(assembled) …
/// @endcode
/// The older binding with a pulled SettingSchedule (bind(inequality, schedule), the
/// constructors taking a schedule) runs on the same path: the simulator then feeds its own
/// built-in modulators from the schedule just before it generates the trials.

#include "dira/hal/device.hpp"
#include "dira/hal/simulated_apparatus.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/bell_expression.hpp"
#include "dira/protocol/inequality.hpp"
#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"
#include "dira/sim/rng.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dira::sim {

class PhysicalSimulator;

namespace detail {
class SimModulator;

/// Test seam, not a setting: no capability, YAML key or command reaches it. The model has two
/// twin paths that must give the same stream bit for bit: the general one (every trial by
/// itself: memory, dark counts, jitter) and a batch path for runs without memory, dark counts or
/// jitter (the shipped runs). tests/unit/test_sim_paths.cpp runs each configuration through both
/// and compares every event and counter.
struct GenerationPath {
  /// From the next start() on, every trial by the general path (`on`), or as usual.
  static void force_general(PhysicalSimulator& simulator, bool on);
  /// Whether the started run generates its trials by the batch path (false before start()).
  static bool batch(const PhysicalSimulator& simulator);
};
}  // namespace detail

/// Device settings as YAML gives them (key → value), validated against sim_capabilities().
using SettingsMap = std::map<std::string, hal::SettingValue>;

/// The intended settings of trial i (Trial::u per party; Trial::device when the caller assigns
/// logical devices). The simulator and the TrialAssembler are given the same callback; it must
/// be a pure function of i (both call it, in increasing order of i, possibly more than once).
using SettingSchedule = std::function<protocol::Trial(std::uint64_t)>;

/// A time-ordered box with memory: fills `current.x` from `current.u` (the settings the
/// modulators applied) and from `previous` (the previous trial of the same apparatus, with the
/// settings applied then and the outcomes the box gave; nullptr before the first trial).
/// Outcomes must be in range. The rng is the simulator's, so the run stays deterministic.
using MemoryStrategy = std::function<void(const protocol::Trial* previous, protocol::Trial& current, Rng& rng)>;

/// What emits the photons (setting `source`).
enum class SourceKind {
  quantum,        ///< the inequality's QuantumRealisation, with visibility and misalignment
  local,          ///< adversary: the optimal local deterministic strategy (protocol::local_bound)
  no_signalling,  ///< adversary: a no-signalling box with B·P = 0 (no_signalling_box)
  memory,         ///< adversary: a time-ordered box with memory (repeat_guess_strategy)
  behaviour,      ///< adversary: any behaviour P(x|u) given in C++ (bind(scenario, behaviour, …))
};
enum class MisalignmentKind { fixed, random };
enum class DeviceAssignment { round_robin, blocks };
enum class ApparatusKind { shared, independent };
enum class StationLayoutKind { shared, per_party };

/// Two parties, two settings, two outcomes each (CHSH, Protocol C): a partially entangled
/// state and polariser angles, replacing the inequality's quantum realisation. State
/// cos θ|00⟩ + sin θ|11⟩ (Eberhard's state for θ < π/4); party p, setting s measures the
/// projector |φ⟩⟨φ| with φ = cos a|0⟩ + sin a|1⟩ for outcome 1 and the orthogonal port for
/// outcome 0. Defaults: the maximally entangled state and CHSH's Tsirelson angles.
struct TwoQubitModel {
  double state_theta = 0.7853981633974483;                                     ///< θ (π/4)
  std::array<double, 2> alice_angle{0.0, 0.7853981633974483};                  ///< a_0, a_1 (0, π/4)
  std::array<double, 2> bob_angle{0.39269908169872414, -0.39269908169872414};  ///< b_0, b_1 (±π/8)
};

/// The settings, typed. Defaults are ideal hardware on a 1 MHz trial clock; every field is a
/// capability of the same name (docs/simulator.md lists units and ranges).
struct PhysicalSettings {
  SourceKind source = SourceKind::quantum;
  std::uint64_t seed = 1;
  std::int64_t sync_period_ps = 1'000'000;  ///< trial clock period
  double emission_probability = 1;          ///< P(the source emits its state in a trial)
  double visibility = 1;                    ///< white noise: V·P + (1−V)/|outcomes| (quantum source)
  double misalignment_rad = 0;              ///< size θ of the measurement-basis rotation (quantum source)
  MisalignmentKind misalignment = MisalignmentKind::random;
  double efficiency = 1;                     ///< P(a photon reaching a live detector clicks it)
  double dark_count_rate_hz = 0;             ///< per detector
  std::int64_t dead_time_ps = 0;             ///< a detector that clicked is blind this long
  double jitter_ps = 0;                      ///< Gaussian σ of the time stamps (truncated at ±8σ)
  std::int64_t detection_delay_ps = 10'000;  ///< photon arrival after the sync edge
  std::int64_t detection_window_ps = 2'000;  ///< assembler window, centred on the arrival
  std::int64_t switching_time_ps = 0;        ///< modulator: a new setting is valid this long after the edge
  double setting_error_rate = 0;             ///< modulator applies a random other setting
  bool echo = true;                          ///< modulators report the applied setting on echo channels
  std::int64_t echo_delay_ps = 5'000;
  std::int64_t echo_window_ps = 1'000;
  std::uint32_t logical_devices = 1;  ///< Protocol A's k
  DeviceAssignment device_assignment = DeviceAssignment::round_robin;
  std::uint64_t device_block_trials = 1000;  ///< trials per block with device_assignment = blocks
  ApparatusKind apparatus = ApparatusKind::shared;
  StationLayoutKind station_layout = StationLayoutKind::shared;
  int station = 0;                      ///< which station's tags this device delivers
  double pace = 0;                      ///< 0: as fast as possible; r: trial clock at r × real time
  std::uint64_t block_trials = 4096;    ///< trials per TagBlock (at most)
  std::uint64_t trials = 0;             ///< normal end after this many trials (0: never)
  std::uint64_t fail_after_trials = 0;  ///< StreamEnd{error} after this many trials (0: never)
  /// How the built-in modulators take settings (capability `modulator_delivery`).
  hal::SettingDelivery modulator_delivery = hal::SettingDelivery::streaming;
  std::uint64_t segment_trials = 65536;  ///< segment delivery: the sequence memory, in trials
  /// Set when any of state_theta, alice_angle_0/1, bob_angle_0/1 is given (the others default).
  std::optional<TwoQubitModel> two_qubit;

  /// Fills defaults, checks every value against its capability and the cross-field rules
  /// (windows inside the period, …). Throws std::invalid_argument naming every problem.
  static PhysicalSettings from(const SettingsMap& settings);
  /// Probability that one detector dark-counts inside its detection window:
  /// 1 − exp(−rate·window) (what protocol::HardwareModel::dark_count means).
  double dark_count_probability() const;
  /// Logical device of trial i: i mod k (round_robin) or (i / device_block_trials) mod k (blocks).
  std::uint32_t device_of(std::uint64_t trial) const;
};

/// Every setting of driver `sim`, as data (key, type, unit, range, default, description).
const std::vector<hal::Capability>& sim_capabilities();

/// The channel layout the simulator uses by default: station_layout = shared puts every party
/// on station 0 (sync channel 1, then per party its detectors, one per outcome, then its echo
/// channels, one per setting value); per_party gives party p station p, each numbered the same
/// way from sync channel 1. Windows: detection [delay − window/2, delay + window/2), echo alike.
hal::TrialAssemblyConfig sim_layout(const PhysicalSettings& settings, const protocol::Scenario& scenario);
hal::TrialAssemblyConfig sim_layout(const SettingsMap& settings, const protocol::Scenario& scenario);

/// Wraps a schedule so that Trial::device is the simulator's logical device of each trial
/// (PhysicalSettings::device_of). Give the wrapped schedule to the simulator and the assembler.
SettingSchedule with_logical_devices(SettingSchedule schedule, const PhysicalSettings& settings);

/// The `no_signalling` adversary: a no-signalling behaviour with B·P = 0 that maximises
/// P(x*|u*) of the inequality's first randomness event (ks294), or P(0…0|u) at the first setting
/// of the expression when it lists none (guehne4). Floating-point LP optimum, cleaned to a
/// normalised non-negative behaviour.
protocol::Behaviour no_signalling_box(const protocol::Inequality& inequality);

/// The `memory` adversary (docs/simulator.md, "Adversarial sources"): a box that bets the
/// settings repeat. For each joint setting v it keeps a local deterministic strategy S_v that
/// scores B(x, v) = 0 at v, chosen as the optimal local strategy changed at v's settings only,
/// with the smallest B·P among those; at trial i it answers with S_{u(i−1)} applied to u(i)
/// (the optimal local strategy in the first trial). Against independent settings it is a
/// mixture of local strategies (B·P ≥ the local bound); when settings repeat, it scores 0.
MemoryStrategy repeat_guess_strategy(const protocol::BellExpression& expression);

/// Time for pacing, injectable for tests. Both members must be set.
struct SimClock {
  std::function<std::chrono::nanoseconds()> now;  ///< monotonic
  std::function<void(std::chrono::nanoseconds)> sleep_for;
  static SimClock steady();  ///< std::chrono::steady_clock and this_thread
};

/// What happened in the simulated hardware during the current run (reset by start()).
struct SimCounters {
  std::uint64_t trials = 0;                         ///< trials generated
  std::uint64_t emissions = 0;                      ///< trials in which the source emitted
  std::uint64_t photon_clicks = 0;                  ///< detector clicks caused by photons (all stations)
  std::uint64_t dark_clicks = 0;                    ///< clicks caused by dark counts (all stations)
  std::uint64_t dead_time_losses = 0;               ///< photons and dark counts that hit a dead detector
  std::uint64_t late_switches = 0;                  ///< party-trials measured with the previous setting
  std::uint64_t setting_errors = 0;                 ///< party-trials in which the modulator applied another setting
  std::vector<std::uint64_t> setting_error_trials;  ///< the first 1000 such trials
  std::uint64_t tags = 0;                           ///< time tags delivered by this device
  std::uint64_t time_marks = 0;                     ///< segment ends marked (segment delivery)
};

/// Driver `sim` (DeviceKind::time_tagger), a hal::SimulatedApparatus with one built-in
/// modulator per party. Not thread-safe: one thread drives it (and its modulators).
class PhysicalSimulator final : public hal::TimeTagger, public hal::SimulatedApparatus {
 public:
  /// An unbound simulator, as the registry creates it: capabilities, set/get and identity
  /// work; start() needs bind() first. Throws std::invalid_argument for invalid settings.
  explicit PhysicalSimulator(const SettingsMap& settings = {});
  /// Bound to an inequality; the `source` setting picks quantum, local, no_signalling or memory.
  PhysicalSimulator(const SettingsMap& settings, const protocol::Inequality& inequality, SettingSchedule schedule,
                    std::optional<hal::TrialAssemblyConfig> layout = std::nullopt);
  /// Bound to any behaviour (adversarial i.i.d. box); sets `source` to behaviour.
  PhysicalSimulator(const SettingsMap& settings, const protocol::Scenario& scenario,
                    const protocol::Behaviour& behaviour, SettingSchedule schedule,
                    std::optional<hal::TrialAssemblyConfig> layout = std::nullopt);
  ~PhysicalSimulator() override;

  /// What to simulate. `layout` defaults to sim_layout(settings, scenario); a custom layout must
  /// have the scenario's parties, one detector channel per outcome, one echo channel per setting
  /// value exactly when `echo` is on, and the settings' sync period. Throws std::invalid_argument
  /// (e.g. source = quantum and the inequality has no quantum realisation).
  void bind(const protocol::Inequality& inequality, SettingSchedule schedule,
            std::optional<hal::TrialAssemblyConfig> layout = std::nullopt);
  void bind(const protocol::Scenario& scenario, const protocol::Behaviour& behaviour, SettingSchedule schedule,
            std::optional<hal::TrialAssemblyConfig> layout = std::nullopt);
  /// A custom time-ordered box; sets `source` to memory.
  void bind(const protocol::Scenario& scenario, MemoryStrategy strategy, std::string name, SettingSchedule schedule,
            std::optional<hal::TrialAssemblyConfig> layout = std::nullopt);
  bool bound() const;

  // SimulatedApparatus
  /// Binds to `binding.inequality` (the `source` setting picks quantum, local, no_signalling
  /// or memory); settings then come only from the built-in modulators (modulators()).
  /// `binding.trials` (when > 0) replaces the `trials` setting; the logical devices replace
  /// logical_devices/device_assignment/device_block_trials (blocks of device_block_trials).
  /// Throws std::invalid_argument (no inequality, quantum source without a realisation, two-qubit
  /// angles on a scenario other than 2×2×2, k > 1 with blocks of 0 trials).
  void bind(const hal::ApparatusBinding& binding) override;
  /// The channel layout of the bound experiment (throws std::logic_error when unbound).
  hal::TrialAssemblyConfig layout() const override;
  /// One built-in modulator per party (driver "sim"), owned by the simulator; the pointers stay
  /// valid for its lifetime. Throws std::logic_error when unbound.
  std::vector<hal::Modulator*> modulators() override;
  /// Visibility, efficiency and dark_count_probability() of the current settings (the
  /// emission probability and misalignment are not part of the planner's model).
  protocol::HardwareModel hardware_model() const override;
  const PhysicalSettings& physical_settings() const { return settings_; }
  const SimCounters& counters() const { return counters_; }
  /// Replaces the clock used by `pace` (tests inject a fake one).
  void set_clock(SimClock clock);

  // Device
  std::string driver() const override { return "sim"; }
  /// e.g. "sim: quantum ks294, seed 1, 1 logical device, station 0 (all parties)"; names the
  /// logical-device mode (k, assignment, shared apparatus or k independent ones).
  std::string identity() const override;
  const std::vector<hal::Capability>& capabilities() const override { return sim_capabilities(); }
  /// Throws std::invalid_argument (unknown key, bad value) or std::logic_error while streaming.
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  // TimeTagger
  /// Builds the model from the current settings and resets everything (rng, detectors,
  /// modulators, counters): the same seed and schedule give identical tags.
  void start() override;
  /// Ends the stream: the next calls deliver the tags still held back, then StreamEnd.
  void stop() override;
  /// StreamStart, then TagBlocks of at most block_trials trials in time order, then StreamEnd
  /// (after `trials`: normal; after `fail_after_trials`: error; after stop(): normal). With
  /// pace > 0, only trials whose period has elapsed are delivered; waits at most `timeout`.
  /// Trial i is generated only once every built-in modulator holds its setting (segment
  /// delivery: once it is armed); until then an empty TagBlock. Segment delivery: after the
  /// last trial of the armed segment, a TagType::time_mark at the end of its windows.
  hal::TaggerEvent next(std::chrono::milliseconds timeout) override;
  std::vector<int> channels() const override;

 private:
  friend class detail::SimModulator;     // asks whether a stream is open (a new upload from trial 0 restarts)
  friend struct detail::GenerationPath;  // the test seam above
  struct Model;
  struct Delivery;
  void rebind_check();
  void apply_binding(PhysicalSettings& settings) const;
  void feed_from_schedule(std::uint64_t end);
  bool streaming() const;
  SettingsMap values_;
  PhysicalSettings settings_;
  SimCounters counters_;
  SimClock clock_;
  // What is bound (kept so start() rebuilds the model from the current settings).
  std::optional<protocol::Inequality> inequality_;
  std::optional<protocol::Scenario> scenario_;
  std::optional<protocol::Behaviour> behaviour_;
  MemoryStrategy custom_memory_;
  std::string custom_name_;
  SettingSchedule schedule_;
  std::optional<hal::TrialAssemblyConfig> custom_layout_;
  std::optional<hal::ApparatusBinding> binding_;  // bound through the contract (settings pushed)
  hal::TrialAssemblyConfig layout_;
  std::unique_ptr<Delivery> delivery_;  // the built-in modulators
  std::unique_ptr<Model> model_;
  bool general_path_only_ = false;  // detail::GenerationPath::force_general
};

}  // namespace dira::sim
