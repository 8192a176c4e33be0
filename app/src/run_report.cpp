#include "run_report.hpp"

#include "sha256.hpp"

#include "dira/app/plan_report.hpp"
#include "dira/app/run_limits.hpp"

#ifndef DIRA_VERSION
#define DIRA_VERSION "0.1.0"
#endif

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

std::string software_name() { return std::string("dira ") + DIRA_VERSION; }

RunOutcome run_outcome(RunStatus status, const AnalysisResult* analysis, std::uint64_t trials,
                       std::uint64_t protocol_trials, char protocol) {
  RunOutcome o;
  o.decision_over_recorded = analysis ? analysis->report.value("decision", "undecided") : "undecided";
  const bool reached_n = trials >= protocol_trials;
  // Protocol C may stop before its budget by its own rule, once the target is certified
  // (Ville's inequality, docs/protocol-c-security.md §5.4): that run is complete.
  const bool stopped_by_protocol = protocol == 'C' && o.decision_over_recorded == "accept";
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
    case RunStatus::complete:
    case RunStatus::time_limit:
      o.state = reached_n || stopped_by_protocol ? "completed" : "stopped";
      o.exit_code = 5;
      break;
  }
  if (o.state == "completed" && analysis && (o.decision_over_recorded == "accept" || o.decision_over_recorded == "abort")) {
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
  q.epsilon = c.epsilon();
  q.target = c.security_target;
  q.visibility = hw.visibility;
  q.efficiency = hw.efficiency;
  q.dark_count = hw.dark_count;
  q.trial_rate = rate;
  const json p = plan_report(q);
  json plan{{"hardware", p["hardware"]},
            {"trial_rate", rate},
            {"feasible", p["feasible"]},
            {"feasible_on_paper", p["feasible_on_paper"]},
            {"verdict", p["headline"]},
            {"why", p["why"]},
            {"parameters", p["parameters"]}};
  for (const char* k : {"log10_trials", "log10_seconds", "explicit_extractor_bits", "log10_log10_trials", "k"})
    if (p.contains(k)) plan[k] = p[k];
  return plan;
}

}  // namespace dira::app
