// `dira devices`: drivers, their capabilities, and the devices they find.
#include "commands.hpp"

#include "dira/app/devices.hpp"

#include <iostream>
#include <memory>

namespace dira::cli {

std::function<int()> register_devices_command(CLI::App& app) {
  auto as_json = std::make_shared<bool>(false);
  auto no_scan = std::make_shared<bool>(false);
  auto* c = app.add_subcommand("devices", "Drivers, their settings (capabilities) and the devices found (USB scan; sim always)");
  c->add_flag("--json", *as_json, "JSON output");
  c->add_flag("--no-scan", *no_scan, "Do not look for devices");
  return [=]() -> int {
    if (!*c) return -1;
    const auto j = app::describe_drivers(app::driver_registry(), !*no_scan);
    if (*as_json) {
      std::cout << j.dump(2) << "\n";
      return ok;
    }
    for (const auto& d : j) {
      std::cout << d["driver"].get<std::string>() << " (" << d["kind"].get<std::string>() << ") — "
                << d["description"].get<std::string>() << "\n";
      for (const auto& cap : d["capabilities"]) {
        std::cout << "    " << cap["key"].get<std::string>() << " : " << cap["type"].get<std::string>();
        if (!cap["unit"].get<std::string>().empty()) std::cout << " [" << cap["unit"].get<std::string>() << "]";
        if (!cap["min"].is_null() || !cap["max"].is_null())
          std::cout << " in [" << (cap["min"].is_null() ? "-inf" : cap["min"].dump()) << ", "
                    << (cap["max"].is_null() ? "inf" : cap["max"].dump()) << "]";
        std::cout << " = " << cap["default"].dump() << (cap["set"].get<bool>() ? "" : " (read-only)") << "  "
                  << cap["description"].get<std::string>() << "\n";
      }
      if (d.contains("found")) {
        if (d["found"].empty()) std::cout << "    found: nothing";
        else
          for (const auto& f : d["found"])
            std::cout << "    found: " << f["identity"].get<std::string>() << " " << f["detail"].get<std::string>() << "\n";
        if (d.contains("scan_error")) std::cout << " (scan failed: " << d["scan_error"].get<std::string>() << ")";
        if (d["found"].empty()) std::cout << "\n";
      }
    }
    return ok;
  };
}

}  // namespace dira::cli
