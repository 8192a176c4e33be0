#include "run_decision.hpp"

#include "run_report.hpp"
#include "setting_rule.hpp"
#include "sha256.hpp"

#include "dira/app/run_file.hpp"

#include <fstream>

namespace dira::app {

namespace P = dira::protocol;

RunDecision decide_recorded_run(const ExperimentConfig& c, RunDirectory& dir, P::BitLedger& ledger,
                                RecordingSource& source, const ProtocolCRunPlan* plan_c, RunStatus status,
                                std::uint64_t trials, std::uint64_t planned, std::string& fault) {
  // Protocol C stopping when certified: how many setting bits the look-ahead had drawn when the
  // run stopped depends on thread timing, and the extractor's bits follow them in the one stream.
  // Starting the extractor at a position fixed before the run — right after the setting bits of
  // every planned trial (one bit per party and trial, docs/protocol-c-security.md §2) — makes the
  // output a function of the seeds. Skipped before recording starts, so sv_bits.bin still holds
  // exactly the bits after the settings that the decision uses. Not with hardware-chosen
  // settings (dira draws none then).
  if (plan_c && plan_c->scoring.stop_when_certified && ledger.bits_observed() == 0) {
    const std::uint64_t fixed = minimum_setting_bits(c, planned);
    if (ledger.bits_drawn() > fixed)
      dir.log("the settings drew " + std::to_string(ledger.bits_drawn()) + " bits, past the extractor's fixed start " +
              std::to_string(fixed) + ": the extractor starts after them (secure, but not reproducible)");
    else if (const auto skipped = ledger.skip_to(fixed))
      dir.log("skipped " + std::to_string(skipped) + " weak-source bits: the extractor starts at bit " +
              std::to_string(fixed) + ", after the setting bits of all " + std::to_string(planned) + " planned trials");
  }
  source.start_recording();
  AnalysisOptions ao;
  ao.ledger = &ledger;
  ao.protocol_c = plan_c;
  const auto run_h5 = dir.file("run.h5");
  RunDecision d;
  ao.trials = [&](const std::function<void(std::span<const P::Trial>)>& sink) {
    d.trials_in_file = read_run_file(run_h5, sink).trials;
  };
  if (status == RunStatus::hardware_fault && trials == 0) return d;
  try {
    d.analysis = analyze(c, ao);
    d.analysed = true;
  } catch (const std::exception& e) {
    fault = fault.empty() ? std::string("analysis failed: ") + e.what() : fault;
  }
  return d;
}

void record_after_decision(const ExperimentConfig& c, RunDirectory& dir, RunRecorder& recorder,
                           const P::BitLedger& ledger, RecordingSource& source, const ProtocolCRunPlan* plan_c,
                           const LiveProtocol& protocol, RunStatus& status, std::string& fault) {
  if (plan_c) {  // the certificate as scored: every PEF with the trials it scored
    // Replaces the plan written before the first trial atomically: the file holds one or the
    // other, never a part (issue 12). Without it the run cannot be re-decided: a storage error.
    try {
      write_file_atomically(dir.file("pef.json"),
                            pef_json(c, *plan_c, &protocol.protocol_c()->segments()).dump(2) + "\n");
    } catch (const RunFileError& e) {
      dir.log(std::string("cannot write pef.json: ") + e.what());
      if (status != RunStatus::storage_error) {
        status = RunStatus::storage_error;
        fault = e.what();
      }
    }
  }
  // The whole ledger — settings, box choice, extractor — in run.h5.
  try {
    recorder.append_ledger(ledger.entries());
  } catch (const RunFileError& e) {
    dir.log(std::string("cannot write the ledger: ") + e.what());
  }
  try {
    source.sync();  // sv_bits.bin was written as the bits were drawn (RecordingSource)
  } catch (const std::exception& e) {
    dir.log(std::string("cannot write sv_bits.bin: ") + e.what());
    if (status != RunStatus::storage_error) {
      status = RunStatus::storage_error;
      fault = e.what();
    }
  }
}

void add_certified_output(nlohmann::json& report, const ExperimentConfig& c, const RunDecision& d,
                          const std::string& verdict, RunDirectory& dir,
                          const std::optional<P::HardwareModel>& hardware, double trial_rate) {
  const AnalysisResult& ar = d.analysis;
  std::uint64_t certified = 0;
  if (d.analysed && ar.output_bits > 0 && verdict == "accept") {  // never for an incomplete run
    const std::string bytes(ar.output.begin(), ar.output.end());
    dir.write_private("output.bin", bytes);
    report["output_file"] = "output.bin";
    report["output_sha256"] = detail::sha256_hex(bytes);
    certified = ar.output_bits;
  }
  report["certified_bits"] = certified;
  if (certified != 0 || !d.analysed || c.protocol == 'C') return;
  // Plain words and numbers from the planner (`dira plan`): what run, on this apparatus at the
  // rate just measured, would make the seeds' bounds certify something.
  if (!hardware) {
    report["what_would_certify"] = {
        {"verdict", "not assessed: the experiment has no hardware: section describing the devices"}};
    return;
  }
  try {
    report["what_would_certify"] = what_would_certify(c, *hardware, trial_rate);
  } catch (const std::exception& e) {
    dir.log(std::string("planner: ") + e.what());
  }
}

}  // namespace dira::app
