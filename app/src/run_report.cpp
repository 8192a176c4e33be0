#include "run_report.hpp"

#include "run_directory.hpp"

#include "sha256.hpp"

#include "dira/app/references.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include "dira/app/plan_report.hpp"
#include "dira/app/run_limits.hpp"

#ifndef DIRA_VERSION
#define DIRA_VERSION "0.1.0"
#endif

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

std::string software_name() {
  return std::string("dira ") + DIRA_VERSION;
}

bool decided_at_n(std::uint64_t trials, std::uint64_t protocol_trials, char protocol,
                  const std::string& decision_over_recorded) {
  return trials >= protocol_trials || (protocol == 'C' && decision_over_recorded == "accept");
}

RunOutcome run_outcome(RunStatus status, const AnalysisResult* analysis, std::uint64_t trials,
                       std::uint64_t protocol_trials, char protocol) {
  RunOutcome o;
  o.decision_over_recorded = analysis ? analysis->report.value("decision", "undecided") : "undecided";
  const bool complete = decided_at_n(trials, protocol_trials, protocol, o.decision_over_recorded);
  switch (status) {
    case RunStatus::hardware_fault:
      o.state = "hardware-fault";
      o.exit_code = 4;
      break;
    case RunStatus::interrupted:
      o.state = "interrupted";
      o.exit_code = 130;
      break;
    case RunStatus::storage_error:
      o.state = "storage-error";
      o.exit_code = 1;
      break;
    case RunStatus::storage_full:
      o.state = "storage-full";
      o.exit_code = 1;
      break;
    case RunStatus::source_exhausted:
      o.state = "source-exhausted";
      o.exit_code = 5;
      break;
    case RunStatus::complete:
    case RunStatus::time_limit:
      o.state = complete ? "completed" : "stopped";
      o.exit_code = 5;
      break;
  }
  if (o.state == "completed" && analysis &&
      (o.decision_over_recorded == "accept" || o.decision_over_recorded == "abort")) {
    o.decision = o.decision_over_recorded;
    o.exit_code = o.decision == "accept" ? 0 : 3;
  } else {
    o.decision = "incomplete";
  }
  return o;
}

json build_report(const RunFacts& f, const RunOutcome& outcome) {
  const ExperimentConfig& c = *f.config;
  json report;
  report["software"] = software_name();
  report["config_sha256"] = detail::sha256_hex(c.text);
  report["experiment"] = c.name;
  report["reference"] = protocol_reference(c.protocol);
  report["run_directory"] = f.directory.string();
  report["devices"] = {{"tagger", f.tagger}, {"weak_source", f.weak_source}};
  for (const auto& m : f.modulators) report["devices"]["modulators"].push_back(m);
  report["trials_recorded"] = f.trials;
  report["trials_planned"] = f.planned;
  report["assembly"] = {{"no_click", f.assembly.no_click},
                        {"multi_click", f.assembly.multi_click},
                        {"missing_syncs", f.assembly.missing_syncs},
                        {"stray_tags", f.assembly.stray_tags},
                        {"fair_sampling", f.fair_sampling}};
  // How the settings reached the modulators: ahead of the trials, confirmed before the tagger
  // recorded them (hal::SettingScheduler).
  if (f.hardware_chosen_settings)
    report["settings_delivery"] = {{"mode", "hardware-chosen"},
                                   {"bits_observed", f.ledger ? f.ledger->bits_observed() : 0}};
  else
    report["settings_delivery"] = {{"mode", hal::to_string(f.delivery)},
                                   {"trials_delivered", f.scheduler.delivered},
                                   {"uploads", f.scheduler.uploads},
                                   {"segments", f.scheduler.segments}};
  report["device_independent"] = !f.fair_sampling;
  if (f.ledger) report["setting_bits"] = f.ledger->bits_drawn(P::BitPurpose::setting);
  if (!f.fault.empty()) report["fault"] = f.fault;
  if (f.analysis) report["analysis"] = f.analysis->report;
  report["state"] = outcome.state;
  report["decision"] = outcome.decision;
  report["decision_over_recorded_trials"] = outcome.decision_over_recorded;
  if (outcome.decision == "incomplete")
    report["decision_note"] = "incomplete: the run ended (" + outcome.state + ") after " + std::to_string(f.trials) +
                              " of the protocol's " + std::to_string(protocol_trial_count(c)) +
                              " trials and certifies nothing; the statistics over the trials recorded say " +
                              outcome.decision_over_recorded;
  if (!f.storage_warning.empty()) report["storage_warning"] = f.storage_warning;
  return report;
}

