#include "run_statistics.hpp"

namespace dira::app {

RunStatistics::RunStatistics(const ExperimentConfig& c, const hal::TrialAssemblyConfig& layout)
    : indexer_(c.inequality.expression.scenario()), slot_of_channel_(4096, -1) {
  const auto& sc = c.inequality.expression.scenario();
  for (std::size_t p = 0; p < layout.parties.size(); ++p)
    for (std::size_t k = 0; k < layout.parties[p].detector_channels.size(); ++k) {
      const int ch = layout.parties[p].detector_channels[k];
      channel_names_.push_back(std::string(1, static_cast<char>('A' + p)) + ":" + std::to_string(k) + " (ch " +
                               std::to_string(ch) + ")");
      // One slot per channel of the station that delivers tags (channels are per station;
      // with one station the mapping is exact).
      if (ch >= 0 && ch < 4096 && slot_of_channel_[static_cast<std::size_t>(ch)] < 0)
        slot_of_channel_[static_cast<std::size_t>(ch)] = static_cast<int>(channel_names_.size() - 1);
    }
  channel_names_.push_back("no click (party-trials)");
  clicks_.assign(channel_names_.size(), 0);
  std::size_t joint = 1;
  for (int p = 0; p < sc.parties(); ++p) joint *= static_cast<std::size_t>(sc.settings(p));
  setting_counts_.assign(joint, 0);
  setting_labels_.resize(joint);
  for (std::size_t j = 0; j < joint; ++j) {
    std::size_t r = j;
    std::string label;
    for (int p = sc.parties() - 1; p >= 0; --p) {  // TrialIndexer: party 0 is the most significant digit
      label.insert(0, (p > 0 ? "," : "") + std::to_string(r % static_cast<std::size_t>(sc.settings(p))));
      r /= static_cast<std::size_t>(sc.settings(p));
    }
    setting_labels_[j] = label;
  }
  std::tie(nu_lo_, nu_hi_) = setting_probability_band(c);
}

void RunStatistics::add_counters(std::span<const std::uint64_t> slot_counts, const hal::AssemblyCounters& assembly,
                                 const hal::SchedulerCounters& scheduler) {
  for (std::size_t s = 0; s < slot_counts.size() && s + 1 < clicks_.size(); ++s) clicks_[s] += slot_counts[s];
  clicks_.back() = assembly.no_click;
  assembly_ = assembly;
  scheduler_ = scheduler;
}

void RunStatistics::add_trials(std::span<const protocol::Trial> trials) {
  for (const auto& t : trials) ++setting_counts_[indexer_.setting_index(t)];
}

Progress RunStatistics::snapshot(const protocol::LiveStatistics& s, char protocol, const Clock& k,
                                 const std::string& stage) const {
  Progress p;
  p.trials = k.trials;
  p.planned = k.planned;
  p.elapsed_s = k.elapsed_s;
  p.rate = k.elapsed_s > 0 ? static_cast<double>(k.trials) / k.elapsed_s : 0;
  p.stage = stage;
  p.protocol = protocol;
  p.live = s;
  p.assembly = assembly_;
  p.scheduler = scheduler_;
  if (p.rate > 0 && k.planned > k.trials) p.eta_s = static_cast<double>(k.planned - k.trials) / p.rate;
  if (k.duration_s > 0)
    p.eta_s = p.eta_s < 0 ? k.duration_s - k.elapsed_s : std::min(p.eta_s, k.duration_s - k.elapsed_s);
  if (k.planned <= k.trials) p.eta_s = 0;
  p.channel_names = channel_names_;
  p.channel_counts = clicks_;
  p.setting_labels = setting_labels_;
  p.setting_counts = setting_counts_;
  p.setting_probability_min = nu_lo_;
  p.setting_probability_max = nu_hi_;
  p.setting_probability_ideal = 1.0 / static_cast<double>(setting_counts_.size());
  return p;
}

}  // namespace dira::app
