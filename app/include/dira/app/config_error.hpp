#pragma once
/// @file config_error.hpp
/// Errors in configuration files, each naming file, line, column and key path.

#include <stdexcept>
#include <string>
#include <vector>

namespace dira::app {

struct ConfigIssue {
  std::string file;
  int line = 0;    ///< 1-based; 0 if unknown
  int column = 0;  ///< 1-based; 0 if unknown
  std::string key; ///< e.g. "quantum.bases.M2"
  std::string message;
  /// "file:line:column: key: message"
  std::string str() const;
};

/// Thrown with every problem found in one file (all at once, not the first only).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

}  // namespace dira::app
