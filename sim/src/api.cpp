// Driver `sim`, the device API (libsigrok's api.c): construction, binding (the hal contract
// and the older pulled schedule), settings, identity, and the framed tag stream. The physics
// is in model.cpp and source.cpp, the settings in capabilities.cpp and settings.cpp.
#include "layout.hpp"
#include "model.hpp"
#include "settings.hpp"
#include "source.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dira::sim {

using hal::SettingValue;
using protocol::Behaviour;
using protocol::Scenario;

SimClock SimClock::steady() {
  SimClock c;
  c.now = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
  };
  c.sleep_for = [](std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); };
  return c;
}

PhysicalSimulator::PhysicalSimulator(const SettingsMap& settings)
    : values_(settings),
      settings_(PhysicalSettings::from(settings)),
      clock_(SimClock::steady()),
      delivery_(std::make_unique<Delivery>(*this)) {}

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

// ---------------------------------------------------------------------------------------------
// Binding

namespace {

void check_quantum(const PhysicalSettings& s, const protocol::Inequality& inequality) {
  if (s.source == SourceKind::behaviour)
    throw std::invalid_argument("sim: source = behaviour needs bind(scenario, behaviour, …)");
  if (s.source == SourceKind::quantum && !inequality.quantum && !s.two_qubit)
    throw std::invalid_argument("sim: inequality '" + inequality.name +
                                "' has no quantum realisation (give state_theta and the angles, or another source)");
}

}  // namespace

void PhysicalSimulator::bind(const hal::ApparatusBinding& binding) {
  if (streaming()) throw std::logic_error("sim: bind() while streaming");
  if (!binding.inequality) throw std::invalid_argument("sim: the binding names no inequality");
  if (binding.logical_devices == 0) throw std::invalid_argument("sim: the binding has 0 logical devices");
  if (binding.logical_devices > 1 && binding.device_block_trials == 0)
    throw std::invalid_argument("sim: " + std::to_string(binding.logical_devices) +
                                " logical devices in blocks of 0 trials");
  PhysicalSettings parsed = PhysicalSettings::from(values_);
  check_quantum(parsed, *binding.inequality);
  detail::check_scenario(binding.inequality->expression.scenario());
  inequality_ = *binding.inequality;
  scenario_ = inequality_->expression.scenario();
  behaviour_.reset();
  custom_memory_ = nullptr;
  custom_name_.clear();
  schedule_ = nullptr;
  custom_layout_.reset();
  binding_ = binding;
  binding_->inequality = nullptr;  // copied into inequality_: the caller's object may go
  apply_binding(parsed);
  settings_ = parsed;
  rebind_check();
}

void PhysicalSimulator::bind(const protocol::Inequality& inequality, SettingSchedule schedule,
                             std::optional<hal::TrialAssemblyConfig> layout) {
  if (streaming()) throw std::logic_error("sim: bind() while streaming");
  binding_.reset();
  settings_ = PhysicalSettings::from(values_);
  check_quantum(settings_, inequality);
  detail::check_scenario(inequality.expression.scenario());
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
  detail::check_scenario(scenario);
  detail::check_behaviour(scenario, behaviour);
  if (settings_.two_qubit) throw std::invalid_argument("sim: state_theta and the angles need source = quantum");
  binding_.reset();
  values_["source"] = std::string("behaviour");
  settings_ = PhysicalSettings::from(values_);
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
  detail::check_scenario(scenario);
  if (!strategy) throw std::invalid_argument("sim: empty memory strategy");
  if (settings_.two_qubit) throw std::invalid_argument("sim: state_theta and the angles need source = quantum");
  binding_.reset();
  values_["source"] = std::string("memory");
  settings_ = PhysicalSettings::from(values_);
  inequality_.reset();
  scenario_ = scenario;
  behaviour_.reset();
  custom_memory_ = std::move(strategy);
  custom_name_ = std::move(name);
  schedule_ = std::move(schedule);
  custom_layout_ = std::move(layout);
  rebind_check();
}

void PhysicalSimulator::apply_binding(PhysicalSettings& s) const {
  if (!binding_) return;
  if (binding_->trials) s.trials = binding_->trials;
  // Protocol A's logical devices come from the session (the same assignment its trials carry).
  s.logical_devices = binding_->logical_devices;
  if (binding_->logical_devices > 1) {
    s.device_assignment = DeviceAssignment::blocks;
    s.device_block_trials = binding_->device_block_trials;
  }
}

bool PhysicalSimulator::streaming() const {
  return model_ && model_->phase != Model::Phase::ended;
}

bool PhysicalSimulator::bound() const {
  return scenario_.has_value() && (static_cast<bool>(schedule_) || binding_);
}

