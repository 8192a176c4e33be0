#pragma once
// Replaying a simulated run through the PTU tagger: its raw tags as PTU events, and the
// `devices:` section of an experiment that replays the file (the PTU tagger, the trial layout the
// simulator used, each party's detector and echo channels as the file numbers them). Shared by
// the session and pipeline tests so that the replay is written in one place.

#include "dira/app/run_file.hpp"
#include "dira/drivers/picoquant/ptu.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dira::test {

inline std::string channel_list(const std::vector<int>& channels) {
  std::string s = "[";
  for (std::size_t i = 0; i < channels.size(); ++i) s += (i ? ", " : "") + std::to_string(channels[i]);
  return s + "]";
}

/// The raw tags a simulated run recorded in `run_h5`, as PTU events: `sync_channel` becomes the
/// sync (PTU channel 0), every other tag a photon on `ptu_channel(its channel)`.
inline std::vector<drivers::picoquant::PtuEvent> ptu_events_of_run(const std::filesystem::path& run_h5,
                                                                   int sync_channel,
                                                                   const std::function<int(int)>& ptu_channel) {
  using Kind = drivers::picoquant::PtuEvent::Kind;
  std::vector<drivers::picoquant::PtuEvent> events;
  app::read_run_file_tags(run_h5, [&](std::span<const app::RecordedTag> b) {
    for (const auto& rt : b) {
      drivers::picoquant::PtuEvent e;
      e.kind = rt.tag.channel == sync_channel ? Kind::sync : Kind::photon;
      e.channel = e.kind == Kind::sync ? 0 : ptu_channel(rt.tag.channel);
      e.time = static_cast<std::uint64_t>(rt.tag.time_ps);
      events.push_back(e);
    }
  });
  return events;
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
