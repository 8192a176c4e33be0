#pragma once
// The physics model of one run (docs/simulator.md, "The model, trial by trial"): modulators,
// source, detectors, and the tags they produce. Built by PhysicalSimulator::start().
#include "distributions.hpp"
#include "modulator.hpp"
#include "source.hpp"

#include "dira/sim/physical.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dira::sim {

namespace detail {
inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
inline constexpr std::size_t kMaxErrorTrials = 1000;
/// Jitter is drawn from a Gaussian truncated at ±8σ (probability of truncation ~1e-15), so a
/// block can be cut at a time after which no earlier tag can still appear.
inline constexpr double kJitterTruncation = 8;
}  // namespace detail

struct PhysicalSimulator::Model {
  enum class Phase { header, running, finishing, ended };

  /// Per apparatus (one, or one per logical device with apparatus = independent).
  struct Apparatus {
    std::size_t table = 0;                                        // alias table of its source
    std::array<std::uint8_t, protocol::kMaxParties> modulator{};  // setting each modulator holds
    std::vector<std::int64_t> dead_until;                         // per detector (flattened)
    std::vector<std::int64_t> next_dark;                          // next dark count of each detector
    protocol::Trial previous;                                     // for the memory box
    bool has_previous = false;
  };

  /// Everything of one run: settings, scenario, the source, detectors and channels of `station`.
  /// `general_path_only`: never the batch path (detail::GenerationPath, a test seam).
  Model(const PhysicalSettings& settings, const protocol::Scenario& scenario, const hal::TrialAssemblyConfig& layout,
        detail::SourceModel source, const detail::ModulatorBank& bank, SimCounters& counters, bool general_path_only);

  std::int64_t sync_time(std::uint64_t i) const {
    return s.sync_period_ps + static_cast<std::int64_t>(i) * s.sync_period_ps;
  }
  /// Generates trials [generated, generated + n) into `out` (time-ordered insertion).
  void generate(std::uint64_t n, hal::TagBlock& out);
  /// Inserts a tag keeping `out` in time order. Inline: every tag of the run comes through here,
  /// nearly always at the end.
  static void push(hal::TagBlock& out, int channel, std::int64_t time, hal::TagType type = hal::TagType::time_tag) {
    if (out.empty() || out.back().time_ps <= time) [[likely]] {
      // Written field by field where it lies: a Tag built in a local and copied in is a 16-byte
      // load of bytes just stored one by one, a store-forwarding stall per tag (perf: a third
      // of the acquisition thread).
      hal::Tag& tag = out.emplace_back();
      tag.type = type;
      tag.channel = channel;
      tag.time_ps = time;
      return;
    }
    hal::Tag tag;
    tag.type = type;
    tag.channel = channel;
    tag.time_ps = time;
    insert(out, tag);
  }

  const PhysicalSettings s;
  const protocol::Scenario sc;
  const detail::ModulatorBank* bank = nullptr;
  SimCounters* counters = nullptr;

  int parties = 0;
  std::array<int, protocol::kMaxParties> nset{}, nout{}, det_base{};
  int detectors = 0;
  std::vector<std::uint32_t> decode;  // joint outcome index → outcome of party p in byte p
  std::vector<detail::AliasTable> tables;
  MemoryStrategy memory;

  detail::Bernoulli emission, efficiency, setting_error;
  double dark_rate_per_ps = 0;
  bool late_switch = false;
  std::int64_t jitter_margin = 0;
  std::int64_t window_end = 0;  // latest window end after a sync (segment time marks)
  /// generate() takes the batch path generate_photons_only(): no memory, dark counts or jitter
  /// (and not forced onto the general path by the test seam). Decided once per run.
  bool photons_only = false;

  std::vector<int> sync_channels;
  std::array<bool, protocol::kMaxParties> emit_party{};
  std::vector<int> det_channel;
  std::array<std::vector<int>, protocol::kMaxParties> echo_channel;
  std::size_t tags_per_trial = 1;

  std::vector<Apparatus> apparatus;
  Rng rng;
  detail::Gaussian gauss;
  std::uint64_t generated = 0;
  std::uint64_t limit = 0;  // 0: none
  bool limit_fails = false;
  std::uint64_t marked = 0;   // segment delivery: trials [0, marked) closed by a time mark
  std::int64_t floor_ps = 0;  // no detector tag before this (the last time mark)
  hal::TagBlock carry;
  Phase phase = Phase::header;
  bool stop_requested = false;
  bool end_error = false;
  std::string end_reason;
  std::chrono::nanoseconds started_at{0};

 private:
  static void insert(hal::TagBlock& out, const hal::Tag& tag);  // `tag` is older than the last tag of `out`
  std::int64_t exponential_ps();
  void click(Apparatus& a, int det, int party, std::int64_t t, bool dark, hal::TagBlock& out);
  void generate_trial(std::uint64_t i, hal::TagBlock& out);
  void generate_photons_only(std::uint64_t n, hal::TagBlock& out);  // no memory, dark counts or jitter
};

}  // namespace dira::sim
