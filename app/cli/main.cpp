// dira — device-independent randomness amplification, command-line front end.
#include "commands.hpp"

#include <iostream>
#include <vector>

#ifndef DIRA_VERSION
#define DIRA_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"dira — device-independent randomness amplification (see README.md)", "dira"};
  app.set_version_flag("--version", std::string("dira ") + DIRA_VERSION);
  app.require_subcommand(1);
  const std::vector<std::function<int()>> commands{dira::cli::register_bounds_commands(app),
                                                   dira::cli::register_analyze_trials_command(app),
                                                   dira::cli::register_plan_command(app),
                                                   dira::cli::register_simulate_trials_command(app),
                                                   dira::cli::register_devices_command(app),
                                                   dira::cli::register_run_commands(app),
                                                   dira::cli::register_ptu_info_command(app),
                                                   dira::cli::register_station_command(app),
                                                   dira::cli::register_keygen_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return dira::cli::usage_error;  // CLI11's own codes are not ours: usage errors exit 2
  }
  try {
    for (const auto& command : commands)
      if (const int rc = command(); rc >= 0) return rc;
  } catch (const std::exception& e) {
    std::cerr << "dira: error: " << e.what() << "\n";
    return dira::cli::failure;
  }
  std::cerr << app.help();
  return dira::cli::usage_error;
}
