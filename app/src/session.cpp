#include "dira/app/session.hpp"
#include "dira/app/run_limits.hpp"

#include "acquisition.hpp"
#include "device_set.hpp"
#include "live_protocol.hpp"
#include "recording_source.hpp"
#include "run_decision.hpp"
#include "run_directory.hpp"
#include "run_recorder.hpp"
#include "run_report.hpp"
#include "run_statistics.hpp"
#include "setting_delivery.hpp"
#include "setting_rule.hpp"
#include "sha256.hpp"

#include "dira/app/analysis.hpp"
#include "dira/app/devices.hpp"
#include "dira/app/run_file.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <signal.h>

#include <array>
#include <chrono>
#include <fstream>
#include <sstream>

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

namespace {

/// Where the run directory goes and whether the run fits: a run that cannot start is refused
/// before its directory exists; one that may not fit is warned about, and stops cleanly
/// (storage-full) before the disk or the file-size limit is reached.
struct OutputPlan {
  std::filesystem::path parent;
  double bytes_per_trial = 0;
  std::string storage_warning;
};

OutputPlan plan_output(const ExperimentConfig& c, const RunOptions& o, std::uint64_t planned) {
  // Exceeding ulimit -f must be a write error, not SIGXFSZ killing dira before the data are flushed.
  ::signal(SIGXFSZ, SIG_IGN);
  OutputPlan out;
  out.parent = o.out.empty() ? std::filesystem::path(c.outputs.directory) : o.out;
  std::error_code ec;
  std::filesystem::create_directories(out.parent, ec);
  if (ec) throw RunFileError("cannot create output directory " + out.parent.string() + ": " + ec.message());
  // run.h5 rows per trial; with raw tags also the tags (a sync and up to 3 clicks per party).
  const int parties = c.inequality.expression.scenario().parties();
  out.bytes_per_trial = 32.0 + (c.outputs.raw_tags ? 16.0 * (3 * parties + 1) : 0.0);
  out.storage_warning =
      check_storage_before_run(out.parent, static_cast<double>(planned) * out.bytes_per_trial * 1.05 + 4e6, planned);
  if (!out.storage_warning.empty() && o.warning) o.warning(out.storage_warning);
  return out;
}

/// Protocol C: everything it needs is fixed here, before the first trial, and published in
/// pef.json (docs/protocol-c-security.md §5.3). Nothing for A and B.
std::optional<ProtocolCRunPlan> fix_protocol_c(const ExperimentConfig& c, const DeviceSet& devices, RunDirectory& dir) {
  if (c.protocol != 'C') return std::nullopt;
  std::string model_source;
  const auto model = apparatus_model(c, devices, model_source);
  ProtocolCRunPlan plan = plan_protocol_c_run(c, model, model_source);
  // Atomic (write, fsync, rename): a reader never sees half a certificate (issue 12).
  write_file_atomically(dir.file("pef.json"), pef_json(c, plan, nullptr).dump(2) + "\n");
  dir.log("protocol C: beta " + plan.pefs.front().second.beta_exact + ", target min-entropy " +
          std::to_string(plan.scoring.target_min_entropy) + " bits, budget " + std::to_string(plan.scoring.max_trials) +
          " trials; PEF from " + model_source);
  return plan;
}

/// What the report states about the apparatus and the pipeline stages.
RunFacts run_facts(const ExperimentConfig& c, const RunDirectory& dir, const DeviceSet& devices,
                   const RecordingSource& source, const SettingDelivery& delivery, const P::BitLedger& ledger) {
  RunFacts f;
  f.config = &c;
  f.directory = dir.path();
  f.tagger = devices.tagger->identity();
  f.weak_source = source.describe();
  for (const auto& m : devices.owned_modulators) f.modulators.push_back(m->identity());
  f.assembly = delivery.assembler().counters();
  f.fair_sampling = delivery.assembler().fair_sampling();
  if (const auto* s = delivery.scheduler()) {
    f.delivery = s->mode();
    f.scheduler = s->counters();
  }
  f.hardware_chosen_settings = delivery.hardware_chosen();
  f.ledger = &ledger;
  return f;
}

/// The one place the final report is written (every front end — dira run, dira-gui, dira analyze
/// --stations — goes through run_experiment): into run.h5 (compact JSON, /report_json and, after
/// the close, the root attribute) and report.json (the same JSON, indented). Returns false when
/// report.json could not be written (disk full: dira.log says why).
bool write_report(const json& report, RunFileWriter& file, CrashFlagWatchdog& watchdog, RunDirectory& dir) {
  try {
    if (!file.is_open()) throw RunFileError("closed after a failed write, without the report");
    file.append_report(report.dump());
    file.close();
    watchdog.disarm();
  } catch (const RunFileError& e) {
    // The file could not be closed cleanly: let the watchdog clear its SWMR flag now, so
    // standard tools can still open what was flushed.
    dir.log(std::string("run.h5 not closed cleanly: ") + e.what());
    watchdog.fire();
  }
  return dir.write_report(report.dump(2) + "\n");  // issue 12: atomic (tmp, fsync, rename); failures logged
}

/// What acquire() is told: the run's limits, the operator's controls, the detectors' slots.
AcquisitionControl acquisition_control(const ExperimentConfig& c, const RunOptions& o, const RunStatistics& stats,
                                       std::uint64_t planned, double duration, bool hardware_chosen) {
  AcquisitionControl ctl;
  ctl.planned = planned;
  ctl.duration_s = duration;
  ctl.interrupt = o.interrupt;
  ctl.pause = o.pause;
  ctl.raw_tags = c.outputs.raw_tags;
  ctl.slot_of_channel = &stats.slot_of_channel();
  ctl.slots = stats.slots();
  if (hardware_chosen) ctl.label = device_labels(c);
  return ctl;
}

/// The run's stage timings (dira-bench): the stages' CPU from acquire(), the wall time between
/// the points run_experiment passed — start, acquisition, acquired, finished, decided — and now.
RunTimings run_timings(const AcquisitionTimes& acq, std::array<std::chrono::steady_clock::time_point, 5> at) {
  const auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
  const auto end = std::chrono::steady_clock::now();
  RunTimings t;
  t.setup_s = seconds(at[0], at[1]);
  t.acquisition_s = acq.wall_s;
  t.acquisition_cpu_s = acq.acquisition_cpu_s;
  t.draws_cpu_s = acq.draws_cpu_s;
  t.recording_cpu_s = acq.recording_cpu_s;
  t.waited_for_draws_s = acq.waited_for_draws_s;
  t.finish_s = seconds(at[2], at[3]);
  t.decision_s = seconds(at[3], at[4]);
  t.report_s = seconds(at[4], end);
  t.total_s = seconds(at[0], end);
  return t;
}

}  // namespace

