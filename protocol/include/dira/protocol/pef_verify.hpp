#pragma once
/// @file pef_verify.hpp
/// A published PEF read back (pef.json, docs/protocol-c-security.md §7): the decimals ARE the
/// certified factors, so a run and its re-analysis (`dira analyze`) score with exactly the same
/// values. Every vertex-pair constraint is re-checked with upward rounding before the factors
/// are used; a file whose factors violate one is refused.

#include "dira/protocol/pef.hpp"

#include <array>
#include <string>

namespace dira::protocol {

/// Rebuilds the CertifiedPef of factors published as finite decimals with an exact β.
/// Throws std::invalid_argument when a factor is not a non-negative finite decimal or a
/// constraint of the model (settings × no-signalling vertices) exceeds 1.
CertifiedPef verify_published_pef(const SvSettingsModel& settings, const std::string& beta_exact,
                                  const std::array<std::string, kChshCells>& F_decimal);

}  // namespace dira::protocol
