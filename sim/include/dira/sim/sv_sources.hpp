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
///
/// Bit k of the stream is decided by the k-th step of one xoshiro256** generator seeded with
/// `seed`, however the source is read (next_bit, next_bits of any width). The bits are made 64
/// at a time, in a tight loop, and handed out from that word: a setting draw (4 bits for ks294)
/// is a shift and a mask. Only the generator's state runs ahead of the reader (by less than a
/// word), and nothing else reads it. (A generator on a thread of its own was tried: with the
/// setting draws already on the scheduler's thread it added CPU time — the words crossing
/// cores — and saved none on a two-core machine.)
class IidSvSource final : public protocol::SvSource {
 public:
  IidSvSource(double bias, std::uint64_t seed);

  bool next_bit() override { return take(1) != 0; }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    *taken = count;  // cannot run out
    return count == 0 ? 0 : take(count);
  }
  std::optional<double> declared_epsilon() const override;
  std::string describe() const override;

 private:
  /// `count` in 1 … 64 bits, first in the most significant place.
  std::uint64_t take(unsigned count) {
    if (count <= left_) {
      left_ -= count;
      const std::uint64_t v = word_ >> left_;
      return count == 64 ? v : v & ((std::uint64_t{1} << count) - 1);
    }
    return take_across(count);
  }
  std::uint64_t take_across(unsigned count);
  std::uint64_t next_word();  // the stream's next 64 bits, first in the most significant place
  // bit = 0 iff uniform() < p0, i.e. iff the 53-bit integer m behind uniform() = m·2⁻⁵³ is
  // below ⌈p0·2⁵³⌉: the same bits as the floating-point comparison, without the conversion.
  static std::uint64_t make_word(Rng& rng, std::uint64_t zero_below);

  double bias_;
  std::uint64_t zero_below_;  // ⌈p0·2⁵³⌉
  std::uint64_t seed_;
  Rng rng_;
  std::uint64_t word_ = 0;  // the current word; its low left_ bits are not handed out yet
  unsigned left_ = 0;
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
