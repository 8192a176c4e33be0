// The physical simulator (issue 4 §2). The model and every setting are described in
// docs/simulator.md; the comments here say why the code does what it does.
#include "dira/sim/physical.hpp"

#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/ns_lp.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/sim/box_sampler.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dira::sim {

namespace {

using hal::Capability;
using hal::SettingValue;
using hal::TagBlock;
using protocol::Behaviour;
using protocol::Scenario;
using protocol::Trial;

constexpr double kTwo64 = 18446744073709551616.0;
constexpr double kTwo32 = 4294967296.0;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxErrorTrials = 1000;
/// Jitter is drawn from a Gaussian truncated at ±8σ (probability of truncation ~1e-15), so a
/// block can be cut at a time after which no earlier tag can still appear.
constexpr double kJitterTruncation = 8;

// ---------------------------------------------------------------------------------------------
// Random draws. Everything comes from one sim::Rng in a fixed order per trial, so the tag stream
// is a function of (settings, seed, schedule) only — not of block sizes or pacing.

/// Bernoulli(p) by comparing 64 random bits against p·2^64: one draw, no floating point.
class Bernoulli {
 public:
  explicit Bernoulli(double p = 0) {
    if (!(p > 0)) {
      never_ = true;
    } else if (p >= 1 || p * kTwo64 >= kTwo64) {
      always_ = true;
    } else {
      threshold_ = static_cast<std::uint64_t>(p * kTwo64);
    }
  }
  /// Consumes a random number only when the outcome is not certain.
  bool draw(Rng& rng) const {
    if (always_) return true;
    if (never_) return false;
    return rng.next() < threshold_;
  }
  bool certain() const { return always_ || never_; }

 private:
  std::uint64_t threshold_ = 0;
  bool always_ = false, never_ = false;
};

/// Uniform in (0, 1]: safe for logarithms.
double open_uniform(Rng& rng) {
  return static_cast<double>((rng.next() >> 11) + 1) * 0x1.0p-53;
}

/// Standard normal by Marsaglia and Tsang's ziggurat (J. Stat. Softw. 5(8), 2000), 128 layers:
/// one 64-bit draw in ~99 % of cases (low 7 bits pick the layer, high 32 bits the abscissa), so
/// jitter on every tag stays cheap. Box–Muller needs a log and a sincos per pair.
class Gaussian {
 public:
  Gaussian() {
    constexpr double m1 = 2147483648.0, vn = 9.91256303526217e-3;
    double dn = kR, tn = dn;
    const double q = vn / std::exp(-0.5 * dn * dn);
    kn_[0] = static_cast<std::uint32_t>((dn / q) * m1);
    kn_[1] = 0;
    wn_[0] = q / m1;
    wn_[127] = dn / m1;
    fn_[0] = 1.0;
    fn_[127] = std::exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; --i) {
      dn = std::sqrt(-2 * std::log(vn / dn + std::exp(-0.5 * dn * dn)));
      kn_[i + 1] = static_cast<std::uint32_t>((dn / tn) * m1);
      tn = dn;
      fn_[i] = std::exp(-0.5 * dn * dn);
      wn_[i] = dn / m1;
    }
  }
  double draw(Rng& rng) const {
    for (;;) {
      const std::uint64_t r = rng.next();
      const auto iz = static_cast<std::size_t>(r & 127);
      const auto hz = static_cast<std::int32_t>(static_cast<std::uint32_t>(r >> 32));
      const double x = hz * wn_[iz];
      const std::uint64_t mag =
          hz < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(hz)) : static_cast<std::uint64_t>(hz);
      if (mag < kn_[iz]) return x;  // inside the layer's rectangle
      if (iz == 0) {                // the tail beyond r
        double t, y;
        do {
          t = -std::log(open_uniform(rng)) / kR;
          y = -std::log(open_uniform(rng));
        } while (y + y < t * t);
        return hz > 0 ? kR + t : -kR - t;
      }
      if (fn_[iz] + rng.uniform() * (fn_[iz - 1] - fn_[iz]) < std::exp(-0.5 * x * x)) return x;  // wedge
    }
  }

 private:
  static constexpr double kR = 3.442619855899;
  std::array<std::uint32_t, 128> kn_{};
  std::array<double, 128> wn_{}, fn_{};
};

