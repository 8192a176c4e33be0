#pragma once
/// @file inequality_loader.hpp
/// Loads Bell inequalities from YAML (config/inequalities/*.yaml); format in docs/inequality-yaml.md.

#include "dira/app/config_error.hpp"
#include "dira/protocol/inequality.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dira::app {

/// Parses and validates; throws ConfigError listing every problem found.
protocol::Inequality load_inequality_text(std::string_view yaml, const std::string& file_name);
/// Reads a file; throws ConfigError (unreadable file or invalid content).
protocol::Inequality load_inequality_file(const std::filesystem::path& path);

/// Directories searched for config/, in order: `override_dir` if non-empty,
/// $DIRA_CONFIG_DIR, the source tree's config/ (for build/bin/dira in a clone),
/// and ../share/dira/config next to the executable.
std::vector<std::filesystem::path> config_search_path(const std::filesystem::path& override_dir = {});

/// Names of the inequalities found in <config>/inequalities/, sorted, without duplicates.
std::vector<std::string> known_inequalities(const std::filesystem::path& override_dir = {});

/// Thrown when a name is neither a YAML path nor a known inequality.
class UnknownInequality : public std::runtime_error {
 public:
  UnknownInequality(const std::string& name, std::vector<std::string> known);
  const std::vector<std::string>& known() const { return known_; }

 private:
  std::vector<std::string> known_;
};

/// A path to a .yaml file, or a name looked up in the search path.
std::filesystem::path resolve_inequality(const std::string& name_or_path, const std::filesystem::path& override_dir = {});

}  // namespace dira::app
