#pragma once
/// @file protocol_b.hpp
/// Protocol B (seed 001, Protocol I): Bell test L_n ≤ δ and u*-frequency test S_n ≥ μ1
/// on a stream of trials, in O(1) per trial.

#include "dira/protocol/bell_expression.hpp"
#include "dira/protocol/decision.hpp"
#include "dira/protocol/extractor.hpp"
#include "dira/protocol/security_b.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"
#include "dira/protocol/trial_index.hpp"

#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace dira::protocol {

struct ProtocolBParameters {
  double epsilon = 0.01;  ///< SV parameter of the weak source
  /// Demonstration defaults: an ideal device passes them, but they violate eq. 87, so no
  /// output is certified with them (security_b.hpp says why, with the numbers).
  double delta = 0.02;  ///< Bell-test threshold on L_n (eq. 39, Protocol I)
  double mu1 = 5e-4;    ///< threshold on S_n (eq. 44); honest E[S_n] = ν(u*)/16 (7.7e-4 for an unbiased source)
  std::uint64_t trials = 1'000'000;  ///< n: trials the protocol uses
  Setting u_star{0, 1};              ///< seed 001's u* = (1,2)
  Outcome x_star{0, 2};              ///< seed 001's x* = (1,3)
  double live_alpha = 1e-3;          ///< 1 − confidence of the live intervals
};

/// Thrown for trials that do not fit the scenario (a hardware or data fault, not an abort).
class InvalidTrial : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What Protocol I's last steps produce (seed 001 §1.1 steps 6–7, docs/protocol-b-security.md).
struct ProtocolBResult {
  std::optional<ExtractorParameters> extractor;  ///< none: no admissible extractor length
  std::vector<std::uint8_t> output;              ///< certified bits, most significant bit first
  std::uint64_t output_bits = 0;                 ///< m = min(extractor output, the plan's certified length)
};

class ProtocolB {
 public:
  /// Throws std::invalid_argument for parameters outside their ranges.
  ProtocolB(const BellExpression& expression, ProtocolBParameters parameters);

  /// Adds one trial: B_i = B(x_i, u_i) (eq. 39) and D_i = I[x_i = x*, u_i = u*] (eq. 42).
  void add(const Trial& t) {
    if (!indexer_.valid(t))
      throw InvalidTrial("trial " + std::to_string(t.index) + ": setting or outcome out of range");
    const std::size_t j = indexer_.index(t);
    bell_count_ += in_expression_[j];
    ustar_count_ += j == ustar_index_;
    ++trials_;
  }
  /// The same for each trial in turn (a trial out of range throws after those before it are
  /// counted). The counts are kept in locals over the span: the behaviour table is bytes, which
  /// may alias anything, so the members would otherwise be loaded and stored per trial.
  void add(std::span<const Trial> trials) {
    std::uint64_t bell = 0, ustar = 0, n = 0;
    const std::uint8_t* in_expression = in_expression_.data();
    for (const Trial& t : trials) {
      if (!indexer_.valid(t)) {
        bell_count_ += bell;
        ustar_count_ += ustar;
        trials_ += n;
        add(t);  // throws InvalidTrial naming it
      }
      const std::size_t j = indexer_.index(t);
      bell += in_expression[j];
      ustar += j == ustar_index_;
      ++n;
    }
    bell_count_ += bell;
    ustar_count_ += ustar;
    trials_ += n;
  }

  std::uint64_t trials() const { return trials_; }
  std::uint64_t bell_count() const { return bell_count_; }
  std::uint64_t ustar_count() const { return ustar_count_; }
  /// L_n = (1/n) Σ B_i (eq. 39).
  double bell_statistic() const {
    return trials_ ? static_cast<double>(bell_count_) / static_cast<double>(trials_) : 0;
  }
  /// S_n = (1/n) Σ D_i (eq. 42).
  double ustar_statistic() const {
    return trials_ ? static_cast<double>(ustar_count_) / static_cast<double>(trials_) : 0;
  }

  LiveStatistics live() const;
  /// Accept iff L_n ≤ δ and S_n ≥ μ1 over the trials so far (Protocol I, steps 3–4).
  /// Fewer trials than planned: the decision is still made, and a reason says so.
  Decision decide() const;

  /// Steps 6–7 after an accepting decision whose plan certifies ≥ 1 bit: the device outputs of
  /// the trials() trials are fixed in `ledger` first, then the extractor's second source is drawn
  /// through it (n2 bits, purpose extractor — only now), and the two-source extractor is applied
  /// with parameters for n_x device bits of min-entropy ≥ plan.k_x and n_x weak-source bits of
  /// min-entropy n_x·(−log₂(½+ε)) (docs/extractors.md). `device_bit(i)` is bit i of the device
  /// outputs, two bits per party per trial in trial order (i < 4·trials()). The output is cut to
  /// the plan's certified length.
  ProtocolBResult finalize(BitLedger& ledger, const ProtocolBConstants& constants, const ProtocolBOutputPlan& plan,
                           double log2_target, bool side_information,
                           const std::function<bool(std::size_t)>& device_bit) const;

  const ProtocolBParameters& parameters() const { return parameters_; }

 private:
  ProtocolBParameters parameters_;
  TrialIndexer indexer_;
  std::vector<std::uint8_t> in_expression_;
  std::size_t ustar_index_ = 0;
  std::uint64_t trials_ = 0, bell_count_ = 0, ustar_count_ = 0;
};

}  // namespace dira::protocol
