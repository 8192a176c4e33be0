#pragma once
/// @file local_bound.hpp
/// Local (deterministic) bound of a Bell expression by exact enumeration.

#include "dira/protocol/bell_expression.hpp"

#include <cstdint>
#include <vector>

namespace dira::protocol {

/// A local deterministic strategy: strategy[party][setting] = outcome.
using DeterministicStrategy = std::vector<std::vector<int>>;

struct LocalBound {
  std::int64_t value = 0;              ///< min over local deterministic strategies of B·P
  DeterministicStrategy optimal;       ///< one strategy attaining it
  std::uint64_t strategies_enumerated = 0;  ///< joint strategies of all parties but the last
};

/// Minimum of B·P over local deterministic behaviours — the local bound of an
/// inequality written "B·P ≥ L" (seed 000 eq. 5: L = 2; seed 001 eq. 23: L = 4).
///
/// Exact: every joint strategy of parties 0..n-2 is enumerated (mixed-radix odometer),
/// and for each the last party's best reply is taken setting by setting, which is
/// optimal because B·P is a sum over the last party's settings of terms that depend
/// on its outcome at that setting only. The per-reply cost table is updated
/// incrementally when one digit of the odometer changes. For ks294 this is 4^9
/// strategies instead of the naive 4^18 pairs.
/// Throws std::invalid_argument if the enumeration would exceed 2^40 strategies.
LocalBound local_bound(const BellExpression& expression);

/// B·P for the behaviour of a deterministic strategy (used to check the enumeration).
std::int64_t deterministic_value(const BellExpression& expression, const DeterministicStrategy& strategy);

}  // namespace dira::protocol
