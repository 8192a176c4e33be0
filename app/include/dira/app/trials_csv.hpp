#pragma once
/// @file trials_csv.hpp
/// Trials from CSV: header `trial,u0,…,u{p-1},x0,…,x{p-1}` with an optional `device`
/// column, one trial per row in time order, 0-based settings and outcomes (docs/labels.md).

#include "dira/app/config_error.hpp"
#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <string>
#include <vector>

namespace dira::app {

struct TrialsCsvInfo {
  std::uint64_t rows = 0;
  bool has_device_column = false;
};

/// Longest line accepted (bytes): a trial row is a few dozen; /dev/zero or a binary file
/// as a trial file is refused at its first long line instead of read into memory whole.
inline constexpr std::size_t kMaxTrialsCsvLine = 4096;

/// Streams the file row by row into `sink` (memory stays flat). A malformed row throws
/// ConfigError naming the file, line and column (1-based field number) and the problem;
/// trial numbers must be strictly increasing. Bytes of the file quoted in a message are
/// shown printable (\xNN for anything else), at most 40 of them.
TrialsCsvInfo for_each_trial_csv(const std::filesystem::path& path, const protocol::Scenario& scenario,
                                 const std::function<void(const protocol::Trial&)>& sink);
/// The same from a stream; `name` is what messages call it.
TrialsCsvInfo for_each_trial_csv(std::istream& in, const std::string& name, const protocol::Scenario& scenario,
                                 const std::function<void(const protocol::Trial&)>& sink);

/// Reads a file of weak-source bits (most significant bit of each byte first: sv_bits.bin,
/// `simulate-trials --sv-bits-out`) of at most `max_bytes` bytes, without reading past that
/// bound (a device such as /dev/zero is refused, not read forever). Throws ConfigError naming
/// the file.
std::vector<std::uint8_t> read_sv_bits_file(const std::filesystem::path& path, std::uint64_t max_bytes = 1ull << 30);

}  // namespace dira::app
