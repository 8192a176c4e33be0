// Protocol C's extraction step (extraction_c.hpp; docs/extractors.md, "Trevisan's extractor
// with a weak seed (Protocol C)", (T6) and "Choosing the route").

#include "dira/protocol/extraction_c.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace dira::protocol {

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

const char* to_string(ExtractionPlanC::Kind kind) {
  switch (kind) {
    case ExtractionPlanC::Kind::none:
      return "none";
    case ExtractionPlanC::Kind::two_source:
      return "two-source";
    case ExtractionPlanC::Kind::trevisan_weak_seed:
      return "trevisan-weak-seed";
  }
  return "?";
}

ExtractionPlanC plan_extraction_c(std::size_t device_bits, double device_min_entropy, double sv_epsilon,
                                  double log2_error_target, std::size_t max_weak_bits) {
  if (!(sv_epsilon >= 0) || !(sv_epsilon < 0.5)) throw std::invalid_argument("extraction C: need 0 ≤ ε < ½");
  if (!(device_min_entropy >= 0) || device_min_entropy > static_cast<double>(device_bits))
    throw std::invalid_argument("extraction C: need 0 ≤ device min-entropy ≤ device bits");
  if (!(log2_error_target < 0)) throw std::invalid_argument("extraction C: error target must be < 1");

  // An ε-SV bit has min-entropy −log2(½+ε) given everything before it; a block of ℓ bits has
  // ℓ·(−log2(½+ε)), so its deficiency is ℓ·log2(1+2ε) (docs (T6)).
  const double per_bit = -std::log2(0.5 + sv_epsilon);
  const double deficiency_per_bit = std::log2(1.0 + 2.0 * sv_epsilon);

  // The two-source extractors use at most device_bits + 1 weak bits (circulant: n2 = n1 + 1).
  // Any ℓ-bit prefix of an ε-SV stream has min-entropy ℓ·(−log2(½+ε)) by itself, so we offer
  // only that many bits instead of letting plan_extractor charge the generic cut penalty
  // (docs/extractors.md, "Cutting a source"), which would cost the cut bits in full.
  const std::size_t weak_offered = std::min(max_weak_bits, device_bits + 1);
  std::optional<ExtractorParameters> two;
  if (device_bits >= 1 && weak_offered >= 1)
    two = choose_extractor(device_bits, weak_offered, device_min_entropy,
                           std::min(static_cast<double>(weak_offered), static_cast<double>(weak_offered) * per_bit),
                           log2_error_target, /*side_information=*/true);
  std::optional<TrevisanParameters> trev =
      plan_trevisan(device_bits, device_min_entropy, log2_error_target, deficiency_per_bit, max_weak_bits);

  const std::size_t m_two = two ? two->m : 0, m_trev = trev ? trev->m : 0;
  ExtractionPlanC plan;
  const std::string common =
      "Inputs: device string of " + std::to_string(device_bits) + " bits with certified smooth min-entropy " +
      fmt("%.3f", device_min_entropy) +
      " given classical side information E; weak source ε-SV with ε = " + fmt("%.6g", sv_epsilon) + " (min-entropy " +
      fmt("%.6f", per_bit) + " per bit), at most " + std::to_string(max_weak_bits) +
      " bits, drawn after the device outputs are fixed and independent of them given E (Markov condition); error "
      "target 2^" +
      fmt("%.2f", log2_error_target) +
      ". Not covered: quantum side information. Two-source route: m = " + std::to_string(m_two) +
      (two ? "" : " (no admissible length)") + "; Trevisan weak-seed route: m = " + std::to_string(m_trev) + ". ";

  const bool pick_two = m_two > 0 && (m_two > m_trev || (m_two == m_trev && two->log2_error <= trev->log2_error));
  if (pick_two) {
    plan.kind = ExtractionPlanC::Kind::two_source;
    plan.device_bits = two->n1;
    plan.weak_bits = two->n2;
    plan.output_bits = two->m;
    plan.log2_error = two->log2_error;
    plan.two_source = two;
    plan.statement = common + "Chosen: two-source (" + std::string(to_string(two->kind)) +
                     (m_two > m_trev ? ", longer output). " : ", same output, smaller error). ") + two->statement;
  } else if (m_trev > 0) {
    plan.kind = ExtractionPlanC::Kind::trevisan_weak_seed;
    plan.device_bits = device_bits;
    plan.weak_bits = trev->d;
    plan.output_bits = trev->m;
    plan.log2_error = trev->log2_error;
    plan.trevisan = trev;
    plan.statement = common + "Chosen: Trevisan with a weak seed (longer output). " + trev->statement;
  } else {
    plan.kind = ExtractionPlanC::Kind::none;
    plan.output_bits = 0;
    plan.log2_error = -std::numeric_limits<double>::infinity();
    plan.statement = common + "Nothing can be certified. Two-source: " +
                     (two ? two->statement : std::string("no admissible prime length.")) +
                     " Trevisan: " + (trev ? trev->statement : std::string("input shorter than 2 bits."));
  }
  return plan;
}

BitVector extract_c(const ExtractionPlanC& plan, const BitVector& device, const BitVector& weak) {
  if (device.size != plan.device_bits || weak.size != plan.weak_bits)
    throw std::invalid_argument("extract_c: device or weak block length differs from the plan");
  switch (plan.kind) {
    case ExtractionPlanC::Kind::none:
      return BitVector::zeros(0);
    case ExtractionPlanC::Kind::two_source:
      if (!plan.two_source) throw std::invalid_argument("extract_c: two-source plan without parameters");
      return extract(*plan.two_source, device, weak);
    case ExtractionPlanC::Kind::trevisan_weak_seed:
      if (!plan.trevisan) throw std::invalid_argument("extract_c: Trevisan plan without parameters");
      return trevisan_extract(*plan.trevisan, device, weak);
  }
  throw std::invalid_argument("extract_c: unknown kind");
}

}  // namespace dira::protocol
