// libFuzzer target: a weak-source bit file (sv_bits.bin, `analyze-trials --sv-bits`) driving
// Protocol A's box choice (seed 000, Fig. 2 step 2: rejection sampling of a_j from ⌈log₂ n_j⌉
// bits) through app::analyze, over a fixed set of trials. The first two bytes choose how many
// valid runs each of the 4 devices has (1..256, so every rejection loop length is reached); the
// rest are the bits. Any input must give a decision (accept/abort, the chosen box of every
// device below its n_j) or protocol::SourceExhausted when the bits run out, never anything else.
#include "dira/app/analysis.hpp"
#include "dira/app/experiment.hpp"
#include "dira/protocol/sv_source.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef DIRA_FUZZ_SOURCE_DIR
#error "DIRA_FUZZ_SOURCE_DIR: the source tree (for config/experiments and config/inequalities)"
#endif

namespace {
// A Protocol A experiment on the CHSH-like four-party guehne4 inequality with 4 devices.
const char* const kExperiment = R"(name: fuzz-sv-bits
inequality: guehne4
security_target: 1e-3
protocol:
  kind: A
  demonstration: true
  epsilon: 0.01
  delta: 0.2
  mu: 0.3
  devices: 4
  uses_per_device: 300
weak_source:
  kind: iid
  bias: 0.01
  seed: 2
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace P = dira::protocol;
  namespace A = dira::app;
  static const A::ExperimentConfig config = [] {
    A::ExperimentConfig c = A::load_experiment_text(kExperiment, "fuzz.yaml", DIRA_FUZZ_SOURCE_DIR "/config");
    c.text = kExperiment;
    return c;
  }();
  // A setting in the expression: its trials are valid runs (seed 000, Fig. 2).
  static const dira::protocol::Setting in_expression =
      config.inequality.expression.scenario().setting_at(config.inequality.expression.settings_in_expression().front());
  if (size < 2) return 0;
  // n_j valid runs for device j.
  const unsigned valid[4] = {1u + data[0], 1u + (data[1] & 0x3fu), 1u + (data[1] >> 6), 2u};
  std::vector<P::Trial> trials;
  for (std::uint32_t j = 0; j < 4; ++j)
    for (unsigned k = 0; k < valid[j]; ++k) {
      P::Trial t;
      t.index = trials.size();
      t.device = j;
      for (std::size_t p = 0; p < in_expression.size(); ++p) t.u[p] = static_cast<std::uint8_t>(in_expression[p]);
      t.x = {static_cast<std::uint8_t>(k & 1u), 0, static_cast<std::uint8_t>((k >> 1) & 1u), 0};
      trials.push_back(t);
    }
  const std::vector<std::uint8_t> bytes(data + 2, data + size);
  P::BufferSvSource source = P::BufferSvSource::from_bytes(bytes, "fuzz sv_bits.bin", 0.01);
  A::AnalysisOptions o;
  o.weak_bits = &source;
  o.trials = [&](const std::function<void(std::span<const P::Trial>)>& sink) { sink(trials); };
  try {
    const A::AnalysisResult r = A::analyze(config, o);
    const std::string d = r.report.at("decision").get<std::string>();
    if (d != "accept" && d != "abort") std::abort();
    if (r.report.contains("chosen_boxes")) {
      const auto& boxes = r.report["chosen_boxes"];
      const auto& devices = r.report.at("devices");
      for (std::size_t j = 0; j < boxes.size(); ++j)
        if (boxes[j].get<std::uint64_t>() >= devices[j].at("valid_runs").get<std::uint64_t>()) std::abort();
    }
  } catch (const P::SourceExhausted&) {
  }
  return 0;
}
