#pragma once
// Private helper of dira_app: SHA-256 (FIPS 180-4) for the config and output hashes in reports.

#include <cstdint>
#include <string>
#include <string_view>

namespace dira::app::detail {

/// Lower-case hex digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace dira::app::detail
