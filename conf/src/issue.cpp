#include "dira/conf/issue.hpp"

#include <sstream>

namespace dira::conf {

std::string ConfigIssue::str() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ":" << line << ":" << column;
  os << ": ";
  if (!key.empty()) os << key << ": ";
  os << message;
  return os.str();
}

namespace {
std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string s;
  for (const auto& i : issues) s += (s.empty() ? "" : "\n") + i.str();
  return s;
}
}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

}  // namespace dira::conf
