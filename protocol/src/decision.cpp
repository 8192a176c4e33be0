#include "dira/protocol/decision.hpp"

#include <cmath>
#include <limits>

namespace dira::protocol {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::accept: return "accept";
    case Verdict::abort: return "abort";
    case Verdict::undecided: return "undecided";
  }
  return "?";
}

double azuma_half_width(std::uint64_t n, double alpha) {
  if (n == 0) return std::numeric_limits<double>::infinity();
  return std::sqrt(2.0 * std::log(2.0 / alpha) / static_cast<double>(n));
}

}  // namespace dira::protocol