/// Walker/Vose alias tables: one row per joint setting, one column per joint outcome. A draw is
/// one 64-bit number (high half picks the column, low half decides column or alias), O(1).
/// Columns of probability 0 get threshold 0 and are never returned.
class AliasTable {
 public:
  AliasTable(std::size_t rows, std::size_t columns)
      : columns_(columns), threshold_(rows * columns, 0), alias_(rows * columns, 0) {}
  void build_row(std::size_t row, const double* p) {
    const std::size_t n = columns_;
    std::vector<double> q(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += std::max(p[i], 0.0);
    for (std::size_t i = 0; i < n; ++i) q[i] = std::max(p[i], 0.0) / sum * static_cast<double>(n);
    std::vector<std::size_t> small, large;
    for (std::size_t i = 0; i < n; ++i) (q[i] < 1 ? small : large).push_back(i);
    std::uint64_t* thr = &threshold_[row * n];
    std::uint32_t* alias = &alias_[row * n];
    while (!small.empty() && !large.empty()) {
      const std::size_t s = small.back(), l = large.back();
      small.pop_back();
      thr[s] = std::min(static_cast<std::uint64_t>(std::llround(q[s] * kTwo32)), std::uint64_t{1} << 32);
      alias[s] = static_cast<std::uint32_t>(l);
      q[l] -= 1 - q[s];
      if (q[l] < 1) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Left-overs have q = 1 up to rounding (the total is invariant): always themselves.
    for (std::size_t i : small) thr[i] = std::uint64_t{1} << 32, alias[i] = static_cast<std::uint32_t>(i);
    for (std::size_t i : large) thr[i] = std::uint64_t{1} << 32, alias[i] = static_cast<std::uint32_t>(i);
  }
  std::size_t sample(std::size_t row, std::uint64_t r) const {
    const std::size_t col = static_cast<std::size_t>(((r >> 32) * columns_) >> 32);
    const std::size_t k = row * columns_ + col;
    return (r & 0xffffffffu) < threshold_[k] ? col : alias_[k];
  }

 private:
  std::size_t columns_;
  std::vector<std::uint64_t> threshold_;
  std::vector<std::uint32_t> alias_;
};

// ---------------------------------------------------------------------------------------------
// Settings as data.

const char* name(SourceKind k) {
  switch (k) {
    case SourceKind::quantum:
      return "quantum";
    case SourceKind::local:
      return "local";
    case SourceKind::no_signalling:
      return "no_signalling";
    case SourceKind::memory:
      return "memory";
    case SourceKind::behaviour:
      return "behaviour";
  }
  return "?";
}

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

/// Reads a value, defaulted from the capability.
struct Reader {
  const SettingsMap& given;
  const SettingValue& value(const std::string& key) const {
    if (auto it = given.find(key); it != given.end()) return it->second;
    for (const auto& c : sim_capabilities())
      if (c.key == key) return c.default_value;
    throw std::logic_error("sim: no capability " + key);
  }
  double real(const std::string& key) const {
    const auto& v = value(key);
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    return std::get<double>(v);
  }
  std::int64_t integer(const std::string& key) const { return std::get<std::int64_t>(value(key)); }
  bool boolean(const std::string& key) const { return std::get<bool>(value(key)); }
  const std::string& text(const std::string& key) const { return std::get<std::string>(value(key)); }
};

std::size_t setting_index(const Scenario& sc, const Trial& t) {
  std::size_t u = 0;
  for (int p = 0; p < sc.parties(); ++p)
    u = u * static_cast<std::size_t>(sc.settings(p)) + t.u[static_cast<std::size_t>(p)];
  return u;
}

/// The unitary applied to a party's measurement bases (docs/simulator.md, "Misalignment").
Eigen::MatrixXcd misalignment_unitary(int d, double theta, MisalignmentKind kind, Rng& rng) {
  using Mat = Eigen::MatrixXcd;
  if (kind == MisalignmentKind::fixed) {
    // exp(−iθσ_y) on each pair of components: a real rotation by θ.
    Mat u = Mat::Identity(d, d);
    for (int k = 0; k + 1 < d; k += 2) {
      u(k, k) = std::cos(theta);
      u(k, k + 1) = -std::sin(theta);
      u(k + 1, k) = std::sin(theta);
      u(k + 1, k + 1) = std::cos(theta);
    }
    return u;
  }
  Gaussian g;
  Mat a(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) a(i, j) = std::complex<double>(g.draw(rng), g.draw(rng));
  const Mat h = (a + a.adjoint()) / 2.0;
  Eigen::SelfAdjointEigenSolver<Mat> es(h);
  const Eigen::VectorXd lambda = es.eigenvalues();
  const double norm = std::max(lambda.cwiseAbs().maxCoeff(), 1e-300);
  Eigen::VectorXcd phase(d);
  for (int k = 0; k < d; ++k) phase(k) = std::exp(std::complex<double>(0, -theta * lambda(k) / norm));
  return es.eigenvectors() * phase.asDiagonal() * es.eigenvectors().adjoint();
}

void check_behaviour(const Scenario& sc, const Behaviour& p) {
  if (p.size() != sc.size()) throw std::invalid_argument("sim: behaviour of the wrong size for the scenario");
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double s = 0;
    for (std::size_t x = 0; x < nx; ++x) {
      const double v = p[u * nx + x];
      if (!(v >= -1e-9)) throw std::invalid_argument("sim: behaviour has a negative or NaN probability");
      s += v;
    }
    if (std::fabs(s - 1) > 1e-6)
      throw std::invalid_argument("sim: behaviour not normalised at setting " + std::to_string(u));
  }
}

void check_scenario(const Scenario& sc) {
  if (sc.parties() < 1 || sc.parties() > protocol::kMaxParties) throw std::invalid_argument("sim: 1 to 4 parties");
  for (int p = 0; p < sc.parties(); ++p) {
    if (sc.settings(p) > 32) throw std::invalid_argument("sim: at most 32 settings per party (echo channels)");
    if (sc.outcomes(p) > 32) throw std::invalid_argument("sim: at most 32 outcomes per party (detector channels)");
  }
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Public helpers

const std::vector<Capability>& sim_capabilities() {
  static const std::vector<Capability> caps = make_capabilities();
  return caps;
}

PhysicalSettings PhysicalSettings::from(const SettingsMap& given) {
  std::vector<std::string> problems;
  for (const auto& [key, value] : given) {
    const auto& caps = sim_capabilities();
    const auto it = std::find_if(caps.begin(), caps.end(), [&](const Capability& c) { return c.key == key; });
    if (it == caps.end()) {
      problems.push_back("unknown setting '" + key + "'");
      continue;
    }
    if (auto msg = hal::check_value(*it, value); !msg.empty()) problems.push_back(key + ": " + msg);
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw std::invalid_argument("sim: " + all);
  }
  const Reader r{given};
  PhysicalSettings s;
  const std::string& src = r.text("source");
  s.source = src == "quantum"         ? SourceKind::quantum
             : src == "local"         ? SourceKind::local
             : src == "no_signalling" ? SourceKind::no_signalling
             : src == "memory"        ? SourceKind::memory
                                      : SourceKind::behaviour;
  s.seed = static_cast<std::uint64_t>(r.integer("seed"));
  s.sync_period_ps = r.integer("sync_period_ps");
  s.emission_probability = r.real("emission_probability");
  s.visibility = r.real("visibility");
  s.misalignment_rad = r.real("misalignment_rad");
  s.misalignment = r.text("misalignment") == "fixed" ? MisalignmentKind::fixed : MisalignmentKind::random;
  s.efficiency = r.real("efficiency");
  s.dark_count_rate_hz = r.real("dark_count_rate_hz");
  s.dead_time_ps = r.integer("dead_time_ps");
  s.jitter_ps = r.real("jitter_ps");
  s.detection_delay_ps = r.integer("detection_delay_ps");
  s.detection_window_ps = r.integer("detection_window_ps");
  s.switching_time_ps = r.integer("switching_time_ps");
  s.setting_error_rate = r.real("setting_error_rate");
  s.echo = r.boolean("echo");
  s.echo_delay_ps = r.integer("echo_delay_ps");
  s.echo_window_ps = r.integer("echo_window_ps");
  s.logical_devices = static_cast<std::uint32_t>(r.integer("logical_devices"));
  s.device_assignment =
      r.text("device_assignment") == "blocks" ? DeviceAssignment::blocks : DeviceAssignment::round_robin;
  s.device_block_trials = static_cast<std::uint64_t>(r.integer("device_block_trials"));
  s.apparatus = r.text("apparatus") == "independent" ? ApparatusKind::independent : ApparatusKind::shared;
  s.station_layout = r.text("station_layout") == "per_party" ? StationLayoutKind::per_party : StationLayoutKind::shared;
  s.station = static_cast<int>(r.integer("station"));
  s.pace = r.real("pace");
  s.block_trials = static_cast<std::uint64_t>(r.integer("block_trials"));
  s.trials = static_cast<std::uint64_t>(r.integer("trials"));
  s.fail_after_trials = static_cast<std::uint64_t>(r.integer("fail_after_trials"));

  // Cross-field rules: windows must lie inside one period, or the assembler would give a tag two trials.
  const auto window_inside = [&](const char* what, std::int64_t delay, std::int64_t width) {
    if (delay - width / 2 < 0 || delay + (width - width / 2) > s.sync_period_ps)
      problems.push_back(std::string(what) +
                         " window [delay − width/2, delay + width/2) must lie inside [0, sync_period_ps)");
  };
  window_inside("detection", s.detection_delay_ps, s.detection_window_ps);
  if (s.echo) window_inside("echo", s.echo_delay_ps, s.echo_window_ps);
  if (s.switching_time_ps > s.sync_period_ps)
    problems.push_back("switching_time_ps longer than the trial period: settings could never settle");
  if (s.station_layout == StationLayoutKind::shared && s.station != 0)
    problems.push_back("station must be 0 with station_layout = shared");
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw std::invalid_argument("sim: " + all);
  }
  return s;
}

double PhysicalSettings::dark_count_probability() const {
  return -std::expm1(-dark_count_rate_hz * static_cast<double>(detection_window_ps) * 1e-12);
}

std::uint32_t PhysicalSettings::device_of(std::uint64_t trial) const {
  const std::uint64_t k = logical_devices;
  if (k <= 1) return 0;
  if (device_assignment == DeviceAssignment::round_robin) return static_cast<std::uint32_t>(trial % k);
  return static_cast<std::uint32_t>((trial / device_block_trials) % k);
}

hal::TrialAssemblyConfig sim_layout(const PhysicalSettings& s, const Scenario& sc) {
  check_scenario(sc);
  hal::TrialAssemblyConfig c;
  c.sync_period_ps = s.sync_period_ps;
  c.detection_offset_ps = s.detection_delay_ps - s.detection_window_ps / 2;
  c.detection_width_ps = s.detection_window_ps;
  if (s.echo) {
    c.echo_offset_ps = s.echo_delay_ps - s.echo_window_ps / 2;
    c.echo_width_ps = s.echo_window_ps;
  }
  int next = 2;
  for (int p = 0; p < sc.parties(); ++p) {
    hal::StationLayout l;
    if (s.station_layout == StationLayoutKind::per_party) {
      l.station = p;
      next = 2;
    }
    l.sync_channel = 1;
    for (int o = 0; o < sc.outcomes(p); ++o) l.detector_channels.push_back(next++);
    if (s.echo)
      for (int v = 0; v < sc.settings(p); ++v) l.echo_channels.push_back(next++);
    c.parties.push_back(std::move(l));
  }
  return c;
}

hal::TrialAssemblyConfig sim_layout(const SettingsMap& settings, const Scenario& sc) {
  return sim_layout(PhysicalSettings::from(settings), sc);
}

SettingSchedule with_logical_devices(SettingSchedule schedule, const PhysicalSettings& settings) {
  return [schedule = std::move(schedule), settings](std::uint64_t i) {
    Trial t = schedule(i);
    t.device = settings.device_of(i);
    return t;
  };
}

Behaviour no_signalling_box(const protocol::Inequality& ineq) {
  const Scenario& sc = ineq.expression.scenario();
  protocol::LinearObjective objective;
  if (!ineq.events.empty()) {
    objective.terms.emplace_back(sc.index(ineq.events[0].setting, ineq.events[0].event), protocol::Rational(1));
  } else {
    const auto in = ineq.expression.settings_in_expression();
    if (in.empty()) throw std::invalid_argument("sim: the expression has no terms");
    objective.terms.emplace_back(in[0] * sc.outcome_count(), protocol::Rational(1));
  }
  protocol::NoSignallingLp lp(ineq.expression);
  const auto sol = lp.maximize(objective, protocol::Rational(0), false);
  Behaviour p = sol.primal;
  if (p.size() != sc.size()) throw std::runtime_error("sim: the no-signalling LP returned no behaviour");
  const std::size_t nx = sc.outcome_count();
  for (std::size_t u = 0; u < sc.setting_count(); ++u) {
    double s = 0;
    for (std::size_t x = 0; x < nx; ++x) s += p[u * nx + x] = std::max(p[u * nx + x], 0.0);
    for (std::size_t x = 0; x < nx; ++x) p[u * nx + x] /= s;
  }
  return p;
}

MemoryStrategy repeat_guess_strategy(const protocol::BellExpression& expression) {
  const Scenario sc = expression.scenario();
  const protocol::LocalBound lb = protocol::local_bound(expression);
  auto table = std::make_shared<std::vector<protocol::DeterministicStrategy>>(sc.setting_count(), lb.optimal);
  for (std::size_t v = 0; v < sc.setting_count(); ++v) {
    const protocol::Setting vs = sc.setting_at(v);
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    for (std::size_t xi = 0; xi < sc.outcome_count(); ++xi) {
      if (expression.coefficient(v * sc.outcome_count() + xi) != 0) continue;
      const protocol::Outcome x = sc.outcome_at(xi);
      protocol::DeterministicStrategy s = lb.optimal;
      for (std::size_t p = 0; p < x.size(); ++p) s[p][static_cast<std::size_t>(vs[p])] = x[p];
      const std::int64_t value = protocol::deterministic_value(expression, s);
      if (value < best) {
        best = value;
        (*table)[v] = std::move(s);
      }
    }
  }
  auto base = std::make_shared<protocol::DeterministicStrategy>(lb.optimal);
  return [sc, table, base](const Trial* previous, Trial& current, Rng& /*rng*/) {
    const protocol::DeterministicStrategy& s = previous ? (*table)[setting_index(sc, *previous)] : *base;
    for (std::size_t p = 0; p < s.size(); ++p) current.x[p] = static_cast<std::uint8_t>(s[p][current.u[p]]);
  };
}

SimClock SimClock::steady() {
  SimClock c;
  c.now = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
  };
  c.sleep_for = [](std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); };
  return c;
}

