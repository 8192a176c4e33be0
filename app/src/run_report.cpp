#include "run_report.hpp"

#include "sha256.hpp"

#ifndef DIRA_VERSION
#define DIRA_VERSION "0.1.0"
#endif

namespace dira::app {

namespace P = dira::protocol;
using nlohmann::json;

std::string software_name() { return std::string("dira ") + DIRA_VERSION; }

RunOutcome run_outcome(RunStatus status, const AnalysisResult* analysis) {
  RunOutcome o;
  o.decision = analysis ? analysis->report.value("decision", "undecided") : "undecided";
  switch (status) {
    case RunStatus::hardware_fault:
      o.status = "hardware-fault";
      o.exit_code = 4;
      break;
    case RunStatus::interrupted:
      o.status = "interrupted";
      o.exit_code = 130;
      break;
    case RunStatus::storage_error:
      o.status = "storage-error";
      o.exit_code = 1;
      break;
    case RunStatus::storage_full:
      o.status = "storage-full";
      o.exit_code = 1;
      break;
    case RunStatus::complete:
    case RunStatus::time_limit:
      o.status = o.decision == "accept" ? "accepted" : "aborted";
      o.exit_code = o.decision == "accept" ? 0 : 3;
      break;
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
  report["status"] = outcome.status;
  report["decision"] = outcome.decision;
  if (f.status != RunStatus::complete)
    report["decision_note"] = "decision over the " + std::to_string(f.trials) +
                              " trials recorded before the run stopped (" + to_string(f.status) + ")";
  if (!f.storage_warning.empty()) report["storage_warning"] = f.storage_warning;
  return report;
}

json what_would_certify(const ExperimentConfig& c, const P::HardwareModel& hw, double rate) {
  json plan{{"hardware",
             {{"visibility", hw.visibility}, {"efficiency", hw.efficiency}, {"dark_count_probability", hw.dark_count}}},
            {"trial_rate", rate}};
  if (c.protocol == 'B') {
    const auto pl = P::plan_protocol_b(c.inequality, c.epsilon, c.security_target, hw, rate);
    plan["feasible"] = pl.feasible;
    plan["verdict"] = pl.verdict;
    plan["log10_trials_for_one_bit"] = pl.log10_trials;
    plan["log10_seconds_at_this_rate"] = pl.log10_seconds;
    plan["explicit_extractor_bits_at_that_size"] = pl.explicit_bits;
    plan["parameters"] = {{"delta", pl.delta}, {"mu1", pl.mu1}, {"kappa", pl.kappa}, {"tau", pl.tau}};
  } else {
    const auto pl = P::plan_protocol_a(c.inequality, c.epsilon, c.security_target, hw, rate);
    plan["feasible"] = pl.feasible;
    plan["verdict"] = pl.verdict;
    plan["log10_log10_trials"] = pl.log10_log10_trials;
    plan["devices"] = pl.devices;
    plan["parameters"] = {{"delta", pl.delta}, {"mu", pl.mu}, {"t", pl.t}};
  }
  return plan;
}

}  // namespace dira::app
