#pragma once
/// @file sv_sources.hpp
/// Simulated ε-SV sources (seed 000 eq. 1): i.i.d. biased, and adversarial ones whose
/// bias depends on the history within the SV bounds.

#include "dira/protocol/sv_source.hpp"
#include "dira/sim/rng.hpp"

#include <functional>
#include <string>

namespace dira::sim {

/// Every bit is 0 with probability ½ + bias, independently; an ε-SV source for ε ≥ |bias|.
class IidSvSource final : public protocol::SvSource {
 public:
  IidSvSource(double bias, std::uint64_t seed);
  // bit = 0 iff uniform() < p0, i.e. iff the 53-bit integer m behind uniform() = m·2⁻⁵³ is
  // below ⌈p0·2⁵³⌉: the same bits as the floating-point comparison, without the conversion.
  bool next_bit() override { return (rng_.next() >> 11) >= zero_below_; }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < count; ++i) v = (v << 1) | ((rng_.next() >> 11) >= zero_below_ ? 1u : 0u);
    *taken = count;  // cannot run out
    return v;
  }
  std::optional<double> declared_epsilon() const override;
  std::string describe() const override;

 private:
  double p0_, bias_;
  std::uint64_t zero_below_;  // ⌈p0·2⁵³⌉
  std::uint64_t seed_;
  Rng rng_;
};

/// What an adversary controlling the source sees: the position of the next bit and the
/// bits so far (the last 64, most recent in bit 0).
struct SvHistory {
  std::uint64_t position = 0;
  std::uint64_t recent = 0;
};

/// Bits whose conditional P(0) is chosen by an adversary each time, clipped to
/// [½−ε, ½+ε] so the source stays ε-SV whatever the strategy asks for.
class AdversarialSvSource final : public protocol::SvSource {
 public:
  /// strategy(history) → the P(bit = 0) the adversary wants; clipped to the SV range.
  using Strategy = std::function<double(const SvHistory&)>;
  AdversarialSvSource(double epsilon, Strategy strategy, std::string name, std::uint64_t seed);
  bool next_bit() override;
  std::optional<double> declared_epsilon() const override { return epsilon_; }
  std::string describe() const override { return description_; }

  /// Pushes the bits of each `group`-bit block towards the binary digits of `target`
  /// (most significant first) or away from them (`avoid`): with avoid = true and a
  /// setting's 4-bit code as target, that setting becomes as rare as ε allows.
  static Strategy steer(unsigned group, std::uint64_t target, bool avoid);

 private:
  double epsilon_;
  Strategy strategy_;
  std::string description_;
  SvHistory history_;
  Rng rng_;
};

}  // namespace dira::sim
