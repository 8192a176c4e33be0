#pragma once
// Random draws of the simulator. Everything comes from one sim::Rng in a fixed order per trial,
// so the tag stream is a function of (settings, seed, schedule) only — not of block sizes or
// pacing (docs/simulator.md, "Determinism"). std:: distributions are not used: their output
// differs between standard libraries.
#include "dira/sim/rng.hpp"

#include <cmath>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dira::sim::detail {

inline constexpr double kTwo64 = 18446744073709551616.0;
inline constexpr double kTwo32 = 4294967296.0;

/// Bernoulli(p) by comparing 64 random bits against p·2^64: one draw, no floating point.
class Bernoulli {
 public:
  explicit Bernoulli(double p = 0) {
    if (!(p > 0)) {
      never_ = true;
    } else if (p >= 1 || p * kTwo64 >= kTwo64) {
      always_ = true;
    } else {
      threshold_ = static_cast<std::uint64_t>(p * kTwo64);
    }
  }
  /// Consumes a random number only when the outcome is not certain.
  bool draw(Rng& rng) const {
    if (always_) return true;
    if (never_) return false;
    return rng.next() < threshold_;
  }
  bool certain() const { return always_ || never_; }

 private:
  std::uint64_t threshold_ = 0;
  bool always_ = false, never_ = false;
};

/// Uniform in (0, 1]: safe for logarithms.
inline double open_uniform(Rng& rng) {
  return static_cast<double>((rng.next() >> 11) + 1) * 0x1.0p-53;
}

/// Standard normal by Marsaglia and Tsang's ziggurat (J. Stat. Softw. 5(8), 2000), 128 layers:
/// one 64-bit draw in ~99 % of cases (low 7 bits pick the layer, high 32 bits the abscissa), so
/// jitter on every tag stays cheap. Box–Muller needs a log and a sincos per pair.
class Gaussian {
 public:
  Gaussian();
  double draw(Rng& rng) const;

 private:
  static constexpr double kR = 3.442619855899;
  std::array<std::uint32_t, 128> kn_{};
  std::array<double, 128> wn_{}, fn_{};
};

/// Walker/Vose alias tables: one row per joint setting, one column per joint outcome. A draw is
/// one 64-bit number (high half picks the column, low half decides column or alias), O(1).
/// Columns of probability 0 get threshold 0 and are never returned.
class AliasTable {
 public:
  AliasTable(std::size_t rows, std::size_t columns)
      : columns_(columns), threshold_(rows * columns, 0), alias_(rows * columns, 0) {}
  void build_row(std::size_t row, const double* p);
  std::size_t sample(std::size_t row, std::uint64_t r) const {
    const std::size_t col = static_cast<std::size_t>(((r >> 32) * columns_) >> 32);
    const std::size_t k = row * columns_ + col;
    // Both candidates loaded, then selected without a branch: which one wins is random, and a
    // mispredicted branch per trial cost more than the load.
    const std::size_t alias = alias_[k];
    const std::size_t keep = std::size_t{0} - static_cast<std::size_t>((r & 0xffffffffu) < threshold_[k]);
    return (col & keep) | (alias & ~keep);
  }

 private:
  std::size_t columns_;
  std::vector<std::uint64_t> threshold_;
  std::vector<std::uint32_t> alias_;
};

// Hot (every jittered tag): inline.
inline double Gaussian::draw(Rng& rng) const {
  for (;;) {
    const std::uint64_t r = rng.next();
    const auto iz = static_cast<std::size_t>(r & 127);
    const auto hz = static_cast<std::int32_t>(static_cast<std::uint32_t>(r >> 32));
    const double x = hz * wn_[iz];
    const std::uint64_t mag =
        hz < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(hz)) : static_cast<std::uint64_t>(hz);
    if (mag < kn_[iz]) return x;  // inside the layer's rectangle
    if (iz == 0) {                // the tail beyond r
      double t, y;
      do {
        t = -std::log(open_uniform(rng)) / kR;
        y = -std::log(open_uniform(rng));
      } while (y + y < t * t);
      return hz > 0 ? kR + t : -kR - t;
    }
    if (fn_[iz] + rng.uniform() * (fn_[iz - 1] - fn_[iz]) < std::exp(-0.5 * x * x)) return x;  // wedge
  }
}

}  // namespace dira::sim::detail