RunResult run_experiment(const ExperimentConfig& c, const RunOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::uint64_t planned = planned_trials(c, o.max_trials);
  const double duration = o.duration_s > 0 ? o.duration_s : c.stop.duration_s;

  // Devices are opened before anything is written, so a refusal (exit 2) leaves nothing behind.
  DeviceSet devices = open_devices(c, o.registry ? *o.registry : driver_registry(), planned);
  check_weak_source_suffices(c, *devices.weak_source, planned);  // issue 13: refuse with the numbers
  const OutputPlan out = plan_output(c, o, planned);
  RunDirectory dir(out.parent, c.name, c.text);
  RunResult res;
  res.directory = dir.path();
  if (o.on_directory) o.on_directory(dir.path());
  if (!out.storage_warning.empty()) dir.log("warning: " + out.storage_warning);

  // One ledger for every purpose: settings now, box choice and extractor after the outputs
  // are fixed. The recording wrapper appends the bits after the settings to sv_bits.bin as they
  // are drawn (issue 12: created 0600, O_EXCL|O_NOFOLLOW; a kill keeps them).
  SvBitsFile sv_bits(dir.file("sv_bits.bin"));
  RecordingSource source(*devices.weak_source, sv_bits);
  P::BitLedger ledger(source);
  SettingDelivery delivery(c, devices, ledger, planned);

  CrashFlagWatchdog watchdog(dir.file("run.h5"), dir.file("dira.log"));
  RunFileWriter file(dir.file("run.h5"), c.text,
                     // ledger_covers_trials: every trial's setting bits are in /ledger (drawn or observed), so a
                     // reader decides only over the trials the ledger covers (run_file.cpp, read_run_file).
                     json{{"software", software_name()},
                          {"tagger", devices.tagger->identity()},
                          {"weak_source", source.describe()},
                          {"ledger_covers_trials", true}}
                         .dump(),
                     c.outputs.raw_tags);
  dir.log("run directory " + dir.path().string());
  dir.log("tagger: " + devices.tagger->identity());
  dir.log("weak source: " + source.describe());
  dir.log(delivery.describe());

  const std::optional<ProtocolCRunPlan> plan_c = fix_protocol_c(c, devices, dir);
  LiveProtocol protocol(c, plan_c ? &*plan_c : nullptr);

  // --- the recording side of acquisition (this thread): run.h5, protocol, statistics
  RunStatistics stats(c, devices.layout);
  RecorderSettings rs;
  rs.bytes_per_trial = out.bytes_per_trial;
  rs.raw_tags = c.outputs.raw_tags;
  rs.station = devices.station;
  rs.progress_interval_s = o.progress_interval_s;
  rs.planned = planned;
  rs.duration_s = duration;
  RunRecorder recorder(file, dir, stats, protocol, rs, o.progress, t_start);
  const bool hardware_chosen = delivery.hardware_chosen();
  const auto parties = static_cast<std::uint64_t>(c.inequality.expression.scenario().parties());
  auto consume = [&](const AcquiredBlock& b) {
    // Hardware-chosen settings: one bit per party and trial that the hardware's weak source
    // chose (Protocol A and C draw exactly that), recorded as observed bits in the one ledger.
    if (hardware_chosen)
      for (const auto& t : b.trials) ledger.observe(parties, t.index);
    return recorder.record(b, hardware_chosen ? ledger.entries() : b.ledger);
  };
  auto idle = [&](bool paused) { recorder.idle(paused); };

  const AcquisitionControl ctl = acquisition_control(c, o, stats, planned, duration, hardware_chosen);
  const auto t_acquire = std::chrono::steady_clock::now();
  AcquisitionResult acq =
      acquire(*devices.tagger, devices.station, delivery.assembler(), delivery.scheduler(), ledger, ctl, consume, idle);
  std::string fault = acq.fault.empty() ? recorder.fault() : acq.fault;
  RunStatus status = acq.status;
  const std::uint64_t trials = recorder.trials();
  dir.log(std::string("acquisition ended: ") + to_string(status) + (fault.empty() ? "" : " — " + fault) + ", " +
          std::to_string(trials) + " trials");

  // --- decision, security statement, extraction: the same analysis `dira analyze` runs,
  // over the trials as run.h5 holds them.
  const auto t_acquired = std::chrono::steady_clock::now();
  try {
    recorder.finish(ledger.entries());
  } catch (const RunFileError& e) {
    if (status != RunStatus::storage_error) {
      status = RunStatus::storage_error;
      fault = e.what();
    }
  }
  // After a failed write (disk full), HDF5's caches hold rows and ledger entries that may never
  // reach the disk, and the decision's reader, opened in this process, would share those caches
  // (HDF5 keeps one open file per process): it decided over trials whose ledger the file then
  // lacked (tests/faults/disk_fill.sh, seen in CI). Closed first, the decision is over exactly
  // what run.h5 holds — what `dira analyze` finds later.
  // If even the close fails, the watchdog clears run.h5's SWMR mark (and, when the file ends
  // before the space HDF5 allotted, records its end) now, before the decision reads it.
  if (status == RunStatus::storage_error && file.is_open()) {
    try {
      file.close();
      watchdog.disarm();
    } catch (const RunFileError& e) {
      dir.log(std::string("run.h5 not closed cleanly after a failed write: ") + e.what());
      watchdog.fire();
    }
  }
  recorder.progress("analysing");
  const auto t_finished = std::chrono::steady_clock::now();
  const RunDecision decision =
      decide_recorded_run(c, dir, ledger, source, plan_c ? &*plan_c : nullptr, status, trials, planned, fault);
  const auto t_decided = std::chrono::steady_clock::now();
  record_after_decision(c, dir, recorder, ledger, source, plan_c ? &*plan_c : nullptr, protocol, status, fault);

  // After a failed write the file is the record: the trials it holds intact and covered by its
  // ledger, which the decision was over (and `dira analyze` finds), not the recorder's count.
  const std::uint64_t recorded =
      status == RunStatus::storage_error && decision.analysed ? decision.trials_in_file : trials;
  RunFacts facts = run_facts(c, dir, devices, source, delivery, ledger);
  facts.trials = recorded;
  facts.planned = planned;
  facts.status = status;
  facts.fault = fault;
  facts.analysis = decision.analysed ? &decision.analysis : nullptr;
  facts.storage_warning = out.storage_warning;
  const RunOutcome outcome = run_outcome(status, facts.analysis, recorded, protocol_trial_count(c), c.protocol);
  json report = build_report(facts, outcome);
  // Issue 14: every station's health record at the end (docs/stations.md, "Station health").
  if (const auto stations = station::station_health(); !stations.empty())
    report["stations"] = station::health_json(stations);
  res.state = outcome.state;
  res.decision = outcome.decision;
  res.exit_code = outcome.exit_code;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  add_certified_output(report, c, decision, res.decision, dir, devices.hardware,
                       elapsed > 0 && recorded > 0 ? static_cast<double>(recorded) / elapsed : 1e6);
  if (!write_report(report, file, watchdog, dir)) {
    // The operator must hear it (issue 12, disk_fill): the run's record lacks its report.
    report["report_json_written"] = false;
    if (o.warning)
      o.warning("report.json could not be written (" + dir.file("dira.log").string() +
                " says why; a full disk?): the report is on stdout with --json, and dira analyze " +
                dir.path().string() + " re-decides from run.h5");
  }
  recorder.progress("done", res.decision);
  res.report = report;
  res.timings = run_timings(acq.times, {t_start, t_acquire, t_acquired, t_finished, t_decided});
  return res;
}

// analyze_run_directory: app/src/run_report.cpp (issue 12).

}  // namespace dira::app
