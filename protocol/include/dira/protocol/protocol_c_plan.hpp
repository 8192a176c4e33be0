#pragma once
/// @file protocol_c_plan.hpp
/// What a Protocol C run fixes before its first trial, with the real extraction step
/// (extraction_c.hpp) instead of a placeholder cost: the min-entropy target depends on the
/// length of the device string (2 bits per trial of the budget n: a run that stops early pads
/// its string with zeros to that length, docs/protocol-c-security.md §5.4), so n and the target
/// are iterated to a fixed point.

#include "dira/protocol/extraction_c.hpp"
#include "dira/protocol/protocol_c.hpp"

#include <cstddef>
#include <cstdint>

namespace dira::protocol {

/// The smallest device min-entropy H (to within 1 bit) for which plan_extraction_c outputs at
/// least `bits` bits from a device string of 2·`trials` bits (weak bits ≤ max_weak_bits, 0: 2·trials + 1),
/// error 2^log2_error. +∞ when even H = 2·trials is not enough. Bisection: the output length
/// of both routes grows with H.
double min_entropy_for_output(std::uint64_t trials, double bits, double sv_epsilon, double log2_error,
                              std::size_t max_weak_bits = 0);

/// plan_protocol_c with the extraction step of extraction_c.hpp: the target H(n) and the trial
/// count n(H) iterated until n settles (a few rounds). Fills PlanC::extractor with the route.
PlanC plan_protocol_c_extracted(const HardwareC& hw, const Rational& sv_epsilon, double bits, double total_error,
                                double trial_rate_hz);

}  // namespace dira::protocol