void PhysicalSimulator::rebind_check() {
  if (!scenario_) return;
  if (!schedule_ && !binding_) throw std::invalid_argument("sim: empty schedule");
  const Scenario& sc = *scenario_;
  if (settings_.two_qubit &&
      (sc.parties() != 2 || sc.settings(0) != 2 || sc.settings(1) != 2 || sc.outcomes(0) != 2 || sc.outcomes(1) != 2))
    throw std::invalid_argument(
        "sim: state_theta and the angles describe two parties with two settings and two "
        "outcomes each; the scenario is " +
        sc.describe());
  hal::TrialAssemblyConfig l = custom_layout_ ? *custom_layout_ : sim_layout(settings_, sc);
  detail::check_layout(l, settings_, sc);
  layout_ = std::move(l);
  // The modulators' shape; reconfiguring empties them, so only when it changed (start() and
  // set() call this too, after the scheduler may already have delivered settings).
  std::array<int, protocol::kMaxParties> nset{};
  for (int p = 0; p < sc.parties(); ++p) nset[static_cast<std::size_t>(p)] = sc.settings(p);
  auto& bank = delivery_->bank;
  if (bank.parties() != sc.parties() || bank.settings_per_party() != nset ||
      bank.mode() != settings_.modulator_delivery || bank.segment_capacity() != settings_.segment_trials)
    bank.configure(sc.parties(), nset, settings_.modulator_delivery, settings_.segment_trials);
}

hal::TrialAssemblyConfig PhysicalSimulator::layout() const {
  if (!bound()) throw std::logic_error("sim: layout() before bind()");
  return layout_;
}

std::vector<hal::Modulator*> PhysicalSimulator::modulators() {
  if (!bound()) throw std::logic_error("sim: modulators() before bind()");
  std::vector<hal::Modulator*> out;
  for (int p = 0; p < scenario_->parties(); ++p)
    out.push_back(delivery_->modulators[static_cast<std::size_t>(p)].get());
  return out;
}

protocol::HardwareModel PhysicalSimulator::hardware_model() const {
  protocol::HardwareModel hw;
  hw.visibility = settings_.visibility;
  hw.efficiency = settings_.efficiency;
  hw.dark_count = settings_.dark_count_probability();
  return hw;
}

void PhysicalSimulator::set_clock(SimClock clock) {
  if (!clock.now || !clock.sleep_for) throw std::invalid_argument("sim: a clock needs now and sleep_for");
  clock_ = std::move(clock);
}

// ---------------------------------------------------------------------------------------------
// Device

std::string PhysicalSimulator::identity() const {
  std::ostringstream os;
  os << "sim: " << detail::name(settings_.source);
  if (inequality_)
    os << " " << inequality_->name;
  else if (!custom_name_.empty())
    os << " " << custom_name_;
  else if (scenario_)
    os << " " << scenario_->describe();
  if (const auto& q = settings_.two_qubit)
    os << " (two-qubit state θ = " << q->state_theta << ", angles " << q->alice_angle[0] << ", " << q->alice_angle[1]
       << " / " << q->bob_angle[0] << ", " << q->bob_angle[1] << ")";
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
  if (settings_.modulator_delivery == hal::SettingDelivery::segment)
    os << ", segment delivery (" << settings_.segment_trials << " trials)";
  return os.str();
}

