#include "dira/conf/search_path.hpp"

#include <cstdlib>
#include <set>

#ifndef DIRA_SOURCE_CONFIG_DIR
#define DIRA_SOURCE_CONFIG_DIR ""
#endif

namespace dira::conf {

std::vector<std::filesystem::path> config_search_path(const std::filesystem::path& override_dir) {
  std::vector<std::filesystem::path> dirs;
  if (!override_dir.empty()) dirs.push_back(override_dir);
  if (const char* env = std::getenv("DIRA_CONFIG_DIR"); env && *env) dirs.emplace_back(env);
  if (std::string(DIRA_SOURCE_CONFIG_DIR).size()) dirs.emplace_back(DIRA_SOURCE_CONFIG_DIR);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share" / "dira" / "config");
  return dirs;
}

bool names_a_path(const std::string& name) {
  const std::filesystem::path p(name);
  return p.extension() == ".yaml" || p.extension() == ".yml" || name.find('/') != std::string::npos;
}

std::optional<std::filesystem::path> find_config(const std::string& kind, const std::string& name,
                                                 const std::filesystem::path& override_dir) {
  for (const auto& d : config_search_path(override_dir)) {
    const auto p = d / kind / (name + ".yaml");
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) return p;
  }
  return std::nullopt;
}

std::vector<std::string> known_configs(const std::string& kind, const std::filesystem::path& override_dir) {
  std::set<std::string> names;
  for (const auto& d : config_search_path(override_dir)) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(d / kind, ec))
      if (e.path().extension() == ".yaml") names.insert(e.path().stem().string());
  }
  return {names.begin(), names.end()};
}

}  // namespace dira::conf
