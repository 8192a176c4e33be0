#pragma once
/// @file trial.hpp
/// One trial of a Bell experiment as the protocols see it: settings and outcomes per party.

#include <array>
#include <cstdint>

namespace dira::protocol {

/// Up to this many parties per trial (guehne4 has 4).
inline constexpr int kMaxParties = 4;

/// Trial flags (bit mask). None of them removes a trial from the protocol's statistics:
/// device independence forbids post-selection (docs/architecture.md).
enum TrialFlag : std::uint32_t {
  kTrialNoClick = 1u << 0,     ///< some party saw no click; outcome assigned by the fixed rule
  kTrialMultiClick = 1u << 1,  ///< some party saw several clicks; outcome assigned by the fixed rule
  kTrialOutsideTest = 1u << 2, ///< Protocol A: setting not in U0 ∪ U1 (discarded by step 1 of Fig. 2)
};

/// Settings and outcomes are 0-based per party (docs/labels.md). Plain value type,
/// 32 bytes, so millions per second can be streamed through the protocol engines.
struct Trial {
  std::uint64_t index = 0;                 ///< position in the run (0-based)
  std::array<std::uint8_t, kMaxParties> u{};  ///< setting per party
  std::array<std::uint8_t, kMaxParties> x{};  ///< outcome per party
  std::uint32_t flags = 0;
  std::uint32_t device = 0;                ///< logical device (Protocol A), 0 otherwise
  std::int64_t time_ps = 0;                ///< the trial's sync time (party 0's station, ps since its stream start); 0 if unknown
};

}  // namespace dira::protocol