json what_would_certify(const ExperimentConfig& c, const P::HardwareModel& hw, double rate) {
  // The same plan and words as `dira plan` (plan_report.hpp): the verdict leads with what the
  // lab can act on (trials, wall time at the measured rate, the visibility needed); the
  // planner's lemma chain follows as "why".
  PlanRequest q;
  q.protocol = c.protocol;
  q.epsilon = c.epsilon;
  q.target = c.security_target;
  q.visibility = hw.visibility;
  q.efficiency = hw.efficiency;
  q.dark_count = hw.dark_count;
  q.trial_rate = rate;
  const json p = plan_report(q);
  json plan{{"hardware", p["hardware"]},    {"trial_rate", rate},
            {"feasible", p["feasible"]},    {"feasible_on_paper", p["feasible_on_paper"]},
            {"verdict", p["headline"]},     {"why", p["why"]},
            {"parameters", p["parameters"]}};
  for (const char* k : {"log10_trials", "log10_seconds", "explicit_extractor_bits", "log10_log10_trials", "k"})
    if (p.contains(k)) plan[k] = p[k];
  return plan;
}

namespace {

/// What reading one of the run directory's small files gave.
struct SmallFile {
  bool present = false;
  std::string bytes;
};

/// Reads a run-directory file of at most `limit` bytes: never through a symlink, never a FIFO
/// or device (/dev/zero cannot make it allocate without end). Absent: present = false.
/// Throws RunFileError for anything else that is wrong with it.
SmallFile read_small_file(const std::filesystem::path& p, std::uint64_t limit) {
  SmallFile f;
  const int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return f;
    throw RunFileError("cannot read " + p.string() + ": " + std::strerror(errno) +
                       (errno == ELOOP ? " (a symlink: dira does not follow one in a run directory)" : ""));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw RunFileError(p.string() + " is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > limit) {
    ::close(fd);
    throw RunFileError(p.string() + " is " + std::to_string(st.st_size) + " bytes, more than a run writes (limit " +
                       std::to_string(limit) + ")");
  }
  f.present = true;
  f.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < f.bytes.size()) {
    const ssize_t r = ::read(fd, f.bytes.data() + got, f.bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  f.bytes.resize(got);
  return f;
}

/// A string field of the live report.json, checked: a report whose fields have the wrong types
/// is reported as damaged, not met with a JSON library exception.
std::optional<std::string> string_field(const json& j, const char* key, std::string& problem) {
  if (!j.contains(key)) return std::nullopt;
  if (!j[key].is_string()) {
    if (problem.empty()) problem = std::string("field \"") + key + "\" is " + j[key].type_name() + ", not a string";
    return std::nullopt;
  }
  return j[key].get<std::string>();
}

}  // namespace

json analyze_run_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw RunFileError(dir.string() + " is not a run directory");
  const SmallFile config = read_small_file(dir / "config.yaml", 16u << 20);
  if (!config.present || config.bytes.empty())
    throw RunFileError((dir / "config.yaml").string() + " is missing or empty");
  // The live report, read first: re-deciding is only meaningful for the configuration that ran,
  // and a changed config.yaml (edited, replaced) would re-decide something else under this
  // run's name (issue 13). Written atomically (RunDirectory::write_report): whole or absent.
  const SmallFile rj = read_small_file(dir / "report.json", 256u << 20);
  std::string problem;
  json live;
  if (rj.present) {
    live = json::parse(rj.bytes, nullptr, false);
    if (live.is_discarded())
      problem = rj.bytes.empty() ? "it is empty" : "it is not valid JSON";
    else if (!live.is_object())
      problem = std::string("it is a JSON ") + live.type_name() + ", not an object";
  }
  if (problem.empty() && rj.present) {
    if (const auto recorded_sha = string_field(live, "config_sha256", problem);
        recorded_sha && *recorded_sha != detail::sha256_hex(config.bytes))
      throw RunFileError((dir / "config.yaml").string() + " was changed after the run: its SHA-256 is " +
                         detail::sha256_hex(config.bytes) + ", report.json records " + *recorded_sha +
                         " for the configuration that ran; restore it to re-decide this run");
  }
  ExperimentConfig c = load_experiment_text(config.bytes, (dir / "config.yaml").string());
  c.text = config.bytes;
  // sv_bits.bin: the bits drawn after the settings, appended as drawn (SvBitsFile). 2^31
  // bytes is far more than any box choice or extractor draws.
  const SmallFile sv = read_small_file(dir / "sv_bits.bin", 1ull << 31);
  const std::vector<std::uint8_t> bits(sv.bytes.begin(), sv.bytes.end());
  P::BufferSvSource source = P::BufferSvSource::from_bytes(bits, (dir / "sv_bits.bin").string(), c.epsilon);
  AnalysisOptions ao;
  // Protocol A always gets the recorded bits, even none: a run that aborted before choosing
  // boxes (a device without a valid run) drew none, and an empty file reproduces that abort;
  // a decision that needs bits the run never drew is reported as such below. B and C decide
  // without weak bits and only extract with them.
  if (sv.present && (!bits.empty() || c.protocol == 'A')) ao.weak_bits = &source;
  std::optional<ProtocolCRunPlan> plan_c;
  if (c.protocol == 'C') {
    const SmallFile pj = read_small_file(dir / "pef.json", 256u << 20);
    if (pj.bytes.empty())
      throw RunFileError((dir / "pef.json").string() + " is missing or empty: Protocol C cannot be re-decided");
    try {
      plan_c = read_pef_json(json::parse(pj.bytes), c);
    } catch (const std::exception& e) {
      throw RunFileError((dir / "pef.json").string() + ": " + e.what());
    }
    ao.protocol_c = &*plan_c;
  }
  RunFileContents contents;
  ao.trials = [&](const std::function<void(std::span<const P::Trial>)>& sink) {
    contents = read_run_file(dir / "run.h5", sink);
  };
  json out;
  out["run_directory"] = dir.string();
  out["reference"] = protocol_reference(c.protocol);
  json notes = json::array();
  AnalysisResult ar;
  try {
    ar = analyze(c, ao);
  } catch (const P::SourceExhausted&) {
    // The decision needs weak-source bits (box choice, extractor) beyond those the run drew
    // before it stopped: they cannot be drawn now (a later draw is a different experiment).
    ar.report = json{{"protocol", std::string(1, c.protocol)},
                     {"decision", "undecided"},
                     {"reasons",
                      {"sv_bits.bin holds " + std::to_string(bits.size() * 8) +
                       " bits but the decision needs more: the run stopped before it drew its " +
                       (c.protocol == 'A' ? "box-choice" : "extractor") +
                       " bits (killed, or the disk filled), so its decision cannot be reproduced"}}};
  }
  out["trials_recorded"] = contents.trials;
  if (contents.damaged_rows > 0) {
    // Rows never written (a file cut short) or damaged since: never decided over.
    out["trials_damaged"] = contents.damaged_rows;
    out["damage"] = contents.damage;
    notes.push_back(std::to_string(contents.damaged_rows) + " trials missing or damaged, not used: " + contents.damage +
                    "; the decision is over the " + std::to_string(contents.trials) + " intact trials before them");
  }
  if (!contents.damage_other.empty()) notes.push_back("run.h5: " + contents.damage_other);
  if (contents.unverified_rows > 0) {
    out["trials_unverified"] = contents.unverified_rows;
    notes.push_back(contents.unverified +
                    " (a row never written reads back as zeros and breaks the order; other damage to them would "
                    "not be seen)");
  }
  out["analysis"] = ar.report;
  // The same rule as the live run (run_outcome): before the protocol's n — stopped, killed, rows
  // lost — nothing is decided; the statistics over the recorded trials are reported beside it.
  const std::string over_recorded = ar.report.value("decision", "undecided");
  const bool complete = decided_at_n(contents.trials, protocol_trial_count(c), c.protocol, over_recorded);
  out["decision"] = complete ? over_recorded : "incomplete";
  out["decision_over_recorded_trials"] = over_recorded;
  out["certified_bits"] = complete ? ar.output_bits : 0;
  if (complete && ar.output_bits > 0)
    out["output_sha256"] = detail::sha256_hex(std::string(ar.output.begin(), ar.output.end()));

