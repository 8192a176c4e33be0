#pragma once
/// @file decision.hpp
/// The decision banner's content, read from a run's report (report.json, the same JSON
/// `dira run --json` prints): accept / abort / hardware fault / interrupted, with the reasons,
/// the test values against their thresholds, and the certified output.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dira::gui {

struct DecisionSummary {
  /// accept: accepted and bits certified (the only green banner); accepted_no_bits: the test
  /// passed but nothing was certified (neutral); incomplete: the run ended before the
  /// protocol's n trials (stopped, interrupted, storage) and decides nothing.
  enum class Kind { none, accept, accepted_no_bits, abort, hardware_fault, interrupted, incomplete };
  Kind kind = Kind::none;
  std::string headline;              ///< "ACCEPT", "ABORT — Bell test failed", …
  std::vector<std::string> reasons;  ///< why (abort reasons, the fault, the stop)
  std::vector<std::string> numbers;  ///< one line per test: statistic, value, relation, threshold, source
  std::string certification;         ///< what was certified, or why nothing was
  std::string what_would_certify;    ///< the planner's verdict when nothing was certified (report "what_would_certify")
  std::uint64_t certified_bits = 0;
  std::string output_path;  ///< absolute path of the certified output, empty if none
  std::string run_directory;
  std::uint64_t trials = 0;
  bool device_independent = true;
};

/// Reads the fields every report has (state, decision, analysis.decision_record, …); missing
/// fields leave their defaults, so a report from a crashed or partial run still gives a banner.
DecisionSummary summarize_report(const nlohmann::json& report);

/// The banner as HTML (escaped) for a rich-text label.
std::string decision_html(const DecisionSummary& s);

/// Banner colour (0xRRGGBB) for a kind: green only for accepted with bits certified, amber abort,
/// red fault, grey otherwise (accepted with 0 bits, incomplete, interrupted).
std::uint32_t decision_colour(DecisionSummary::Kind k);

}  // namespace dira::gui