void PhysicalSimulator::set(const std::string& key, const SettingValue& value) {
  const auto* cap = detail::find_capability(key);
  if (!cap) throw std::invalid_argument("sim: unknown setting '" + key + "'");
  if (auto msg = hal::check_value(*cap, value); !msg.empty()) throw std::invalid_argument("sim: " + key + ": " + msg);
  if (streaming())
    throw std::logic_error("sim: settings cannot change while streaming (stop and read to the end first)");
  SettingsMap next = values_;
  next[key] = value;
  PhysicalSettings parsed = PhysicalSettings::from(next);
  apply_binding(parsed);
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
  if (const auto* c = detail::find_capability(key)) return c->default_value;
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

// ---------------------------------------------------------------------------------------------
// TimeTagger

void PhysicalSimulator::start() {
  if (!bound()) throw std::logic_error("sim: bind an inequality or behaviour and a schedule before start()");
  rebind_check();
  const PhysicalSettings& s = settings_;
  const bool independent = s.apparatus == ApparatusKind::independent && s.logical_devices > 1;
  detail::BoundSource bound_source;
  bound_source.inequality = inequality_ ? &*inequality_ : nullptr;
  bound_source.behaviour = behaviour_ ? &*behaviour_ : nullptr;
  bound_source.custom_memory = custom_memory_ ? &custom_memory_ : nullptr;
  auto source = detail::build_source(s, *scenario_, bound_source, independent ? s.logical_devices : 1);
  counters_ = SimCounters{};
  auto& bank = delivery_->bank;
  if (schedule_) {
    // Pulled schedule: the simulator feeds its own modulators, from trial 0 again.
    bank.reset();
    delivery_->fed = 0;
  } else if (bank.played() > 0) {
    // A previous run played these settings; the scheduler delivers again from trial 0.
    bank.reset();
  }
  model_ = std::make_unique<Model>(s, *scenario_, layout_, std::move(source), bank, counters_, general_path_only_);
  model_->started_at = clock_.now();
}

void detail::GenerationPath::force_general(PhysicalSimulator& simulator, bool on) {
  simulator.general_path_only_ = on;
}

bool detail::GenerationPath::batch(const PhysicalSimulator& simulator) {
  return simulator.model_ && simulator.model_->photons_only;
}

void PhysicalSimulator::stop() {
  if (model_ && (model_->phase == Model::Phase::header || model_->phase == Model::Phase::running))
    model_->stop_requested = true;
}

void PhysicalSimulator::feed_from_schedule(std::uint64_t end) {
  // The older binding: the schedule is pulled here, each trial once and in order, and pushed
  // into the built-in modulators, so the model reads settings from one place whichever way
  // they came. Streaming: exactly the trials about to be generated. Segment: one segment
  // (segment_trials, up to the stream's limit) once the last one has been played, then armed.
  Delivery& d = *delivery_;
  auto& bank = d.bank;
  const Model& m = *model_;
  if (bank.mode() == hal::SettingDelivery::segment) {
    if (bank.playable_end() > m.generated) return;
    std::uint64_t k = bank.segment_capacity();
    if (m.limit) k = std::min(k, m.limit - m.generated);
    end = m.generated + k;
  }
  if (end <= d.fed) return;
  const auto n = static_cast<std::size_t>(end - d.fed);
  const int parties = scenario_->parties();
  for (int p = 0; p < parties; ++p) d.scratch[static_cast<std::size_t>(p)].resize(n);
  for (std::uint64_t i = d.fed; i < end; ++i) {
    const protocol::Trial t = schedule_(i);
    for (int p = 0; p < parties; ++p)
      d.scratch[static_cast<std::size_t>(p)][static_cast<std::size_t>(i - d.fed)] = t.u[static_cast<std::size_t>(p)];
  }
  for (int p = 0; p < parties; ++p) bank.schedule(p, d.fed, d.scratch[static_cast<std::size_t>(p)], false);
  if (bank.mode() == hal::SettingDelivery::segment)
    for (int p = 0; p < parties; ++p) bank.arm(p);
  d.fed = end;
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

  // Gated on the modulators: trial i only once every party holds (segment: has armed) its setting.
  auto& bank = delivery_->bank;
  if (schedule_) feed_from_schedule(m.generated + n);
  const std::uint64_t playable = bank.playable_end();
  n = std::min(n, playable > m.generated ? playable - m.generated : 0);
  if (n == 0) return hal::TagBlock{};  // waiting for settings, like a gated source
  const bool segment = bank.mode() == hal::SettingDelivery::segment;

  hal::TagBlock out = std::move(m.carry);
  m.carry.clear();
  out.reserve(out.size() + static_cast<std::size_t>(n) * m.tags_per_trial);
  m.generate(n, out);
  bank.release(m.generated);
  const auto mark_segment_end = [&] {
    // Every tag before the end of the last trial's windows is in `out` (later ones are stray
    // tags, kept for the next block), so trial assembly can close the segment now.
    const std::int64_t t = m.sync_time(m.generated - 1) + m.window_end;
    std::size_t k = out.size();
    while (k > 0 && out[k - 1].time_ps >= t) --k;
    m.carry.assign(out.begin() + static_cast<std::ptrdiff_t>(k), out.end());
    out.resize(k);
    Model::push(out, 0, t, hal::TagType::time_mark);
    m.floor_ps = t;
    m.marked = m.generated;
    ++counters_.time_marks;
  };
  if (m.limit && m.generated == m.limit) {
    if (segment) {
      // The time mark closes trial N−1; no sync follows (a gated source stops).
      mark_segment_end();
      out.insert(out.end(), m.carry.begin(), m.carry.end());
      m.carry.clear();
    } else {
      // The sync of trial N closes the windows of trial N−1 (real clocks keep ticking), so the
      // assembler can finish every generated trial; trial N itself never completes.
      for (int ch : m.sync_channels) Model::push(out, ch, m.sync_time(m.generated));
    }
    m.phase = Model::Phase::finishing;
    m.end_error = m.limit_fails;
    m.end_reason = m.limit_fails ? "sim: simulated device failure after " + std::to_string(m.generated) +
                                       " trials (fail_after_trials)"
                                 : "sim: " + std::to_string(m.generated) + " trials done";
  } else if (segment && m.generated == playable) {
    mark_segment_end();  // then wait for the next arm()
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
