#pragma once
/// @file
/// Numbers as a person in the lab reads them: durations in seconds, minutes, hours, days or years
/// instead of "10^6.8 s"; sizes in kB…TB; click rates in cps/kcps/Mcps; probabilities and security
/// terms with three significant digits ("1.00e-3", never "10^0.000000"); counts with their noun in
/// the right number ("1 bit", "258 bits"). Full precision stays in `--json` output and report.json;
/// these functions are for what is printed or shown.

#include <cstdint>
#include <string>

namespace dira::app::lab_units {

/// A duration: "0.42 s", "45 s", "2.50 min", "3.00 h", "73.0 days", "3.20 years", or "> 10^6 years".
/// Negative or non-finite input: "unknown".
std::string duration(double seconds);

/// A size in bytes, SI prefixes: "512 B", "1.50 kB", "3.20 MB", "1.20 GB", "4.00 TB".
std::string bytes(double n);

/// A detector click rate: "850 cps", "12.5 kcps", "1.20 Mcps".
std::string click_rate(double per_second);

/// A trial rate: "850 trials/s", "12.5 k trials/s", "7.74 M trials/s".
std::string trial_rate(double per_second);

/// A number with `digits` significant digits: plain decimal between 10^-3 and 10^5
/// ("0.00125", "1.00", "4.32e+00" never), scientific outside it ("1.00e-9", "1.41e13").
std::string significant(double x, int digits = 3);

/// A count of things: "1 bit", "0 bits", "258 bits", "124,718 trials"; large counts (≥ 10^9)
/// in scientific notation with three significant digits ("1.41e13 trials").
std::string count(double n, const std::string& singular, const std::string& plural = "");

/// An integer with thousands separators: "124,718".
std::string grouped(std::uint64_t n);

}  // namespace dira::app::lab_units
