#pragma once
/// @file sv_sources.hpp
/// Simulated ε-SV sources (seed 000 eq. 1): i.i.d. biased, and adversarial ones whose
/// bias depends on the history within the SV bounds.

#include "dira/protocol/sv_source.hpp"
#include "dira/sim/rng.hpp"

#include <functional>
#include <memory>
#include <string>

namespace dira::sim {

/// Every bit is 0 with probability ½ + bias, independently; an ε-SV source for ε ≥ |bias|.
///
/// Bit k of the stream is decided by the k-th step of one xoshiro256** generator seeded with
/// `seed`, however the source is read (next_bit, next_bits of any width). The generator runs
/// ahead of the reader in words of 64 bits; once a reader has taken kAheadAfterBits bits (a long
/// run, not a test), the words are made on a thread of the source's own, so that `dira run`'s
/// acquisition thread (≈ 14 setting bits per trial, one generator step each) only takes them.
/// The bits handed out, and their order, are the same either way: only the generator's state
/// runs ahead of the reader, and nothing else reads that state.
class IidSvSource final : public protocol::SvSource {
 public:
  /// Bits handed out before the generator moves to its own thread.
  static constexpr std::uint64_t kAheadAfterBits = std::uint64_t{1} << 20;

  IidSvSource(double bias, std::uint64_t seed);
  ~IidSvSource() override;
  IidSvSource(const IidSvSource&) = delete;
  IidSvSource& operator=(const IidSvSource&) = delete;

  bool next_bit() override { return take(1) != 0; }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    *taken = count;  // cannot run out
    return count == 0 ? 0 : take(count);
  }
  std::optional<double> declared_epsilon() const override;
  std::string describe() const override;

 private:
  struct Ahead;  // the generator thread and the words it has made
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

  double p0_, bias_;
  std::uint64_t zero_below_;  // ⌈p0·2⁵³⌉
  std::uint64_t seed_;
  Rng rng_;                 // owned by the generator thread once it runs
  std::uint64_t word_ = 0;  // the current word; its low left_ bits are not handed out yet
  unsigned left_ = 0;
  std::uint64_t words_ = 0;  // words taken so far
  std::unique_ptr<Ahead> ahead_;
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
