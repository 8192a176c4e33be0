#pragma once
// Settings of driver `sim`: helpers shared by the capability declaration, the parser and the
// device API (capabilities.cpp, settings.cpp, api.cpp).
#include "dira/sim/physical.hpp"

#include <string>
#include <vector>

namespace dira::sim::detail {

/// The declaration of `key` (nullptr when there is none).
const hal::Capability* find_capability(const std::string& key);
/// "sim: a; b; c" — every problem in one message (docs/simulator.md, "Settings").
[[noreturn]] void throw_problems(const std::vector<std::string>& problems);
const char* name(SourceKind k);
/// The settings that select the two-qubit model (TwoQubitModel), in the order of its fields.
const std::vector<std::string>& two_qubit_keys();

}  // namespace dira::sim::detail
