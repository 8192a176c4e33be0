#pragma once
/// @file trial_index.hpp
/// Maps a Trial to its behaviour index (Scenario::index) in O(parties), without allocation.

#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"

#include <array>
#include <stdexcept>

namespace dira::protocol {

class TrialIndexer {
 public:
  explicit TrialIndexer(const Scenario& sc) : parties_(sc.parties()), nx_(sc.outcome_count()) {
    if (parties_ > kMaxParties) throw std::invalid_argument("trials carry at most 4 parties");
    std::size_t su = 1, sx = 1;
    for (int p = parties_ - 1; p >= 0; --p) {
      const auto pi = static_cast<std::size_t>(p);
      su_[pi] = su;
      sx_[pi] = sx;
      settings_[pi] = static_cast<std::uint8_t>(sc.settings(p));
      outcomes_[pi] = static_cast<std::uint8_t>(sc.outcomes(p));
      su *= static_cast<std::size_t>(sc.settings(p));
      sx *= static_cast<std::size_t>(sc.outcomes(p));
    }
  }
  /// True when every setting and outcome is in range.
  bool valid(const Trial& t) const {
    for (int p = 0; p < parties_; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      if (t.u[pi] >= settings_[pi] || t.x[pi] >= outcomes_[pi]) return false;
    }
    return true;
  }
  std::size_t setting_index(const Trial& t) const {
    std::size_t u = 0;
    for (int p = 0; p < parties_; ++p) u += t.u[static_cast<std::size_t>(p)] * su_[static_cast<std::size_t>(p)];
    return u;
  }
  std::size_t index(const Trial& t) const {
    std::size_t x = 0;
    for (int p = 0; p < parties_; ++p) x += t.x[static_cast<std::size_t>(p)] * sx_[static_cast<std::size_t>(p)];
    return setting_index(t) * nx_ + x;
  }
  int parties() const { return parties_; }

 private:
  int parties_;
  std::size_t nx_;
  std::array<std::size_t, kMaxParties> su_{}, sx_{};
  std::array<std::uint8_t, kMaxParties> settings_{}, outcomes_{};
};

}  // namespace dira::protocol
