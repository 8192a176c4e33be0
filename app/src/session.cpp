#include "dira/app/session.hpp"
#include "dira/app/run_limits.hpp"

#include "acquisition.hpp"
#include "device_set.hpp"
#include "live_protocol.hpp"
#include "run_directory.hpp"
#include "run_recorder.hpp"
#include "run_report.hpp"
#include "run_statistics.hpp"
#include "setting_rule.hpp"
#include "sha256.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/devices.hpp"
#include "dira/app/run_file.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

namespace {

/// Hands out the wrapped source's bits and, once `record` is on, keeps a copy: the bits
/// after the settings (box choice, extractor) go to sv_bits.bin so `dira analyze` can replay.
class RecordingSource final : public P::SvSource {
 public:
  explicit RecordingSource(P::SvSource& inner) : inner_(&inner) {}
  bool next_bit() override {
    const bool b = inner_->next_bit();
    if (record_) bits_.push_back(b);
    return b;
  }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    const std::uint64_t v = inner_->next_bits(count, taken);
    if (record_)
      for (unsigned i = count; i-- > 0;) bits_.push_back((v >> i) & 1u);
    return v;
  }
  std::optional<double> declared_epsilon() const override { return inner_->declared_epsilon(); }
  std::string describe() const override { return inner_->describe(); }
  void start_recording() { record_ = true; }
  const std::vector<bool>& recorded() const { return bits_; }

 private:
  P::SvSource* inner_;
  bool record_ = false;
  std::vector<bool> bits_;
};

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::string pack_bits(const std::vector<bool>& bits) {
  std::string s((bits.size() + 7) / 8, '\0');
  for (std::size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) s[i / 8] = static_cast<char>(static_cast<unsigned char>(s[i / 8]) | (0x80u >> (i % 8)));
  return s;
}

}  // namespace

std::pair<double, double> setting_probability_band(const ExperimentConfig& c) {
  const auto& sc = c.inequality.expression.scenario();
  double lo = 1, hi = 1;
  const double eps = c.epsilon();
  for (int p = 0; p < sc.parties(); ++p) {
    if (c.protocol != 'B') {  // one SV bit per party (seed 000 Fig. 2 step 1; Protocol C likewise)
      lo *= 0.5 - eps;
      hi *= 0.5 + eps;
    } else {
      const auto nb = P::rejection_sampling_bounds(eps, sc.settings(p));
      lo *= nb.nu_min_all;
      hi *= nb.nu_max_all;
    }
  }
  return {lo, hi};
}