// -----------------------------------------------------------------------------------------------
// The running model

struct PhysicalSimulator::Model {
  enum class Phase { header, running, finishing, ended };

  /// Per apparatus (one, or one per logical device with apparatus = independent).
  struct Apparatus {
    std::size_t table = 0;                                        // alias table of its source
    std::array<std::uint8_t, protocol::kMaxParties> modulator{};  // setting each modulator holds
    std::vector<std::int64_t> dead_until;                         // per detector (flattened)
    std::vector<std::int64_t> next_dark;                          // next dark count of each detector
    Trial previous;                                               // for the memory box
    bool has_previous = false;
  };

  const PhysicalSettings s;
  const Scenario sc;
  const SettingSchedule* schedule = nullptr;
  SimCounters* counters = nullptr;

  int parties = 0;
  std::array<int, protocol::kMaxParties> nset{}, nout{}, det_base{};
  int detectors = 0;
  std::vector<std::uint32_t> decode;  // joint outcome index → outcome of party p in byte p
  std::vector<AliasTable> tables;
  MemoryStrategy memory;

  Bernoulli emission, efficiency, setting_error;
  double dark_rate_per_ps = 0;
  bool late_switch = false;
  std::int64_t jitter_margin = 0;

  std::vector<int> sync_channels;
  std::array<bool, protocol::kMaxParties> emit_party{};
  std::vector<int> det_channel;
  std::array<std::vector<int>, protocol::kMaxParties> echo_channel;
  std::size_t tags_per_trial = 1;

