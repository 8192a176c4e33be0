#pragma once
/// @file config_error.hpp
/// Errors in configuration files, each naming file, line, column and key path: the config
/// toolkit's one issue type (conf/issue.hpp), under the names app/ has always used.

#include "dira/conf/issue.hpp"

namespace dira::app {

using conf::ConfigError;
using conf::ConfigIssue;

}  // namespace dira::app
