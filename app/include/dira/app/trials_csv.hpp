#pragma once
/// @file trials_csv.hpp
/// Trials from CSV: header `trial,u0,…,u{p-1},x0,…,x{p-1}` with an optional `device`
/// column, one trial per row in time order, 0-based settings and outcomes (docs/labels.md).

#include "dira/app/config_error.hpp"
#include "dira/protocol/scenario.hpp"
#include "dira/protocol/trial.hpp"

#include <filesystem>
#include <functional>

namespace dira::app {

struct TrialsCsvInfo {
  std::uint64_t rows = 0;
  bool has_device_column = false;
};

/// Streams the file row by row into `sink` (memory stays flat). A malformed row throws
/// ConfigError naming the file, line and column (1-based field number) and the problem;
/// trial numbers must be strictly increasing.
TrialsCsvInfo for_each_trial_csv(const std::filesystem::path& path, const protocol::Scenario& scenario,
                                 const std::function<void(const protocol::Trial&)>& sink);

}  // namespace dira::app
