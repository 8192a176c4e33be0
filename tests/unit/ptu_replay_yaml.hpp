#pragma once
// The `devices:` section of an experiment that replays a PTU file written from a simulated run:
// the PTU tagger, the trial layout the simulator used (its windows), and each party's detector
// and echo channels as the PTU file numbers them. Shared by the session and pipeline tests so
// that the replay layout is written in one place.

#include "dira/hal/trial_assembly.hpp"

#include <string>
#include <vector>

namespace dira::test {

inline std::string channel_list(const std::vector<int>& channels) {
  std::string s = "[";
  for (std::size_t i = 0; i < channels.size(); ++i) s += (i ? ", " : "") + std::to_string(channels[i]);
  return s + "]";
}

/// `tagger_settings` are further lines under the tagger's `settings:` (each "      key: value\n").
inline std::string ptu_replay_devices_yaml(const std::string& ptu_file, const hal::TrialAssemblyConfig& layout,
                                           const std::vector<std::vector<int>>& detectors,
                                           const std::vector<std::vector<int>>& echoes,
                                           const std::string& tagger_settings = "") {
  std::string yaml = "devices:\n  tagger:\n    driver: ptu\n    settings:\n      file: " + ptu_file + "\n" +
                     tagger_settings + "  layout:\n    sync_channel: 0\n";
  yaml += "    sync_period_ps: " + std::to_string(layout.sync_period_ps) + "\n";
  yaml += "    detection_offset_ps: " + std::to_string(layout.detection_offset_ps) + "\n";
  yaml += "    detection_width_ps: " + std::to_string(layout.detection_width_ps) + "\n";
  yaml += "    echo_offset_ps: " + std::to_string(layout.echo_offset_ps) + "\n";
  yaml += "    echo_width_ps: " + std::to_string(layout.echo_width_ps) + "\n";
  std::string det = "[", echo = "[";
  for (std::size_t p = 0; p < detectors.size(); ++p) det += (p ? ", " : "") + channel_list(detectors[p]);
  for (std::size_t p = 0; p < echoes.size(); ++p) echo += (p ? ", " : "") + channel_list(echoes[p]);
  return yaml + "    detectors: " + det + "]\n    echoes: " + echo + "]\n";
}

}  // namespace dira::test
