#pragma once
/// @file extraction_c.hpp
/// Protocol C's last step (issue 11): from the device string (2 bits per trial, certified
/// smooth min-entropy from probability estimation) and weak-source bits drawn after the
/// outputs are fixed, to certified output bits. Two routes, the one that certifies most wins:
/// - a two-source extractor (extractor.hpp: dodis / circulant, Markov model of side
///   information) when the min-entropy rates of the two inputs sum above one;
/// - Trevisan's seeded extractor (trevisan.hpp) whose seed is a short weak-source block: a
///   weak seed of d bits and min-entropy d − Δ multiplies the error by 2^Δ.
/// docs/extractors.md gives the theorems and parameter formulas.

#include "dira/protocol/extractor.hpp"
#include "dira/protocol/trevisan.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace dira::protocol {

struct ExtractionPlanC {
  enum class Kind { none, two_source, trevisan_weak_seed };
  Kind kind = Kind::none;
  std::size_t device_bits = 0;  ///< prefix of the device string fed to the extractor
  std::size_t weak_bits = 0;    ///< weak-source bits drawn after the outputs are fixed (second source or seed)
  std::size_t output_bits = 0;  ///< m; 0 when nothing can be certified (`statement` says why)
  double log2_error = 0;        ///< proven bound on the extractor's error, seed deficiency included
  std::string statement;        ///< theorem, parameters, assumptions, and why this route was chosen
  std::optional<ExtractorParameters> two_source;  ///< set for Kind::two_source
  std::optional<TrevisanParameters> trevisan;     ///< set for Kind::trevisan_weak_seed
};
const char* to_string(ExtractionPlanC::Kind kind);

/// Plans both routes for a device string of `device_bits` bits with certified (smooth)
/// min-entropy `device_min_entropy`, a weak source that is ε-SV with ε = `sv_epsilon`
/// (min-entropy −log2(½+ε) per bit), an extractor error target 2^log2_error_target, and at
/// most `max_weak_bits` weak-source bits available; returns the route with the longer output.
ExtractionPlanC plan_extraction_c(std::size_t device_bits, double device_min_entropy, double sv_epsilon,
                                  double log2_error_target, std::size_t max_weak_bits);

/// Applies a plan: `device.size == plan.device_bits`, `weak.size == plan.weak_bits`.
BitVector extract_c(const ExtractionPlanC& plan, const BitVector& device, const BitVector& weak);

}  // namespace dira::protocol
