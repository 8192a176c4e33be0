// Every setting of driver `sim`, declared once as data (libsigrok's SR_CONF_* with GET/SET/LIST):
// YAML validation, `dira devices` and the GUI's form are generated from this list.
#include "settings.hpp"

#include <algorithm>
#include <numbers>

namespace dira::sim {

namespace {

using hal::Capability;

std::vector<Capability> make_capabilities() {
  const double kPs = 1e12;  // one second in ps: a generous upper bound for times
  const double pi = std::numbers::pi;
  const TwoQubitModel tq;  // the defaults of the two-qubit model
  return {
      // Source
      hal::choice_setting(
          "source", {"quantum", "local", "no_signalling", "memory", "behaviour"}, "quantum",
          "what emits: the inequality's quantum state, or an adversarial box (local deterministic, "
          "no-signalling with B·P = 0, time-ordered with memory, or a behaviour given by the application)"),
      hal::integer_setting("seed", "", 0, std::nullopt, 1,
                           "random seed: the same seed, settings and schedule give identical tags"),
      hal::integer_setting("sync_period_ps", "ps", 1000, kPs, 1'000'000, "trial clock period (one sync tag per trial)"),
      hal::real_setting("emission_probability", "", 0, 1, 1,
                        "probability that the source emits its state (one photon per party) in a trial"),
      hal::real_setting("visibility", "", 0, 1, 1,
                        "white-noise visibility V of the quantum source: P = V·P_q + (1−V)/|outcomes|"),
      hal::real_setting("misalignment_rad", "rad", 0, std::numbers::pi, 0,
                        "size θ of the rotation U = exp(−iθG) applied to every measurement basis (quantum source)"),
      hal::choice_setting(
          "misalignment", {"fixed", "random"}, "random",
          "fixed: G = σ_y on component pairs (0,1),(2,3),… for every party; random: G a random Hermitian "
          "matrix of spectral norm 1 per party, drawn once per run from the seed"),
      // Two-qubit model (2 parties × 2 settings × 2 outcomes: CHSH, Protocol C)
      hal::real_setting(
          "state_theta", "rad", 0, pi / 2, tq.state_theta,
          "two-qubit state cos θ|00⟩ + sin θ|11⟩ (Eberhard for θ < π/4); giving this or an angle replaces "
          "the inequality's quantum realisation (2×2×2 scenarios only)"),
      hal::real_setting("alice_angle_0", "rad", -pi, pi, tq.alice_angle[0],
                        "party 0, setting 0: outcome 1 = projector on cos a|0⟩ + sin a|1⟩ (polariser angle a)"),
      hal::real_setting("alice_angle_1", "rad", -pi, pi, tq.alice_angle[1], "party 0, setting 1 (as alice_angle_0)"),
      hal::real_setting("bob_angle_0", "rad", -pi, pi, tq.bob_angle[0], "party 1, setting 0 (as alice_angle_0)"),
      hal::real_setting("bob_angle_1", "rad", -pi, pi, tq.bob_angle[1], "party 1, setting 1 (as alice_angle_0)"),
      // Detectors
      hal::real_setting("efficiency", "", 0, 1, 1, "probability that a photon reaching a live detector makes it click"),
      hal::real_setting("dark_count_rate_hz", "Hz", 0, 1e8, 0,
                        "dark counts per second of each detector (Poisson, over the whole period)"),
      hal::integer_setting("dead_time_ps", "ps", 0, kPs, 0,
                           "a detector that clicked is blind for this long (also across trials)"),
      hal::real_setting("jitter_ps", "ps", 0, 1e6, 0,
                        "Gaussian timing jitter σ of detector time tags (truncated at ±8σ)"),
      hal::integer_setting("detection_delay_ps", "ps", 0, kPs, 10'000, "photon arrival after the sync edge"),
      hal::integer_setting("detection_window_ps", "ps", 1, kPs, 2'000,
                           "width of the detection window, centred on the arrival (layout)"),
      // Modulators
      hal::integer_setting(
          "switching_time_ps", "ps", 0, kPs, 0,
          "a new setting is valid this long after the sync edge; a photon arriving earlier is measured "
          "with the previous setting"),
      hal::real_setting(
          "setting_error_rate", "", 0, 1, 0,
          "probability per party and trial that the modulator applies a random other setting (the echo shows it)"),
      hal::bool_setting("echo", true, "modulators report the applied setting on one echo channel per setting value"),
      hal::integer_setting("echo_delay_ps", "ps", 0, kPs, 5'000, "echo tag time after the sync edge"),
      hal::integer_setting("echo_window_ps", "ps", 1, kPs, 1'000,
                           "width of the echo window, centred on the echo (layout)"),
      hal::choice_setting("modulator_delivery", {"streaming", "segment"}, "streaming",
                          "how the built-in modulators take settings: streaming (batches kept ahead of the trials) or "
                          "segment (an AWG's sequence memory: upload, arm, play exactly the segment, then wait)"),
      hal::integer_setting("segment_trials", "", 1, 1 << 24, 65536,
                           "segment delivery: trials the sequence memory holds"),
      // Logical devices (Protocol A)
      hal::integer_setting("logical_devices", "", 1, 65536, 1,
                           "number k of logical devices the trials are assigned to"),
      hal::choice_setting(
          "device_assignment", {"round_robin", "blocks"}, "round_robin",
          "round_robin: trial i → device i mod k; blocks: trial i → device (i / device_block_trials) mod k"),
      hal::integer_setting("device_block_trials", "", 1, std::nullopt, 1000,
                           "trials per block with device_assignment = blocks"),
      hal::choice_setting(
          "apparatus", {"shared", "independent"}, "shared",
          "shared: one apparatus whose trials are assigned to logical devices; independent: k apparatuses "
          "(own detectors, modulators, misalignment and memory) time-multiplexed on one clock and tagger"),
      // Stream
      hal::choice_setting(
          "station_layout", {"shared", "per_party"}, "shared",
          "shared: every party on station 0; per_party: party p on station p (one sim device per station, "
          "same seed)"),
      hal::integer_setting("station", "", 0, 3, 0, "which station's tags this device delivers"),
      hal::real_setting("pace", "", 0, 1e6, 0, "0: as fast as possible; r > 0: the trial clock runs at r × real time"),
      hal::integer_setting("block_trials", "", 1, 1 << 24, 4096,
                           "trials per TagBlock (at most; small blocks stay in cache)"),
      hal::integer_setting("trials", "", 0, std::nullopt, 0,
                           "end the stream normally after this many trials (0: never)"),
      hal::integer_setting("fail_after_trials", "", 0, std::nullopt, 0,
                           "end the stream with StreamEnd{error} after this many trials (0: never)"),
  };
}

}  // namespace

const std::vector<Capability>& sim_capabilities() {
  static const std::vector<Capability> caps = make_capabilities();
  return caps;
}

namespace detail {

const Capability* find_capability(const std::string& key) {
  const auto& caps = sim_capabilities();
  const auto it = std::find_if(caps.begin(), caps.end(), [&](const Capability& c) { return c.key == key; });
  return it == caps.end() ? nullptr : &*it;
}

const std::vector<std::string>& two_qubit_keys() {
  static const std::vector<std::string> keys{"state_theta", "alice_angle_0", "alice_angle_1", "bob_angle_0",
                                             "bob_angle_1"};
  return keys;
}

}  // namespace detail

}  // namespace dira::sim
