#pragma once
/// @file experiment.hpp
/// Experiment files (config/experiments/*.yaml): inequality, protocol and its parameters,
/// weak source. Issue 5 adds devices, stop conditions and outputs. Format: docs/experiment-yaml.md.

#include "dira/app/config_error.hpp"
#include "dira/hal/capability.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/inequality.hpp"
#include "dira/protocol/planner.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/security_b.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dira::app {

/// The weak source: an entropy driver (`driver:` + `settings:`: iid, adversarial, file,
/// hwrng, command; `dira devices` lists them), or the legacy short form `kind:` with its keys,
/// which names one of those drivers (docs/experiment-yaml.md).
struct WeakSourceConfig {
  std::string driver;                                 ///< entropy driver; empty: from `kind`
  std::map<std::string, hal::SettingValue> settings;  ///< its settings (checked against its capabilities)
  std::string kind = "iid";                           ///< legacy form: iid | adversarial | file
  double bias = 0;                                    ///< iid: P(0) = ½ + bias
  std::uint64_t seed = 1;
  std::string path;                ///< file: bytes, most significant bit first
  std::vector<int> avoid_setting;  ///< adversarial: the setting to make rare
};

/// Protocol C (issue 11, docs/protocol-c-security.md): CHSH trials steered by one ε-SV stream,
/// scored by probability estimation factors. Everything here is fixed before the first trial
/// and written into the run directory (pef.json, report) before acquisition starts.
struct ProtocolCParameters {
  std::uint64_t bits = 256;         ///< output length M the run aims to certify
  double error = 1e-9;              ///< total error: half estimation (ε_est), half extractor
  std::uint64_t trials = 1000000;   ///< trial budget n
  bool stop_when_certified = true;  ///< stop at the first trial where the target is certified (Ville, docs §5.4)
  std::string behaviour_model = "no-signalling";  ///< the adversary's devices (no-signalling only, so far)
};

/// Protocol B's security accounting parameters beyond δ and μ1 (seed 001 Lemmas 4–5, made
/// explicit in docs/protocol-b-security.md §2.4): what `dira plan --protocol B` chooses, so a
/// planned experiment can be written down and run exactly as planned. Unset: the seed's choices
/// (κ = μ1/100, δ_Az = δ, τ = √(δ + δ_Az)).
struct ProtocolBAccounting {
  double kappa = 0;                ///< Lemma 5's κ, 0 < κ < μ1/2 (0: μ1/100)
  std::optional<double> delta_az;  ///< Azuma deviation of the Bell test
  std::optional<double> tau;       ///< Lemma 4 threshold
};

struct ExtractorConfig {
  std::string kind = "auto";     ///< auto | dodis | circulant
  double log2_error = -20;       ///< target extractor error 2^log2_error
  bool side_information = true;  ///< error bound in the Markov model of (classical or quantum) side information
};

/// The simulated apparatus (driver `sim`): its settings as YAML gives them, checked against
/// the driver's capabilities (docs/simulator.md).
struct SimulatorConfig {
  bool present = false;
  std::map<std::string, hal::SettingValue> settings;
};

/// One device from a driver: `driver:` and its `settings:` (checked against the driver's
/// capability declarations).
struct DeviceConfig {
  std::string driver;
  std::map<std::string, hal::SettingValue> settings;
};

/// How settings reach the modulators ahead of the trials (hal::SettingScheduler).
struct SchedulerSettings {
  std::uint64_t lookahead = 65536;   ///< streaming: trials delivered beyond the last assembled one
  std::uint64_t batch = 4096;        ///< streaming: trials per upload
  std::uint64_t segment_trials = 0;  ///< segment mode: trials per segment (0: the modulators' capacity)
};

/// Real (or replayed) apparatus: a time tagger from any driver, the channel layout trial
/// assembly needs for it, and optionally one modulator per party (in party order).
struct DevicesConfig {
  bool present = false;
  DeviceConfig tagger;
  hal::TrialAssemblyConfig layout;
  std::vector<DeviceConfig> modulators;
  SchedulerSettings scheduler;
  /// `settings_chosen_by: hardware`: a physical weak source drives the modulators directly (as
  /// in loophole-free tests); trial assembly reads each party's setting from its echo channels
  /// and the ledger records those bits as observed. The `weak_source:` then supplies only the
  /// bits drawn after the outputs are fixed (box choice, extractor), from a separate stream.
  bool hardware_chosen_settings = false;
};

