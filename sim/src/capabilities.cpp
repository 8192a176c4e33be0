// Every setting of driver `sim`, declared once as data (libsigrok's SR_CONF_* with GET/SET/LIST):
// YAML validation, `dira devices` and the GUI's form are generated from this list.
#include "settings.hpp"

#include <algorithm>
#include <numbers>

namespace dira::sim {

namespace {

using hal::Capability;

Capability real_cap(std::string key, std::string unit, double lo, std::optional<double> hi, double def,
                    std::string what) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::real;
  c.unit = std::move(unit);
  c.min = lo;
  c.max = hi;
  c.default_value = def;
  c.description = std::move(what);
  return c;
}
Capability int_cap(std::string key, std::string unit, double lo, std::optional<double> hi, std::int64_t def,
                   std::string what) {
  Capability c = real_cap(std::move(key), std::move(unit), lo, hi, 0, std::move(what));
  c.type = Capability::Type::integer;
  c.default_value = def;
  return c;
}
Capability choice_cap(std::string key, std::vector<std::string> choices, std::string def, std::string what) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::choice;
  c.choices = std::move(choices);
  c.can_list = true;
  c.default_value = std::move(def);
  c.description = std::move(what);
  return c;
}
Capability bool_cap(std::string key, bool def, std::string what) {
  Capability c;
  c.key = std::move(key);
  c.type = Capability::Type::boolean;
  c.default_value = def;
  c.description = std::move(what);
  return c;
}

std::vector<Capability> make_capabilities() {
  const double kPs = 1e12;  // one second in ps: a generous upper bound for times
  const double pi = std::numbers::pi;
  const TwoQubitModel tq;  // the defaults of the two-qubit model
  return {
      // Source
      choice_cap("source", {"quantum", "local", "no_signalling", "memory", "behaviour"}, "quantum",
                 "what emits: the inequality's quantum state, or an adversarial box (local deterministic, "
                 "no-signalling with B·P = 0, time-ordered with memory, or a behaviour given by the application)"),
      int_cap("seed", "", 0, std::nullopt, 1, "random seed: the same seed, settings and schedule give identical tags"),
      int_cap("sync_period_ps", "ps", 1000, kPs, 1'000'000, "trial clock period (one sync tag per trial)"),
      real_cap("emission_probability", "", 0, 1, 1,
               "probability that the source emits its state (one photon per party) in a trial"),
      real_cap("visibility", "", 0, 1, 1,
               "white-noise visibility V of the quantum source: P = V·P_q + (1−V)/|outcomes|"),
      real_cap("misalignment_rad", "rad", 0, std::numbers::pi, 0,
               "size θ of the rotation U = exp(−iθG) applied to every measurement basis (quantum source)"),
      choice_cap("misalignment", {"fixed", "random"}, "random",
                 "fixed: G = σ_y on component pairs (0,1),(2,3),… for every party; random: G a random Hermitian "
                 "matrix of spectral norm 1 per party, drawn once per run from the seed"),
      // Two-qubit model (2 parties × 2 settings × 2 outcomes: CHSH, Protocol C)
      real_cap("state_theta", "rad", 0, pi / 2, tq.state_theta,
               "two-qubit state cos θ|00⟩ + sin θ|11⟩ (Eberhard for θ < π/4); giving this or an angle replaces "
               "the inequality's quantum realisation (2×2×2 scenarios only)"),
      real_cap("alice_angle_0", "rad", -pi, pi, tq.alice_angle[0],
               "party 0, setting 0: outcome 1 = projector on cos a|0⟩ + sin a|1⟩ (polariser angle a)"),
      real_cap("alice_angle_1", "rad", -pi, pi, tq.alice_angle[1], "party 0, setting 1 (as alice_angle_0)"),
      real_cap("bob_angle_0", "rad", -pi, pi, tq.bob_angle[0], "party 1, setting 0 (as alice_angle_0)"),
      real_cap("bob_angle_1", "rad", -pi, pi, tq.bob_angle[1], "party 1, setting 1 (as alice_angle_0)"),
      // Detectors
      real_cap("efficiency", "", 0, 1, 1, "probability that a photon reaching a live detector makes it click"),
      real_cap("dark_count_rate_hz", "Hz", 0, 1e8, 0,
               "dark counts per second of each detector (Poisson, over the whole period)"),
      int_cap("dead_time_ps", "ps", 0, kPs, 0, "a detector that clicked is blind for this long (also across trials)"),
      real_cap("jitter_ps", "ps", 0, 1e6, 0, "Gaussian timing jitter σ of detector time tags (truncated at ±8σ)"),
      int_cap("detection_delay_ps", "ps", 0, kPs, 10'000, "photon arrival after the sync edge"),
      int_cap("detection_window_ps", "ps", 1, kPs, 2'000,
              "width of the detection window, centred on the arrival (layout)"),
      // Modulators
      int_cap("switching_time_ps", "ps", 0, kPs, 0,
              "a new setting is valid this long after the sync edge; a photon arriving earlier is measured "
              "with the previous setting"),
      real_cap("setting_error_rate", "", 0, 1, 0,
               "probability per party and trial that the modulator applies a random other setting (the echo shows it)"),
      bool_cap("echo", true, "modulators report the applied setting on one echo channel per setting value"),
      int_cap("echo_delay_ps", "ps", 0, kPs, 5'000, "echo tag time after the sync edge"),
      int_cap("echo_window_ps", "ps", 1, kPs, 1'000, "width of the echo window, centred on the echo (layout)"),
      choice_cap("modulator_delivery", {"streaming", "segment"}, "streaming",
                 "how the built-in modulators take settings: streaming (batches kept ahead of the trials) or "
                 "segment (an AWG's sequence memory: upload, arm, play exactly the segment, then wait)"),
      int_cap("segment_trials", "", 1, 1 << 24, 65536, "segment delivery: trials the sequence memory holds"),
      // Logical devices (Protocol A)
      int_cap("logical_devices", "", 1, 65536, 1, "number k of logical devices the trials are assigned to"),
      choice_cap("device_assignment", {"round_robin", "blocks"}, "round_robin",
                 "round_robin: trial i → device i mod k; blocks: trial i → device (i / device_block_trials) mod k"),
      int_cap("device_block_trials", "", 1, std::nullopt, 1000, "trials per block with device_assignment = blocks"),
      choice_cap("apparatus", {"shared", "independent"}, "shared",
                 "shared: one apparatus whose trials are assigned to logical devices; independent: k apparatuses "
                 "(own detectors, modulators, misalignment and memory) time-multiplexed on one clock and tagger"),
      // Stream
      choice_cap("station_layout", {"shared", "per_party"}, "shared",
                 "shared: every party on station 0; per_party: party p on station p (one sim device per station, "
                 "same seed)"),
      int_cap("station", "", 0, 3, 0, "which station's tags this device delivers"),
      real_cap("pace", "", 0, 1e6, 0, "0: as fast as possible; r > 0: the trial clock runs at r × real time"),
      int_cap("block_trials", "", 1, 1 << 24, 4096, "trials per TagBlock (at most; small blocks stay in cache)"),
      int_cap("trials", "", 0, std::nullopt, 0, "end the stream normally after this many trials (0: never)"),
      int_cap("fail_after_trials", "", 0, std::nullopt, 0,
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
