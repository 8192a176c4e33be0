// libFuzzer target: an experiment file (issue 12). Any input must load or be refused with a
// ConfigError (file:line:column and key, the conf/ toolkit); any other exception, a crash, a
// hang or unbounded memory is a finding. Inequalities named by the input are resolved in the
// source tree's config/.
#include "dira/app/experiment.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#ifndef DIRA_FUZZ_SOURCE_DIR
#error "DIRA_FUZZ_SOURCE_DIR: the source tree (for config/inequalities)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)dira::app::load_experiment_text(text, "fuzz.yaml", DIRA_FUZZ_SOURCE_DIR "/config");
  } catch (const dira::app::ConfigError&) {
    // refused with its issues: the expected answer to bad input
  } catch (...) {
    std::abort();  // anything else escaping the loader is a defect
  }
  return 0;
}
