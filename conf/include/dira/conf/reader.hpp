#pragma once
/// @file reader.hpp
/// Walks a YAML document collecting every problem as a ConfigIssue (file, line, column, key
/// path) instead of stopping at the first. Used by every configuration reader of dira
/// (experiments and inequalities in app/, instrument profiles in drivers/).

#include "dira/conf/issue.hpp"
#include "dira/protocol/rational.hpp"

#include <yaml-cpp/yaml.h>

#include <complex>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dira::conf {

/// Every accessor reports a problem and returns std::nullopt instead of throwing, so one run
/// reports all problems. An undefined node (a key that is absent) gives std::nullopt without an
/// issue: absence is reported by require(), where it is an error. Numbers are range-checked
/// before any conversion: NaN and ±inf are refused everywhere (no configuration value of ours
/// is infinite), integers outside their range are refused before the cast.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  /// Parses `text` with parse_document (duplicate and complex keys become issues here; a
  /// syntax error throws ConfigError).
  YAML::Node parse(std::string_view text);

  const std::string& file() const { return file_; }
  void issue(const YAML::Node& at, const std::string& key, const std::string& message);
  bool ok() const { return issues_.empty(); }
  std::vector<ConfigIssue>& issues() { return issues_; }
  /// Throws ConfigError with every issue so far if there is one.
  void throw_if_any() const {
    if (!issues_.empty()) throw ConfigError(issues_);
  }

  /// Keys of `map` not in `allowed` are issues, each with the nearest allowed key ("did you
  /// mean `protocol`?") and the list of allowed ones. Non-scalar keys were reported by parse().
  void allowed_keys(const YAML::Node& map, const std::string& key, std::initializer_list<const char*> allowed);
  /// `map[key]`; if absent, an issue "missing" — at the line of a near miss (`Protocol:` for
  /// `protocol:`) if the map has one, else at the map.
  YAML::Node require(const YAML::Node& map, const std::string& parent, const char* key);
  /// `map[key]` where a map belongs: a scalar or a list there is an issue naming what was
  /// found; returns the node only if it is a map (undefined otherwise).
  YAML::Node section(const YAML::Node& map, const std::string& parent, const char* key, const std::string& expected);

  /// The text of a map key (empty for a complex key, which parse() reported).
  static std::string key_of(const YAML::Node& k) { return k.IsScalar() ? k.Scalar() : std::string(); }
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }
  static std::string idx(const std::string& a, std::size_t i) { return a + "[" + std::to_string(i) + "]"; }

  std::optional<long long> integer(const YAML::Node& n, const std::string& key);
  /// An integer in [lo, hi].
  std::optional<long long> integer(const YAML::Node& n, const std::string& key, long long lo, long long hi);
  /// A finite number (1e6, 0.75 or 3/4).
  std::optional<double> number(const YAML::Node& n, const std::string& key);
  /// A whole number in [lo, hi] that may be written as a float (1e6): checked before conversion.
  std::optional<long long> whole(const YAML::Node& n, const std::string& key, long long lo, long long hi);
  /// A complex number: a number, or [re, im].
  std::optional<std::complex<double>> complex_number(const YAML::Node& n, const std::string& key);
  std::optional<protocol::Rational> rational(const YAML::Node& n, const std::string& key);
  std::optional<std::string> string(const YAML::Node& n, const std::string& key);
  std::optional<bool> boolean(const YAML::Node& n, const std::string& key);
  /// A tuple with one in-range entry per party: limits[p] = number of values for party p.
  std::optional<std::vector<int>> tuple(const YAML::Node& n, const std::string& key, const std::vector<int>& limits,
                                        const char* what);

 private:
  std::string file_;
  std::vector<ConfigIssue> issues_;
};

/// What a node is, for messages: "a map", "a list", "the scalar 'x'", "nothing".
std::string describe(const YAML::Node& n);

}  // namespace dira::conf
