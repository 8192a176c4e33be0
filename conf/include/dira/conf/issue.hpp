#pragma once
/// @file issue.hpp
/// The one issue type of every configuration file dira reads (experiments, inequalities,
/// instrument profiles): file, line, column, key path and message.

#include <stdexcept>
#include <string>
#include <vector>

namespace dira::conf {

struct ConfigIssue {
  std::string file;
  int line = 0;     ///< 1-based; 0 if unknown
  int column = 0;   ///< 1-based; 0 if unknown
  std::string key;  ///< e.g. "quantum.bases.M2"
  std::string message;
  /// "file:line:column: key: message"
  std::string str() const;
};

/// Thrown with every problem found in one file (all at once, not the first only). A
/// configuration error: the CLI exits with status 2 and creates nothing.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

}  // namespace dira::conf