  // Without report.json, the run's own copy of its report in run.h5 (written there first, at the
  // end of the run: session.cpp write_report) is the live report, if the run got that far.
  std::string live_from = rj.present ? "report.json" : "";
  if (!rj.present && !contents.report.empty()) {
    json copy = json::parse(contents.report, nullptr, false);
    std::string copy_problem;
    if (copy.is_object() && string_field(copy, "state", copy_problem) && string_field(copy, "decision", copy_problem) &&
        copy_problem.empty()) {
      // The same refusal as with report.json: a changed config.yaml would re-decide something else.
      if (const auto recorded_sha = string_field(copy, "config_sha256", copy_problem);
          recorded_sha && *recorded_sha != detail::sha256_hex(config.bytes))
        throw RunFileError((dir / "config.yaml").string() + " was changed after the run: its SHA-256 is " +
                           detail::sha256_hex(config.bytes) + ", run.h5's report records " + *recorded_sha +
                           " for the configuration that ran; restore it to re-decide this run");
      live = std::move(copy);
      live_from = "run.h5";
      notes.push_back((dir / "report.json").string() + " is missing" +
                      (std::filesystem::exists(dir / kReportUnwrittenFile, ec) ? " (the run could not write it)" : "") +
                      ": the live report is run.h5's copy (/report_json)");
    }
  }
  std::optional<std::string> state, decision, sha;
  if (problem.empty() && !live_from.empty()) {
    state = string_field(live, "state", problem);
    if (!state) state = string_field(live, "status", problem);  // reports before state/verdict
    decision = string_field(live, "decision", problem);
    sha = string_field(live, "output_sha256", problem);
    if (problem.empty() && (!state || !decision)) problem = "it has no state or no decision";
  }
  if (live_from.empty()) {
    // No report anywhere. A run that ended but could not write report.json (a full disk) left
    // the empty file kReportUnwrittenFile (RunDirectory::write_report); a crashed or killed one
    // left nothing.
    const bool unwritten = std::filesystem::exists(dir / kReportUnwrittenFile, ec);
    out["live_state"] = unwritten ? std::string("no report.json: the run ended but could not write it (") +
                                        kReportUnwrittenFile + ", a full disk?); decision over the trials recorded"
                                  : "no report.json: the run did not finish (crashed or killed); decision over the "
                                    "trials recorded";
  } else if (!problem.empty()) {
    out["live_state"] = "report.json is damaged (" + problem + "): the live decision is unknown";
    notes.push_back((dir / "report.json").string() + " is damaged: " + problem);
  } else {
    out["live_state"] = *state;
    if (live_from != "report.json") out["live_report"] = live_from;
    out["reproduces_live_decision"] = *decision == out["decision"].get<std::string>();
    if (sha || out.contains("output_sha256"))
      out["reproduces_output"] = sha.value_or("") == out.value("output_sha256", "");
  }
  if (!notes.empty()) out["notes"] = notes;
  return out;
}

}  // namespace dira::app
