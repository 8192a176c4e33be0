#pragma once
/// @file search_path.hpp
/// The one search path for dira's configuration files (inequalities, experiments, instrument
/// profiles): config/<kind>/<name>.yaml in each directory, first match wins.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dira::conf {

/// Directories searched for config/, in order: `override_dir` if non-empty, $DIRA_CONFIG_DIR,
/// the source tree's config/ (for build/bin/dira in a clone), and ../share/dira/config next to
/// the executable.
std::vector<std::filesystem::path> config_search_path(const std::filesystem::path& override_dir = {});

/// True if `name` is meant as a path (has a '/' or ends in .yaml/.yml), not a name to look up.
bool names_a_path(const std::string& name);

/// <dir>/<kind>/<name>.yaml in the first search-path directory that has it.
std::optional<std::filesystem::path> find_config(const std::string& kind, const std::string& name,
                                                 const std::filesystem::path& override_dir = {});

/// The names (file stems) of every <dir>/<kind>/*.yaml on the search path, sorted, without duplicates.
std::vector<std::string> known_configs(const std::string& kind, const std::filesystem::path& override_dir = {});

}  // namespace dira::conf