/// One station of the experiment (`stations.members[i]`; docs/stations.md).
struct StationMember {
  std::string name;                  ///< as its station file says `station:`
  std::filesystem::path public_key;  ///< its .pub (resolved against the experiment file's directory)
  std::vector<int> parties;          ///< the parties whose detectors it records, in its channel order
};

/// `stations:` — the experiment's parties on separate stations, merged by the coordinator
/// (`dira run` of this experiment; docs/stations.md). Parsing fills `devices` from it (the
/// `stations` tagger, the merged layout with station s's channel c at s · channel_stride + c,
/// one `station_modulator` per party), so the session runs it as any tagger.
struct StationsConfig {
  bool present = false;
  std::string listen;                  ///< the coordinator's endpoint, where every station connects
  std::filesystem::path key;           ///< the coordinator's secret key
  std::vector<StationMember> members;  ///< station order; member 0 is the merge's time reference
  int sync_channel = 1;                ///< every station's trial-clock channel, in its own numbering
  static constexpr int channel_stride = 256;
};

/// When a run stops (whichever comes first); Protocol B also stops at its planned n.
struct StopConfig {
  std::uint64_t max_trials = 0;  ///< 0: the protocol's own size
  double duration_s = 0;         ///< 0: no time limit
};

struct OutputConfig {
  std::string directory = "runs";  ///< run directories are created under this
  bool raw_tags = false;           ///< also record every time tag in run.h5 (16 bytes per tag)
};

struct ExperimentConfig {
  std::string name;
  std::string file;
  std::string inequality_name;
  protocol::Inequality inequality;
  char protocol = 'B';  ///< 'A', 'B' or 'C'
  /// The one ε of the experiment (`protocol.epsilon`): the SV parameter every security
  /// statement of the run assumes — the protocols, the planner, the setting rule, the weak
  /// source's declared ε and the reports all read it from here. Default: 0.01 (A, B), 1e-3 (C).
  double epsilon = 0.01;
  /// Protocol A's and B's other parameters. Their `epsilon` member is not read from the file:
  /// protocol_a() and protocol_b() fill it in from `epsilon`.
  protocol::ProtocolAParameters a;
  protocol::ProtocolBParameters b;
  ProtocolBAccounting b_accounting;
  ProtocolCParameters c;
  std::vector<std::uint64_t> uses_per_device;  ///< Protocol A: m_j (trials per logical device)
  double security_target = 1e-6;               ///< target distance from uniform d_c (for reports and the planner)
  /// Run even though the parameters violate the protocol's security conditions (seed 001 eq. 87,
  /// completeness): a demonstration; the report states that nothing is certified and why.
  /// Without it such parameters are configuration errors.
  bool demonstration = false;
  WeakSourceConfig weak_source;
  ExtractorConfig extractor;
  std::string device_mapping;  ///< how logical devices map onto apparatus (Protocol A)
  SimulatorConfig simulator;
  StopConfig stop;
  DevicesConfig devices;    ///< instead of `simulator`
  StationsConfig stations;  ///< when given, `devices` is filled from it
  OutputConfig outputs;
  /// The apparatus in the planner's terms, for real devices (`hardware:`); a simulator
  /// reports its own.
  std::optional<protocol::HardwareModel> hardware;
  std::string text;  ///< the exact YAML text the config was read from

  /// Protocol A's parameters with the experiment's ε.
  protocol::ProtocolAParameters protocol_a() const {
    auto p = a;
    p.epsilon = epsilon;
    return p;
  }
  /// Protocol B's parameters with the experiment's ε.
  protocol::ProtocolBParameters protocol_b() const {
    auto p = b;
    p.epsilon = epsilon;
    return p;
  }
};

/// Protocol B's security accounting input for `trials` trials: the experiment's ε, δ, μ1, u* and
/// the accounting parameters it states (one place, so the run, `dira analyze` and the
/// validation of the file use the same constants).
protocol::ProtocolBSecurityInput protocol_b_security_input(const ExperimentConfig& config, double trials);

/// Parses and validates, including the protocol's own parameter conditions; throws
/// ConfigError listing every problem (file:line:column, key path).
ExperimentConfig load_experiment_text(std::string_view yaml, const std::string& file_name,
                                      const std::filesystem::path& config_dir = {});
ExperimentConfig load_experiment_file(const std::filesystem::path& path, const std::filesystem::path& config_dir = {});

}  // namespace dira::app
