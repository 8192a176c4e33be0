#include "dira/gui/decision.hpp"

#include "markup.hpp"

#include "dira/app/lab_units.hpp"

#include <cstdio>
#include <filesystem>

namespace dira::gui {

namespace {

std::string str(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  return v.dump();
}

std::string num(const nlohmann::json& v) {
  if (!v.is_number()) return v.is_null() ? "—" : v.dump();
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v.get<double>());
  return b;
}

// The relation symbol as an operator reads it.
std::string relation(const std::string& r) {
  if (r == "<=") return "≤";
  if (r == ">=") return "≥";
  return r;
}

}  // namespace

DecisionSummary summarize_report(const nlohmann::json& report) {
  DecisionSummary s;
  if (!report.is_object()) return s;
  const std::string state = report.contains("state") ? str(report, "state") : str(report, "status");
  const std::string decision = str(report, "decision");
  const nlohmann::json analysis = report.value("analysis", nlohmann::json::object());
  const nlohmann::json record = analysis.value("decision_record", nlohmann::json::object());
  s.run_directory = str(report, "run_directory");
  s.trials = report.value("trials_recorded", std::uint64_t{0});
  s.device_independent = report.value("device_independent", true);
  s.certified_bits = report.value("certified_bits", std::uint64_t{0});
  s.certification = str(analysis, "certification");
  if (const auto plan = report.value("what_would_certify", nlohmann::json::object()); plan.is_object())
    s.what_would_certify = str(plan, "verdict");

  for (const auto& t : record.value("tests", nlohmann::json::array())) {
    std::string line = str(t, "name") + ": " + str(t, "statistic") + " = " + num(t.value("value", nlohmann::json()));
    line += " " + relation(str(t, "relation")) + " " + num(t.value("threshold", nlohmann::json()));
    line += t.value("passed", false) ? "  ✔ passed" : "  ✘ failed";
    if (const auto src = str(t, "source"); !src.empty()) line += "  (" + src + ")";
    s.numbers.push_back(line);
  }
  if (const auto used = record.value("trials_used", nlohmann::json()); used.is_number())
    s.numbers.push_back("trials used: " + used.dump() + " of " + std::to_string(s.trials) + " recorded");
  for (const auto& r : analysis.value("reasons", nlohmann::json::array()))
    if (r.is_string()) s.reasons.push_back(r.get<std::string>());

  // The run's state (how acquisition ended) and its verdict are separate fields (run_report.hpp);
  // reports written before that split have only "status".
  const std::string over = str(report, "decision_over_recorded_trials");
  const std::string recorded_note =
      over.empty() ? std::string() : " — statistics over the trials recorded: " + over + " (certifies nothing)";
  if (state == "hardware-fault") {
    s.kind = DecisionSummary::Kind::hardware_fault;
    s.headline = "HARDWARE FAULT — INCOMPLETE";
    const auto fault = str(report, "fault");
    s.reasons.insert(s.reasons.begin(), fault.empty() ? "the device failed (no detail reported)" : fault);
  } else if (state == "interrupted") {
    s.kind = DecisionSummary::Kind::interrupted;
    s.headline = "STOPPED BY THE OPERATOR — INCOMPLETE" + recorded_note;
  } else if (state == "storage-full" || state == "storage-error") {
    s.kind = DecisionSummary::Kind::incomplete;
    s.headline = std::string(state == "storage-full" ? "STOPPED: DISK FULL" : "STOPPED: WRITE ERROR") +
                 " — INCOMPLETE" + recorded_note;
    if (const auto fault = str(report, "fault"); !fault.empty()) s.reasons.insert(s.reasons.begin(), fault);
  } else if (decision == "incomplete") {
    s.kind = DecisionSummary::Kind::incomplete;
    s.headline = "INCOMPLETE (" + (state.empty() ? std::string("stopped") : state) + ")" + recorded_note;
  } else if (decision == "accept" || state == "accepted") {
    s.kind = s.certified_bits > 0 ? DecisionSummary::Kind::accept : DecisionSummary::Kind::accepted_no_bits;
    s.headline = s.certified_bits > 0 ? "ACCEPT" : "ACCEPTED — 0 bits certified";
  } else if (decision == "abort" || state == "aborted") {
    s.kind = DecisionSummary::Kind::abort;
    s.headline = "ABORT";
    if (!s.reasons.empty()) s.headline += " — " + s.reasons.front();
  } else {
    s.headline = state.empty() ? "no decision" : state;
  }
  if (const auto note = str(report, "decision_note"); !note.empty()) s.reasons.push_back(note);
  if (!s.device_independent) s.reasons.push_back("fair-sampling mode: NOT device-independent");

  const auto out = str(report, "output_file");
  if (!out.empty() && s.certified_bits > 0) {
    const std::filesystem::path p(out);
    s.output_path = (p.is_absolute() || s.run_directory.empty())
                        ? p.string()
                        : (std::filesystem::path(s.run_directory) / p).string();
  }
  return s;
}

std::string decision_html(const DecisionSummary& s) {
  std::string h = "<b style='font-size:14pt'>" + escape_markup(s.headline) + "</b>";
  for (const auto& r : s.reasons) h += "<br>" + escape_markup(r);
  if (!s.numbers.empty()) {
    h += "<br><span style='font-family:monospace'>";
    for (std::size_t i = 0; i < s.numbers.size(); ++i) h += (i ? "<br>" : "") + escape_markup(s.numbers[i]);
    h += "</span>";
  }
  if (s.kind != DecisionSummary::Kind::none) {
    h += "<br><b>certified output: " + app::lab_units::count(static_cast<double>(s.certified_bits), "bit") + "</b>";
    if (!s.output_path.empty())
      h += " written to " + escape_markup(s.output_path);
    else if (!s.certification.empty())
      h += " — " + escape_markup(s.certification);
    if (s.certified_bits == 0 && !s.what_would_certify.empty())
      h += "<br><i>what would certify (dira plan):</i> " + escape_markup(s.what_would_certify);
    if (!s.run_directory.empty()) h += "<br>run directory: " + escape_markup(s.run_directory);
  }
  return h;
}

std::uint32_t decision_colour(DecisionSummary::Kind k) {
  switch (k) {
    case DecisionSummary::Kind::accept:
      return 0xc8e6c9;
    case DecisionSummary::Kind::abort:
      return 0xffe0b2;
    case DecisionSummary::Kind::hardware_fault:
      return 0xffcdd2;
    default:
      return 0xe0e0e0;
  }
}

}  // namespace dira::gui