  std::vector<Apparatus> apparatus;
  Rng rng;
  Gaussian gauss;
  std::uint64_t generated = 0;
  std::uint64_t limit = 0;  // 0: none
  bool limit_fails = false;
  TagBlock carry;
  Phase phase = Phase::header;
  bool stop_requested = false;
  bool end_error = false;
  std::string end_reason;
  std::chrono::nanoseconds started_at{0};

  Model(const PhysicalSettings& settings, const Scenario& scenario) : s(settings), sc(scenario), rng(settings.seed) {}

  std::int64_t sync_time(std::uint64_t i) const {
    return s.sync_period_ps + static_cast<std::int64_t>(i) * s.sync_period_ps;
  }

  static void push(TagBlock& out, int channel, std::int64_t time) {
    hal::Tag tag;
    tag.channel = channel;
    tag.time_ps = time;
    if (out.empty() || out.back().time_ps <= time) {
      out.push_back(tag);
      return;
    }
    // Insertion from the back: the stream is nearly sorted (only jitter and dark counts reorder it).
    out.push_back(tag);
    std::size_t k = out.size() - 1;
    while (k > 0 && out[k - 1].time_ps > time) {
      out[k] = out[k - 1];
      --k;
    }
    out[k] = tag;
  }

  std::int64_t exponential_ps() {
    const double gap = -std::log(open_uniform(rng)) / dark_rate_per_ps;
    return gap >= 9e18 ? kNever / 2 : std::max<std::int64_t>(1, std::llround(gap));
  }

  void click(Apparatus& a, int det, int party, std::int64_t t, bool dark, TagBlock& out) {
    if (t < a.dead_until[static_cast<std::size_t>(det)]) {
      ++counters->dead_time_losses;
      return;
    }
    a.dead_until[static_cast<std::size_t>(det)] = t + s.dead_time_ps;
    ++(dark ? counters->dark_clicks : counters->photon_clicks);
    std::int64_t tag = t;
    if (s.jitter_ps > 0) {
      const double d = std::clamp(gauss.draw(rng), -kJitterTruncation, kJitterTruncation) * s.jitter_ps;
      tag += static_cast<std::int64_t>(d + (d < 0 ? -0.5 : 0.5));  // nearest ps
    }
    if (emit_party[static_cast<std::size_t>(party)])
      push(out, det_channel[static_cast<std::size_t>(det)], std::max<std::int64_t>(tag, 0));
  }

