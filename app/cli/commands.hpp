#pragma once
// Subcommands of the dira CLI. Each registers itself on the CLI11 app and
// returns the process exit code from its run function.

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <iostream>
#include <string>

namespace dira::cli {

/// Exit codes shared by every command (README, "Exit codes").
/// 5: the run ended before the protocol's n trials (stopped, source exhausted): incomplete, nothing certified.
enum ExitCode : int {
  ok = 0,
  failure = 1,
  usage_error = 2,
  protocol_abort = 3,
  hardware_fault = 4,
  incomplete_run = 5
};

/// Reports an error: "COMMAND: message" on stderr, and with `--json` also one JSON object on
/// stdout ({"error": message, "command": …, "exit_code": code}) so a script always gets JSON.
/// Returns `code`.
inline int report_error(const std::string& command, const std::string& message, bool json, int code = usage_error) {
  std::cerr << command << ": " << message << "\n";
  if (json)
    std::cout << nlohmann::json{{"error", message}, {"command", command}, {"exit_code", code}}.dump(2) << "\n";
  return code;
}

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