RunResult run_experiment(const ExperimentConfig& c, const RunOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::uint64_t planned = planned_trials(c, o.max_trials);
  const double duration = o.duration_s > 0 ? o.duration_s : c.stop.duration_s;

  // Devices are opened before anything is written, so a refusal (exit 2) leaves nothing behind.
  DeviceSet devices = open_devices(c, o.registry ? *o.registry : driver_registry(), planned);

  // Storage: a run that cannot start is refused before its directory exists; one that may not
  // fit is warned about, and stops cleanly (storage-full) before the disk or the file-size
  // limit is reached. Exceeding ulimit -f must be a write error, not SIGXFSZ killing dira
  // before the data are flushed.
  ::signal(SIGXFSZ, SIG_IGN);
  const auto& sc = c.inequality.expression.scenario();
  const std::filesystem::path parent = o.out.empty() ? std::filesystem::path(c.outputs.directory) : o.out;
  {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw RunFileError("cannot create output directory " + parent.string() + ": " + ec.message());
  }
  // run.h5 rows per trial; with raw tags also the tags (a sync and up to 3 clicks per party).
  const double bytes_per_trial = 32.0 + (c.outputs.raw_tags ? 16.0 * (3 * sc.parties() + 1) : 0.0);
  const std::string storage_warning =
      check_storage_before_run(parent, static_cast<double>(planned) * bytes_per_trial * 1.05 + 4e6, planned);
  if (!storage_warning.empty() && o.warning) o.warning(storage_warning);

  RunDirectory dir(parent, c.name, c.text);
  RunResult res;
  res.directory = dir.path();
  if (o.on_directory) o.on_directory(dir.path());
  if (!storage_warning.empty()) dir.log("warning: " + storage_warning);

  // One ledger for every purpose: settings now, box choice and extractor after the outputs
  // are fixed. The recording wrapper keeps the bits after the settings for sv_bits.bin.
  RecordingSource source(*devices.weak_source);
  P::BitLedger ledger(source);
  hal::SchedulerConfig sched_config;
  sched_config.planned = planned;
  sched_config.lookahead = c.devices.scheduler.lookahead;
  sched_config.batch = c.devices.scheduler.batch;
  sched_config.segment_trials = c.devices.scheduler.segment_trials;
  const bool hardware_chosen = c.devices.present && c.devices.hardware_chosen_settings;
  std::optional<hal::SettingScheduler> scheduler;
  if (!hardware_chosen) try {
      scheduler.emplace(setting_rule(c, ledger), devices.modulators, sched_config);
    } catch (const std::invalid_argument& e) {
      throw ConfigError({ConfigIssue{c.file, 0, 0, "devices.modulators", e.what()}});
    }
  // Trial assembly looks up settings already delivered; it never causes a draw. With
  // hardware-chosen settings it reads them from the echo channels instead.
  hal::TrialAssemblyConfig layout = devices.layout;
  if (hardware_chosen) layout.settings_from_echo = true;
  hal::TrialAssembler assembler(layout, scheduler ? &*scheduler : nullptr);

  CrashFlagWatchdog watchdog(dir.file("run.h5"), dir.file("dira.log"));
  RunFileWriter file(dir.file("run.h5"), c.text,
                     json{{"software", software_name()},
                          {"tagger", devices.tagger->identity()},
                          {"weak_source", source.describe()}}
                         .dump(),
                     c.outputs.raw_tags);
  dir.log("run directory " + dir.path().string());
  dir.log("tagger: " + devices.tagger->identity());
  dir.log("weak source: " + source.describe());
  dir.log(scheduler ? std::string("settings delivery: ") + hal::to_string(scheduler->mode())
                    : std::string("settings chosen by the hardware, read from the setting echo"));

  std::optional<ProtocolCRunPlan> plan_c;
  if (c.protocol == 'C') {
    // Everything Protocol C needs is fixed here, before the first trial, and published in
    // pef.json (docs/protocol-c-security.md §5.3).
    std::string model_source;
    const auto model = apparatus_model(c, devices, model_source);
    plan_c = plan_protocol_c_run(c, model, model_source);
    std::ofstream(dir.file("pef.json")) << pef_json(c, *plan_c, nullptr).dump(2) << "\n";
    dir.log("protocol C: beta " + plan_c->pefs.front().second.beta_exact + ", target min-entropy " +
            std::to_string(plan_c->scoring.target_min_entropy) + " bits, budget " +
            std::to_string(plan_c->scoring.max_trials) + " trials; PEF from " + model_source);
  }
  LiveProtocol protocol(c, plan_c ? &*plan_c : nullptr);

  // --- the recording side of acquisition (this thread): run.h5, protocol, statistics
  RunStatistics stats(c, devices.layout);
  RecorderSettings rs;
  rs.bytes_per_trial = bytes_per_trial;
  rs.raw_tags = c.outputs.raw_tags;
  rs.station = devices.station;
  rs.progress_interval_s = o.progress_interval_s;
  rs.planned = planned;
  rs.duration_s = duration;
  RunRecorder recorder(file, dir, stats, protocol, rs, o.progress, t_start);
  auto consume = [&](const AcquiredBlock& b) {
    // Hardware-chosen settings: one bit per party and trial that the hardware's weak source
    // chose (Protocol A and C draw exactly that), recorded as observed bits in the one ledger.
    if (hardware_chosen)
      for (const auto& t : b.trials) ledger.observe(static_cast<std::uint64_t>(sc.parties()), t.index);
    return recorder.record(b, hardware_chosen ? ledger.entries() : b.ledger);
  };
  auto idle = [&](bool paused) { recorder.idle(paused); };

  AcquisitionControl ctl;
  ctl.planned = planned;
  ctl.duration_s = duration;
  ctl.interrupt = o.interrupt;
  ctl.pause = o.pause;
  ctl.raw_tags = c.outputs.raw_tags;
  ctl.slot_of_channel = &stats.slot_of_channel();
  ctl.slots = stats.slots();
  if (hardware_chosen) ctl.label = device_labels(c);
  AcquisitionResult acq = acquire(*devices.tagger, devices.station, assembler, scheduler ? &*scheduler : nullptr,
                                  ledger, ctl, consume, idle);
  std::string fault = acq.fault.empty() ? recorder.fault() : acq.fault;
  RunStatus status = acq.status;
  const std::uint64_t trials = recorder.trials();
  dir.log(std::string("acquisition ended: ") + to_string(status) + (fault.empty() ? "" : " — " + fault) + ", " +
          std::to_string(trials) + " trials");

  // --- decision, security statement, extraction: the same analysis `dira analyze` runs,
  // over the trials as run.h5 holds them.
  try {
    recorder.finish(ledger.entries());
  } catch (const RunFileError& e) {
    if (status != RunStatus::storage_error) {
      status = RunStatus::storage_error;
      fault = e.what();
    }
  }
  recorder.progress("analysing");
  source.start_recording();
  AnalysisOptions ao;
  ao.ledger = &ledger;
  if (plan_c) ao.protocol_c = &*plan_c;
  const auto run_h5 = dir.file("run.h5");
  ao.trials = [&](const std::function<void(const P::Trial&)>& sink) {
    read_run_file(run_h5, [&](std::span<const P::Trial> b) {
      for (const auto& t : b) sink(t);
    });
  };
  AnalysisResult ar;
  bool analysed = false;
  if (status != RunStatus::hardware_fault || trials > 0) {
    try {
      ar = analyze(c, ao);
      analysed = true;
    } catch (const std::exception& e) {
      fault = fault.empty() ? std::string("analysis failed: ") + e.what() : fault;
    }
  }
  if (plan_c) {  // the certificate as scored: every PEF with the trials it scored
    std::ofstream pj(dir.file("pef.json"));
    pj << pef_json(c, *plan_c, &protocol.protocol_c()->segments()).dump(2) << "\n";
  }
  // The whole ledger — settings, box choice, extractor — in run.h5.
  try {
    recorder.append_ledger(ledger.entries());
  } catch (const RunFileError& e) {
    dir.log(std::string("cannot write the ledger: ") + e.what());
  }
  try {
    dir.write_private("sv_bits.bin", pack_bits(source.recorded()));
  } catch (const std::exception& e) {
    dir.log(std::string("cannot write sv_bits.bin: ") + e.what());
    if (status != RunStatus::storage_error) {
      status = RunStatus::storage_error;
      fault = e.what();
    }
  }

  RunFacts facts;
  facts.config = &c;
  facts.directory = dir.path();
  facts.tagger = devices.tagger->identity();
  facts.weak_source = source.describe();
  for (const auto& m : devices.owned_modulators) facts.modulators.push_back(m->identity());
  facts.trials = trials;
  facts.planned = planned;
  facts.assembly = assembler.counters();
  facts.fair_sampling = assembler.fair_sampling();
  if (scheduler) {
    facts.delivery = scheduler->mode();
    facts.scheduler = scheduler->counters();
  }
  facts.hardware_chosen_settings = hardware_chosen;
  facts.ledger = &ledger;
  facts.status = status;
  facts.fault = fault;
  facts.analysis = analysed ? &ar : nullptr;
  facts.storage_warning = storage_warning;
  const RunOutcome outcome = run_outcome(status, facts.analysis, trials, protocol_trial_count(c), c.protocol);
  json report = build_report(facts, outcome);
  res.state = outcome.state;
  res.decision = outcome.decision;
  res.exit_code = outcome.exit_code;

  std::uint64_t certified = 0;
  if (analysed && ar.output_bits > 0 && res.decision == "accept") {
    const std::string bytes(ar.output.begin(), ar.output.end());
    dir.write_private("output.bin", bytes);
    report["output_file"] = "output.bin";
    report["output_sha256"] = detail::sha256_hex(bytes);
    certified = ar.output_bits;
  }
  report["certified_bits"] = certified;
  if (certified == 0 && analysed && c.protocol != 'C') {
    // Plain words and numbers from the planner (`dira plan`): what run, on this apparatus at
    // the rate just measured, would make the seeds' bounds certify something.
    if (!devices.hardware) {
      report["what_would_certify"] = {
          {"verdict", "not assessed: the experiment has no hardware: section describing the devices"}};
    } else {
      try {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        const double rate = el > 0 && trials > 0 ? static_cast<double>(trials) / el : 1e6;
        report["what_would_certify"] = what_would_certify(c, *devices.hardware, rate);
      } catch (const std::exception& e) {
        dir.log(std::string("planner: ") + e.what());
      }
    }
  }
  try {
    file.append_report(report.dump());
    file.close();
    watchdog.disarm();
  } catch (const RunFileError& e) {
    // The file could not be closed cleanly: let the watchdog clear its SWMR flag now, so
    // standard tools can still open what was flushed.
    dir.log(std::string("run.h5 not closed cleanly: ") + e.what());
    watchdog.fire();
  }
  {
    std::ofstream rj(dir.file("report.json"));
    rj << report.dump(2) << "\n";
    if (!rj.flush())
      dir.log(
          "cannot write report.json (disk full?); the report is in run.h5 if it could be written, and on stdout with "
          "--json");
  }
  dir.log("report written: state " + res.state + ", decision " + res.decision);
  recorder.progress("done");
  res.report = report;
  return res;
}

