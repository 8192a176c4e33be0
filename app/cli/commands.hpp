#pragma once
// Subcommands of the dira CLI. Each registers itself on the CLI11 app and
// returns the process exit code from its run function.

#include <CLI/CLI.hpp>

#include <functional>

namespace dira::cli {

/// Exit codes shared by every command (README, "Exit codes").
enum ExitCode : int { ok = 0, failure = 1, usage_error = 2, protocol_abort = 3 };

/// Registers `dira bounds` and `dira inequalities`; the returned callable runs
/// whichever was selected (or returns -1 if neither was).
std::function<int()> register_bounds_commands(CLI::App& app);
std::function<int()> register_analyze_trials_command(CLI::App& app);
std::function<int()> register_plan_command(CLI::App& app);
std::function<int()> register_simulate_trials_command(CLI::App& app);
std::function<int()> register_devices_command(CLI::App& app);
std::function<int()> register_run_commands(CLI::App& app);
std::function<int()> register_ptu_info_command(CLI::App& app);
std::function<int()> register_station_command(CLI::App& app);
std::function<int()> register_keygen_command(CLI::App& app);

}  // namespace dira::cli