  void generate_trial(std::uint64_t i, TagBlock& out) {
    const std::int64_t t0 = sync_time(i);
    const Trial want = (*schedule)(i);
    const std::uint32_t device = s.device_of(i);
    Apparatus& a = apparatus.size() == 1 ? apparatus[0] : apparatus[device];
    for (int ch : sync_channels) push(out, ch, t0);

    // Modulators: commanded at the sync edge; an error replaces the setting (the echo shows the
    // replacement); a slow switch leaves the photon measured with the setting held before.
    Trial m;
    m.index = i;
    m.device = device;
    for (int p = 0; p < parties; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      int c = want.u[pi];
      if (c >= nset[pi])
        throw std::invalid_argument("sim: the schedule gave setting " + std::to_string(c) + " to party " +
                                    std::to_string(p) + " in trial " + std::to_string(i));
      if (nset[pi] > 1 && setting_error.draw(rng)) {
        const int r = static_cast<int>(((rng.next() >> 32) * static_cast<std::uint64_t>(nset[pi] - 1)) >> 32);
        c = r >= c ? r + 1 : r;
        ++counters->setting_errors;
        if (counters->setting_error_trials.size() < kMaxErrorTrials &&
            (counters->setting_error_trials.empty() || counters->setting_error_trials.back() != i))
          counters->setting_error_trials.push_back(i);
      }
      const auto applied = static_cast<std::uint8_t>(c);
      if (late_switch && applied != a.modulator[pi]) {
        m.u[pi] = a.modulator[pi];
        ++counters->late_switches;
      } else {
        m.u[pi] = applied;
      }
      a.modulator[pi] = applied;
      if (s.echo && emit_party[pi]) push(out, echo_channel[pi][applied], t0 + s.echo_delay_ps);
    }

    // Source.
    const bool emitted = emission.draw(rng);
    if (emitted) {
      ++counters->emissions;
      if (memory) {
        memory(a.has_previous ? &a.previous : nullptr, m, rng);
        for (int p = 0; p < parties; ++p)
          if (m.x[static_cast<std::size_t>(p)] >= nout[static_cast<std::size_t>(p)])
            throw std::invalid_argument("sim: the memory box gave an outcome out of range in trial " +
                                        std::to_string(i));
      } else {
        std::size_t u = 0;
        for (int p = 0; p < parties; ++p)
          u = u * static_cast<std::size_t>(nset[static_cast<std::size_t>(p)]) + m.u[static_cast<std::size_t>(p)];
        const std::size_t x = tables[a.table].sample(u, rng.next());
        const std::uint32_t packed = decode[x];
        for (int p = 0; p < parties; ++p)
          m.x[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(packed >> (8 * p));
      }
    }
    a.previous = m;  // the box remembers the settings even when nothing was emitted
    a.has_previous = true;

    // Detectors: the photon of party p goes to detector x_p (docs/simulator.md, "Detectors").
    const std::int64_t end = t0 + s.sync_period_ps;
    for (int p = 0; p < parties; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      int hit = -1;
      if (emitted && efficiency.draw(rng)) hit = m.x[pi];
      if (dark_rate_per_ps <= 0) {  // only the photon can click
        if (hit >= 0) click(a, det_base[pi] + hit, p, t0 + s.detection_delay_ps, false, out);
        continue;
      }
      for (int o = 0; o < nout[pi]; ++o) {
        const int det = det_base[pi] + o;
        std::int64_t photon = o == hit ? t0 + s.detection_delay_ps : kNever;
        // Dark counts: a Poisson process per detector, sampled by its arrival times. An
        // apparatus idle in other trials (independent) restarts it: memoryless, so exact.
        std::int64_t& nd = a.next_dark[static_cast<std::size_t>(det)];
        if (nd < t0) nd = t0 + exponential_ps();
        for (;;) {
          if (nd < end && nd < photon) {
            const std::int64_t t = nd;
            nd = nd >= kNever / 2 ? kNever / 2 : nd + exponential_ps();
            click(a, det, p, t, true, out);
          } else if (photon != kNever) {
            click(a, det, p, photon, false, out);
            photon = kNever;
          } else {
            break;
          }
        }
      }
    }
    ++counters->trials;
  }
};

// -----------------------------------------------------------------------------------------------
// PhysicalSimulator

PhysicalSimulator::PhysicalSimulator(const SettingsMap& settings)
    : values_(settings), settings_(PhysicalSettings::from(settings)), clock_(SimClock::steady()) {}

PhysicalSimulator::PhysicalSimulator(const SettingsMap& settings, const protocol::Inequality& inequality,
                                     SettingSchedule schedule, std::optional<hal::TrialAssemblyConfig> layout)
    : PhysicalSimulator(settings) {
  bind(inequality, std::move(schedule), std::move(layout));
}

PhysicalSimulator::PhysicalSimulator(const SettingsMap& settings, const Scenario& scenario, const Behaviour& behaviour,
                                     SettingSchedule schedule, std::optional<hal::TrialAssemblyConfig> layout)
    : PhysicalSimulator(settings) {
  bind(scenario, behaviour, std::move(schedule), std::move(layout));
}

PhysicalSimulator::~PhysicalSimulator() = default;

void PhysicalSimulator::bind(const protocol::Inequality& inequality, SettingSchedule schedule,
                             std::optional<hal::TrialAssemblyConfig> layout) {
  if (streaming()) throw std::logic_error("sim: bind() while streaming");
  if (settings_.source == SourceKind::behaviour)
    throw std::invalid_argument("sim: source = behaviour needs bind(scenario, behaviour, …)");
  if (settings_.source == SourceKind::quantum && !inequality.quantum)
    throw std::invalid_argument("sim: inequality '" + inequality.name + "' has no quantum realisation");
  check_scenario(inequality.expression.scenario());
  inequality_ = inequality;
  scenario_ = inequality.expression.scenario();
  behaviour_.reset();
  custom_memory_ = nullptr;
  custom_name_.clear();
  schedule_ = std::move(schedule);
  custom_layout_ = std::move(layout);
  rebind_check();
}

void PhysicalSimulator::bind(const Scenario& scenario, const Behaviour& behaviour, SettingSchedule schedule,
                             std::optional<hal::TrialAssemblyConfig> layout) {
  if (streaming()) throw std::logic_error("sim: bind() while streaming");
  check_scenario(scenario);
  check_behaviour(scenario, behaviour);
  values_["source"] = std::string("behaviour");
  settings_.source = SourceKind::behaviour;
  inequality_.reset();
  scenario_ = scenario;
  behaviour_ = behaviour;
  custom_memory_ = nullptr;
  custom_name_.clear();
  schedule_ = std::move(schedule);
  custom_layout_ = std::move(layout);
  rebind_check();
}

void PhysicalSimulator::bind(const Scenario& scenario, MemoryStrategy strategy, std::string name,
                             SettingSchedule schedule, std::optional<hal::TrialAssemblyConfig> layout) {
  if (streaming()) throw std::logic_error("sim: bind() while streaming");
  check_scenario(scenario);
  if (!strategy) throw std::invalid_argument("sim: empty memory strategy");
  values_["source"] = std::string("memory");
  settings_.source = SourceKind::memory;
  inequality_.reset();
  scenario_ = scenario;
  behaviour_.reset();
  custom_memory_ = std::move(strategy);
  custom_name_ = std::move(name);
  schedule_ = std::move(schedule);
  custom_layout_ = std::move(layout);
  rebind_check();
}

bool PhysicalSimulator::streaming() const {
  return model_ && model_->phase != Model::Phase::ended;
}

bool PhysicalSimulator::bound() const {
  return scenario_.has_value() && static_cast<bool>(schedule_);
}

void PhysicalSimulator::rebind_check() {
  if (!scenario_) return;
  if (!schedule_) throw std::invalid_argument("sim: empty schedule");
  const Scenario& sc = *scenario_;
  hal::TrialAssemblyConfig l = custom_layout_ ? *custom_layout_ : sim_layout(settings_, sc);
  hal::validate(l);
  if (static_cast<int>(l.parties.size()) != sc.parties())
    throw std::invalid_argument("sim: the layout has " + std::to_string(l.parties.size()) + " parties, the scenario " +
                                std::to_string(sc.parties()));
  if (l.sync_period_ps != settings_.sync_period_ps)
    throw std::invalid_argument("sim: the layout's sync period differs from sync_period_ps");
  bool any = false;
  for (int p = 0; p < sc.parties(); ++p) {
    const auto& st = l.parties[static_cast<std::size_t>(p)];
    if (static_cast<int>(st.detector_channels.size()) != sc.outcomes(p))
      throw std::invalid_argument("sim: party " + std::to_string(p) + " needs one detector channel per outcome");
    const std::size_t echoes = settings_.echo ? static_cast<std::size_t>(sc.settings(p)) : 0;
    if (st.echo_channels.size() != echoes)
      throw std::invalid_argument("sim: party " + std::to_string(p) +
                                  (settings_.echo ? " needs one echo channel per setting value (echo is on)"
                                                  : " has echo channels but echo is off"));
    any = any || st.station == settings_.station;
  }
  if (!any)
    throw std::invalid_argument("sim: no party of the layout is on station " + std::to_string(settings_.station));
  layout_ = std::move(l);
}

const hal::TrialAssemblyConfig& PhysicalSimulator::layout() const {
  if (!bound()) throw std::logic_error("sim: layout() before bind()");
  return layout_;
}

void PhysicalSimulator::set_clock(SimClock clock) {
  if (!clock.now || !clock.sleep_for) throw std::invalid_argument("sim: a clock needs now and sleep_for");
  clock_ = std::move(clock);
}

std::string PhysicalSimulator::identity() const {
  std::ostringstream os;
  os << "sim: " << name(settings_.source);
  if (inequality_)
    os << " " << inequality_->name;
  else if (!custom_name_.empty())
    os << " " << custom_name_;
  else if (scenario_)
    os << " " << scenario_->describe();
  os << ", seed " << settings_.seed << ", ";
  const auto k = settings_.logical_devices;
  if (k == 1) {
    os << "1 logical device";
  } else {
    os << k << " logical devices (";
    if (settings_.device_assignment == DeviceAssignment::round_robin)
      os << "round_robin";
    else
      os << "blocks of " << settings_.device_block_trials << " trials";
    os << ", "
       << (settings_.apparatus == ApparatusKind::shared ? "one shared apparatus"
                                                        : std::to_string(k) + " independent apparatuses")
       << ")";
  }
  os << ", station " << settings_.station
     << (settings_.station_layout == StationLayoutKind::shared ? " (all parties)" : " (per-party stations)");
  return os.str();
}

void PhysicalSimulator::set(const std::string& key, const SettingValue& value) {
  const auto& caps = sim_capabilities();
  const auto it = std::find_if(caps.begin(), caps.end(), [&](const Capability& c) { return c.key == key; });
  if (it == caps.end()) throw std::invalid_argument("sim: unknown setting '" + key + "'");
  if (auto msg = hal::check_value(*it, value); !msg.empty()) throw std::invalid_argument("sim: " + key + ": " + msg);
  if (streaming())
    throw std::logic_error("sim: settings cannot change while streaming (stop and read to the end first)");
  SettingsMap next = values_;
  next[key] = value;
  PhysicalSettings parsed = PhysicalSettings::from(next);
  const SettingsMap old_values = values_;
  const PhysicalSettings old = settings_;
  values_ = std::move(next);
  settings_ = parsed;
  try {
    rebind_check();
  } catch (...) {
    values_ = old_values;
    settings_ = old;
    throw;
  }
}

SettingValue PhysicalSimulator::get(const std::string& key) const {
  if (auto it = values_.find(key); it != values_.end()) return it->second;
  for (const auto& c : sim_capabilities())
    if (c.key == key) return c.default_value;
  throw std::invalid_argument("sim: unknown setting '" + key + "'");
}

std::vector<int> PhysicalSimulator::channels() const {
  std::set<int> out;
  if (!bound()) return {};
  for (const auto& st : layout_.parties) {
    if (st.station != settings_.station) continue;
    out.insert(st.sync_channel);
    out.insert(st.detector_channels.begin(), st.detector_channels.end());
    out.insert(st.echo_channels.begin(), st.echo_channels.end());
  }
  return {out.begin(), out.end()};
}

void PhysicalSimulator::start() {
  if (!bound()) throw std::logic_error("sim: bind an inequality or behaviour and a schedule before start()");
  rebind_check();
  const PhysicalSettings& s = settings_;
  const Scenario& sc = *scenario_;
  auto m = std::make_unique<Model>(s, sc);
  counters_ = SimCounters{};
  m->schedule = &schedule_;
  m->counters = &counters_;
  m->parties = sc.parties();
  for (int p = 0, base = 0; p < sc.parties(); ++p) {
    const auto pi = static_cast<std::size_t>(p);
    m->nset[pi] = sc.settings(p);
    m->nout[pi] = sc.outcomes(p);
    m->det_base[pi] = base;
    base += sc.outcomes(p);
    m->detectors = base;
  }
  m->decode.resize(sc.outcome_count());
  for (std::size_t x = 0; x < sc.outcome_count(); ++x) {
    const protocol::Outcome o = sc.outcome_at(x);
    std::uint32_t packed = 0;
    for (std::size_t p = 0; p < o.size(); ++p) packed |= static_cast<std::uint32_t>(o[p]) << (8 * p);
    m->decode[x] = packed;
  }

  // Apparatuses and their sources.
  const bool independent = s.apparatus == ApparatusKind::independent && s.logical_devices > 1;
  const std::size_t napp = independent ? s.logical_devices : 1;
  const auto table_from = [&](const Behaviour& p) {
    check_behaviour(sc, p);
    AliasTable t(sc.setting_count(), sc.outcome_count());
    for (std::size_t u = 0; u < sc.setting_count(); ++u) t.build_row(u, &p[u * sc.outcome_count()]);
    return t;
  };
  std::size_t tables_per_apparatus = 0;  // 0: one table shared by all
  switch (s.source) {
    case SourceKind::quantum: {
      if (!inequality_ || !inequality_->quantum)
        throw std::invalid_argument("sim: source = quantum needs an inequality with a quantum realisation");
      // Misalignment draws come from their own stream so that they do not shift the trial stream.
      Rng mis(s.seed ^ 0x6d6973616c69676eull);
      const bool per_apparatus = s.misalignment_rad > 0 && s.misalignment == MisalignmentKind::random && independent;
      if (per_apparatus && napp > 4096)
        throw std::invalid_argument("sim: at most 4096 independent apparatuses with random misalignment");
      const std::size_t ntables = per_apparatus ? napp : 1;
      for (std::size_t k = 0; k < ntables; ++k) {
        protocol::QuantumRealisation q = *inequality_->quantum;
        if (s.misalignment_rad > 0)
          for (int p = 0; p < sc.parties(); ++p) {
            const auto pi = static_cast<std::size_t>(p);
            const Eigen::MatrixXcd u =
                misalignment_unitary(q.local_dimension[pi], s.misalignment_rad, s.misalignment, mis);
            for (auto& basis : q.bases[pi]) basis = u * basis;
          }
        m->tables.push_back(table_from(white_noise(sc, protocol::quantum_behaviour(sc, q), s.visibility)));
      }
      tables_per_apparatus = per_apparatus ? 1 : 0;
      break;
    }
    case SourceKind::local:
      if (!inequality_) throw std::invalid_argument("sim: source = local needs bind(inequality, …)");
      m->tables.push_back(
          table_from(deterministic_behaviour(sc, protocol::local_bound(inequality_->expression).optimal)));
      break;
    case SourceKind::no_signalling:
      if (!inequality_) throw std::invalid_argument("sim: source = no_signalling needs bind(inequality, …)");
      m->tables.push_back(table_from(no_signalling_box(*inequality_)));
      break;
    case SourceKind::memory:
      if (custom_memory_)
        m->memory = custom_memory_;
      else if (inequality_)
        m->memory = repeat_guess_strategy(inequality_->expression);
      else
        throw std::invalid_argument("sim: source = memory needs bind(inequality, …) or a strategy");
      break;
    case SourceKind::behaviour:
      if (!behaviour_) throw std::invalid_argument("sim: source = behaviour needs bind(scenario, behaviour, …)");
      m->tables.push_back(table_from(*behaviour_));
      break;
  }
  m->apparatus.resize(napp);
  for (std::size_t k = 0; k < napp; ++k) {
    auto& a = m->apparatus[k];
    a.table = tables_per_apparatus ? k : 0;
    a.dead_until.assign(static_cast<std::size_t>(m->detectors), std::numeric_limits<std::int64_t>::min());
    a.next_dark.assign(static_cast<std::size_t>(m->detectors), std::numeric_limits<std::int64_t>::min());
  }

  m->emission = Bernoulli(s.emission_probability);
  m->efficiency = Bernoulli(s.efficiency);
  m->setting_error = Bernoulli(s.setting_error_rate);
  m->dark_rate_per_ps = s.dark_count_rate_hz * 1e-12;
  m->late_switch = s.detection_delay_ps < s.switching_time_ps;
  m->jitter_margin = static_cast<std::int64_t>(std::ceil(kJitterTruncation * s.jitter_ps)) + 1;

  // Channels of this station.
  std::set<int> syncs;
  m->det_channel.assign(static_cast<std::size_t>(m->detectors), 0);
  std::size_t per_trial = 0;
  for (int p = 0; p < sc.parties(); ++p) {
    const auto pi = static_cast<std::size_t>(p);
    const auto& st = layout_.parties[pi];
    m->emit_party[pi] = st.station == s.station;
    if (m->emit_party[pi]) {
      syncs.insert(st.sync_channel);
      per_trial += 1 + (s.echo ? 1 : 0);
    }
    for (int o = 0; o < sc.outcomes(p); ++o)
      m->det_channel[static_cast<std::size_t>(m->det_base[pi] + o)] = st.detector_channels[static_cast<std::size_t>(o)];
    m->echo_channel[pi] = st.echo_channels;
  }
  m->sync_channels.assign(syncs.begin(), syncs.end());
  m->tags_per_trial = per_trial + m->sync_channels.size() + 1;

  if (s.trials && s.fail_after_trials) {
    m->limit = std::min(s.trials, s.fail_after_trials);
    m->limit_fails = s.fail_after_trials <= s.trials;
  } else if (s.trials || s.fail_after_trials) {
    m->limit = s.trials ? s.trials : s.fail_after_trials;
    m->limit_fails = s.fail_after_trials != 0;
  }
  m->started_at = clock_.now();
  model_ = std::move(m);
}

void PhysicalSimulator::stop() {
  if (model_ && (model_->phase == Model::Phase::header || model_->phase == Model::Phase::running))
    model_->stop_requested = true;
}

hal::TaggerEvent PhysicalSimulator::next(std::chrono::milliseconds timeout) {
  if (!model_) throw std::logic_error("sim: next() before start()");
  Model& m = *model_;
  switch (m.phase) {
    case Model::Phase::header:
      m.phase = Model::Phase::running;
      return hal::StreamStart{1, identity()};
    case Model::Phase::ended:
      return hal::TagBlock{};
    case Model::Phase::finishing:
      m.phase = Model::Phase::ended;
      return hal::StreamEnd{m.end_error, m.end_reason};
    case Model::Phase::running:
      break;
  }
  if (m.stop_requested) {
    m.end_error = false;
    m.end_reason = "stopped";
    if (!m.carry.empty()) {
      m.phase = Model::Phase::finishing;
      counters_.tags += m.carry.size();
      return std::move(m.carry);
    }
    m.phase = Model::Phase::ended;
    return hal::StreamEnd{false, "stopped"};
  }

  std::uint64_t n = settings_.block_trials;
  if (m.limit) n = std::min(n, m.limit - m.generated);
  if (settings_.pace > 0) {
    // Trial i's tags exist once its period has elapsed on the (scaled) clock.
    const auto due = [&] {
      const double elapsed_ps = static_cast<double>((clock_.now() - m.started_at).count()) * 1e3;
      return static_cast<std::uint64_t>(
          std::max(0.0, std::floor(elapsed_ps * settings_.pace / static_cast<double>(settings_.sync_period_ps))));
    };
    std::uint64_t d = due();
    if (d <= m.generated) {
      const double next_ns =
          static_cast<double>(m.generated + 1) * static_cast<double>(settings_.sync_period_ps) / settings_.pace / 1e3;
      const double wait_ns = next_ns - static_cast<double>((clock_.now() - m.started_at).count());
      const auto wait = std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(std::max(wait_ns, 0.0))));
      clock_.sleep_for(std::min<std::chrono::nanoseconds>(wait, timeout));
      d = due();
      if (d <= m.generated) return hal::TagBlock{};
    }
    n = std::min(n, d - m.generated);
  }

  hal::TagBlock out = std::move(m.carry);
  m.carry.clear();
  out.reserve(out.size() + static_cast<std::size_t>(n) * m.tags_per_trial);
  for (std::uint64_t j = 0; j < n; ++j) m.generate_trial(m.generated++, out);
  if (m.limit && m.generated == m.limit) {
    // The sync of trial N closes the windows of trial N−1 (real clocks keep ticking), so the
    // assembler can finish every generated trial; trial N itself never completes.
    for (int ch : m.sync_channels) Model::push(out, ch, m.sync_time(m.generated));
    m.phase = Model::Phase::finishing;
    m.end_error = m.limit_fails;
    m.end_reason = m.limit_fails ? "sim: simulated device failure after " + std::to_string(m.generated) +
                                       " trials (fail_after_trials)"
                                 : "sim: " + std::to_string(m.generated) + " trials done";
  } else {
    // Tags before the next trial's earliest possible tag are final; the rest wait.
    const std::int64_t horizon = m.sync_time(m.generated) - m.jitter_margin;
    std::size_t k = out.size();
    while (k > 0 && out[k - 1].time_ps >= horizon) --k;
    m.carry.assign(out.begin() + static_cast<std::ptrdiff_t>(k), out.end());
    out.resize(k);
  }
  counters_.tags += out.size();
  return out;
}

}  // namespace dira::sim
