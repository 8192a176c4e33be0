#pragma once
/// @file bounds_report.hpp
/// Presentation of protocol::BoundsReport: JSON for machines, a table for people,
/// and the certificate file a referee can check without dira (docs/certificates.md).

#include "dira/protocol/bounds.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace dira::app {

/// The `dira bounds --json` object (keys documented in docs/cli.md).
nlohmann::json bounds_to_json(const protocol::BoundsReport& report);

/// The readable table printed by `dira bounds`.
void print_bounds_text(std::ostream& out, const protocol::BoundsReport& report);

/// Every certified bound of the report with its LP written out explicitly
/// (format "dira-ns-dual-certificate/1", checked by scripts/check_certificate.py).
nlohmann::json certificates_to_json(const protocol::BoundsReport& report);

}  // namespace dira::app
