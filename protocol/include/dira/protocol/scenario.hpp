#pragma once
/// @file scenario.hpp
/// Bell scenarios and behaviours P(x|u).
///
/// Labels are 0-based in party order everywhere in code and JSON: party 0 is the
/// seeds' party 1 (Alice), setting 0 is the seeds' first setting (u = 1 in seed 001,
/// u = 0 in seed 000, which is already 0-based), outcome 0 likewise. See docs/labels.md.

#include <cstddef>
#include <string>
#include <vector>

namespace dira::protocol {

/// One measurement setting per party, u = (u^1, …, u^n), 0-based.
using Setting = std::vector<int>;
/// One outcome per party, x = (x^1, …, x^n), 0-based.
using Outcome = std::vector<int>;

/// Parties, settings per party, outcomes per party. A behaviour on a scenario is a
/// vector indexed by index(u, x) = setting_index(u) * outcome_count() + outcome_index(x),
/// with party 0 the most significant digit of both mixed-radix indices.
class Scenario {
 public:
  Scenario() = default;
  /// Throws std::invalid_argument unless both lists have the same non-zero length
  /// and every entry is at least 1.
  Scenario(std::vector<int> settings_per_party, std::vector<int> outcomes_per_party);

  int parties() const { return static_cast<int>(settings_.size()); }
  int settings(int party) const { return settings_.at(static_cast<std::size_t>(party)); }
  int outcomes(int party) const { return outcomes_.at(static_cast<std::size_t>(party)); }
  /// Number of setting tuples u (Π_i settings(i)).
  std::size_t setting_count() const { return setting_count_; }
  /// Number of outcome tuples x (Π_i outcomes(i)).
  std::size_t outcome_count() const { return outcome_count_; }
  /// Number of probabilities P(x|u).
  std::size_t size() const { return setting_count_ * outcome_count_; }

  std::size_t setting_index(const Setting& u) const;
  std::size_t outcome_index(const Outcome& x) const;
  std::size_t index(const Setting& u, const Outcome& x) const {
    return setting_index(u) * outcome_count_ + outcome_index(x);
  }
  Setting setting_at(std::size_t setting_index) const;
  Outcome outcome_at(std::size_t outcome_index) const;

  /// True when u has one in-range entry per party.
  bool valid_setting(const Setting& u) const;
  bool valid_outcome(const Outcome& x) const;

  /// "(2,9,4)"-style signature when uniform, else per-party lists.
  std::string describe() const;

  bool operator==(const Scenario&) const = default;

 private:
  std::vector<int> settings_, outcomes_;
  std::size_t setting_count_ = 0, outcome_count_ = 0;
};

/// P(x|u) for every (u, x), laid out as Scenario::index.
using Behaviour = std::vector<double>;

/// Formats a tuple as "(a,b,c)" with the given offset added (1 for the seeds' labels).
std::string format_tuple(const std::vector<int>& t, int offset = 0);

}  // namespace dira::protocol
