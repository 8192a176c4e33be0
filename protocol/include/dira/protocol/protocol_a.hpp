#pragma once
/// @file protocol_a.hpp
/// Protocol A (seed 000, Fig. 2): k logical devices of four boxes; one box per device is
/// chosen with weak-source bits after the measurements, the Bell test is run on the chosen
/// boxes (Z_k, eq. 54) and the output is the XOR of their majority bits.

#include "dira/protocol/bell_expression.hpp"
#include "dira/protocol/decision.hpp"
#include "dira/protocol/rational.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"
#include "dira/protocol/trial_index.hpp"

#include <optional>
#include <span>
#include <vector>

namespace dira::protocol {

struct ProtocolAParameters {
  double epsilon = 0.01;                       ///< SV parameter
  double delta = 0.05;                         ///< δ of the test threshold (½−ε)^4·(δ/2)·(1−μ)
  double mu = 0.5;                             ///< μ: fraction of good boxes the security statement assumes
  int devices = 16;                            ///< k
  std::vector<int> majority_parties{0, 1, 2};  ///< maj(x¹, x², x³) in the seed's labels
  double live_alpha = 1e-3;
};

/// The valid runs (settings in U0 ∪ U1) of one logical device, two bits each.
struct DeviceRecord {
  std::uint64_t uses = 0;                ///< m_j: trials on this device
  std::uint64_t valid_runs = 0;          ///< n_j: trials whose setting is in the inequality
  std::uint64_t bell_ones = 0;           ///< Σ B(x,u) over valid runs
  std::vector<std::uint64_t> bell_bits;  ///< B(x,u) of valid run r at bit r
  std::vector<std::uint64_t> maj_bits;   ///< maj of valid run r at bit r
  bool bell(std::uint64_t r) const { return (bell_bits[r / 64] >> (r % 64)) & 1u; }
  bool maj(std::uint64_t r) const { return (maj_bits[r / 64] >> (r % 64)) & 1u; }
};

struct ProtocolAResult {
  Decision decision;
  std::vector<std::uint64_t> chosen_box;  ///< a_j (0-based valid-run index) per device
  double z_k = 0;                         ///< eq. 54
  double threshold = 0;                   ///< (½−ε)^4·(δ/2)·(1−μ)
  std::optional<bool> output_bit;         ///< S_r, only on acceptance
};

class ProtocolA {
 public:
  ProtocolA(const BellExpression& expression, ProtocolAParameters parameters);

  /// Adds one trial of device t.device (< k). Settings outside the inequality are counted
  /// as uses of the device but not as valid runs (Fig. 2, step 1).
  void add(const Trial& t);
  void add(std::span<const Trial> trials) {
    for (const Trial& t : trials) add(t);
  }

  LiveStatistics live() const;
  const std::vector<DeviceRecord>& devices() const { return devices_; }
  std::uint64_t trials() const { return trials_; }

  /// Steps 2–4 of Fig. 2: draws a_j from the ledger (BitPurpose::box_choice; ⌈log₂ n_j⌉ bits,
  /// redrawn while ≥ n_j), computes Z_k, decides, and on acceptance computes S_r.
  /// Marks the device outputs fixed in the ledger first. Every device needs n_j ≥ 1.
  ProtocolAResult finalize(BitLedger& ledger);

  const ProtocolAParameters& parameters() const { return parameters_; }
  /// (½−ε)^4·(δ/2)·(1−μ), the acceptance threshold on Z_k.
  double threshold() const;
  /// The same threshold as an exact rational built from the decimal parameters (what
  /// finalize compares against).
  Rational exact_threshold() const;
  /// ⌊k·threshold⌋: the most chosen boxes with B = 1 that the test still accepts.
  std::size_t max_failures() const { return max_failures_; }

 private:
  ProtocolAParameters parameters_;
  TrialIndexer indexer_;
  std::vector<std::uint8_t> in_expression_;    // B(x,u) per behaviour index
  std::vector<std::uint8_t> setting_in_test_;  // u ∈ U0 ∪ U1 per setting index
  std::vector<DeviceRecord> devices_;
  std::uint64_t trials_ = 0, valid_ = 0;
  std::size_t max_failures_ = 0;
};

}  // namespace dira::protocol
