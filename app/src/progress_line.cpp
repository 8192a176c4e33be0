// `dira run`'s status line (progress_line.hpp). Presentation only.
#include "dira/app/progress_line.hpp"

#include "dira/app/lab_units.hpp"

#include <algorithm>
#include <vector>

namespace dira::app {

namespace lu = lab_units;

std::size_t display_width(const std::string& s) {
  // Count code points: every byte that is not a UTF-8 continuation byte (10xxxxxx) starts one.
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

namespace {
struct Part {
  int priority;  // lower = more important; dropped last
  std::string text;
};

std::string projection(const Progress& p) {
  // The last snapshot of a run carries its decision: the line then says what was decided, not
  // what the live intervals projected.
  if (!p.decision.empty()) return "→ decision " + p.decision;
  // `projected` is what the decision would be if the live confidence intervals held; it
  // "resolves" once the band clears the threshold, before that the honest word is undecided.
  if (p.live.projected == protocol::Verdict::accept) return "→ accept likely";
  if (p.live.projected == protocol::Verdict::abort) return "→ abort likely";
  return "→ undecided";
}
}  // namespace

std::string progress_line(const Progress& p, std::size_t columns) {
  std::vector<Part> parts;
  const double fraction = p.planned > 0 ? static_cast<double>(p.trials) / static_cast<double>(p.planned) : 0;
  parts.push_back({0, lu::significant(100 * fraction, 3) + "%"});
  parts.push_back({5, lu::grouped(p.trials) + "/" + lu::grouped(p.planned) + " trials"});
  parts.push_back({3, lu::trial_rate(p.rate)});
  if (const auto& c = p.protocol_c) {
    parts.push_back(
        {1, "H_min " + lu::significant(c->certified_min_entropy, 3) + "/" + lu::significant(c->target, 3) + " bits"});
    parts.push_back({4, "gain " + lu::significant(c->mean_log2_gain, 3) + " bit/trial"});
    parts.push_back({2, "target in " + lu::duration(p.eta_to_target_s)});
  } else {
    // Protocol A's live value is E[Z_k | runs so far], the decision statistic's expectation if
    // the boxes were chosen now, and Pr[accept] under that choice (protocol_a.cpp, live()).
    const auto& s = p.live;
    const std::string name = p.protocol == 'A' ? "E[Z_k]" : "Bell";
    parts.push_back({1, name + " " + lu::significant(s.bell_mean, 4) + " ± " + lu::significant(s.bell_half_width, 2) +
                            " (≤ " + lu::significant(s.bell_threshold, 4) + ")"});
    if (p.protocol == 'A' && s.accept_probability >= 0)
      parts.push_back({2, "P(accept now) " + lu::significant(100 * s.accept_probability, 3) + "%"});
    if (s.has_ustar)
      parts.push_back({4, "u* " + lu::significant(s.ustar_mean, 4) + " ± " + lu::significant(s.ustar_half_width, 2) +
                              " (≥ " + lu::significant(s.ustar_threshold, 4) + ")"});
    parts.push_back({2, projection(p)});
    const double eta = p.rate > 0 && p.planned >= p.trials ? static_cast<double>(p.planned - p.trials) / p.rate : -1;
    parts.push_back({3, "ETA " + lu::duration(eta)});
  }
  parts.push_back({6, lu::duration(p.elapsed_s) + " elapsed"});
  // How far the settings confirmed at the modulators are ahead of the trials assembled (the
  // scheduler's look-ahead, issue 10 item 1); dropped first on a narrow terminal.
  if (p.scheduler.delivered > 0 && p.scheduler.delivered >= p.assembly.trials)
    parts.push_back({7, "settings " + lu::grouped(p.scheduler.delivered - p.assembly.trials) + " ahead"});

  auto join = [&] {
    std::string s;
    for (const auto& part : parts) s += (s.empty() ? "" : ", ") + part.text;
    return s;
  };
  std::string line = join();
  while (display_width(line) > columns && parts.size() > 1) {
    const auto least = std::max_element(parts.begin(), parts.end(),
                                        [](const Part& a, const Part& b) { return a.priority < b.priority; });
    parts.erase(least);
    line = join();
  }
  if (display_width(line) > columns) {
    // Still too wide (a very narrow terminal): cut at a code-point boundary.
    std::string cut;
    std::size_t w = 0;
    for (char c : line) {
      const bool starts = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      if (starts && ++w > columns) break;
      cut += c;
    }
    line = cut;
  }
  return line;
}

}  // namespace dira::app