json analyze_run_directory(const std::filesystem::path& dir) {
  const std::string text = read_all(dir / "config.yaml");
  if (text.empty()) throw RunFileError((dir / "config.yaml").string() + " is missing or empty");
  json live;
  try {
    live = json::parse(read_all(dir / "report.json"));
  } catch (...) {
    live = nullptr;
  }
  // Re-deciding is only meaningful for the configuration that ran: a changed config.yaml
  // (edited, replaced) would re-decide something else and call it this run.
  if (live.is_object() && live.contains("config_sha256") && live["config_sha256"].is_string() &&
      live["config_sha256"].get<std::string>() != detail::sha256_hex(text))
    throw RunFileError((dir / "config.yaml").string() + " was changed after the run: its SHA-256 is " +
                       detail::sha256_hex(text) + ", report.json records " +
                       live["config_sha256"].get<std::string>() +
                       " for the configuration that ran; restore it to re-decide this run");
  ExperimentConfig c = load_experiment_text(text, (dir / "config.yaml").string());
  c.text = text;
  std::vector<std::uint8_t> bits;
  {
    const std::string s = read_all(dir / "sv_bits.bin");
    bits.assign(s.begin(), s.end());
  }
  P::BufferSvSource source = P::BufferSvSource::from_bytes(bits, (dir / "sv_bits.bin").string(), c.epsilon());
  AnalysisOptions ao;
  ao.weak_bits = bits.empty() ? nullptr : &source;
  std::optional<ProtocolCRunPlan> plan_c;
  if (c.protocol == 'C') {
    const std::string pj = read_all(dir / "pef.json");
    if (pj.empty())
      throw RunFileError((dir / "pef.json").string() + " is missing or empty: Protocol C cannot be re-decided");
    try {
      plan_c = read_pef_json(json::parse(pj), c);
    } catch (const std::exception& e) {
      throw RunFileError((dir / "pef.json").string() + ": " + e.what());
    }
    ao.protocol_c = &*plan_c;
  }
  std::uint64_t n = 0;
  std::string live_report;
  ao.trials = [&](const std::function<void(const P::Trial&)>& sink) {
    const auto contents = read_run_file(dir / "run.h5", [&](std::span<const P::Trial> b) {
      for (const auto& t : b) sink(t);
    });
    n = contents.trials;
    live_report = contents.report;
  };
  const auto ar = analyze(c, ao);
  json out;
  out["run_directory"] = dir.string();
  out["trials_recorded"] = n;
  out["analysis"] = ar.report;
  // The same rule as the live run (run_report.hpp): before the protocol's n, nothing is decided.
  const std::string over_recorded = ar.report.value("decision", "undecided");
  const bool complete = n >= protocol_trial_count(c) || (c.protocol == 'C' && over_recorded == "accept");
  out["decision"] = complete ? over_recorded : "incomplete";
  out["decision_over_recorded_trials"] = over_recorded;
  out["certified_bits"] = complete ? ar.output_bits : 0;
  if (complete && ar.output_bits > 0)
    out["output_sha256"] = detail::sha256_hex(std::string(ar.output.begin(), ar.output.end()));
  if (live.is_object()) {
    out["live_state"] = live.value("state", "");
    out["reproduces_live_decision"] = live.value("decision", "") == out["decision"];
    if (live.contains("output_sha256") || out.contains("output_sha256"))
      out["reproduces_output"] = live.value("output_sha256", "") == out.value("output_sha256", "");
  } else {
    out["live_state"] =
        "no report.json: the run did not finish (crashed or killed); decision over the trials recorded";
  }
  return out;
}

}  // namespace dira::app
