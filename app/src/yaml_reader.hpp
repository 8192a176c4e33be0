#pragma once
// Private helper of the app library: walks a YAML document collecting every problem
// as a ConfigIssue (file, line, column, key path) instead of stopping at the first.

#include "dira/app/config_error.hpp"
#include "dira/protocol/rational.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <complex>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace dira::app::detail {

using protocol::Rational;
using cd = std::complex<double>;

/// Collects issues while walking the document; every accessor reports and returns
/// a fallback instead of throwing, so one run reports all problems.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void issue(const YAML::Node& at, const std::string& key, const std::string& message) {
    ConfigIssue i;
    i.file = file_;
    if (at.IsDefined() && at.Mark().line >= 0) {
      i.line = at.Mark().line + 1;
      i.column = at.Mark().column + 1;
    }
    i.key = key;
    i.message = message;
    issues_.push_back(std::move(i));
  }
  bool ok() const { return issues_.empty(); }
  std::vector<ConfigIssue>& issues() { return issues_; }

  void allowed_keys(const YAML::Node& map, const std::string& key, std::initializer_list<const char*> allowed) {
    if (!map.IsMap()) return;
    for (const auto& kv : map) {
      const auto k = kv.first.as<std::string>();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        issue(kv.first, join(key, k), "unknown key (allowed here: " + list + ")");
      }
    }
  }
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }
  static std::string idx(const std::string& a, std::size_t i) { return a + "[" + std::to_string(i) + "]"; }

  YAML::Node require(const YAML::Node& map, const std::string& parent, const char* key) {
    if (!map.IsMap()) return {};
    YAML::Node n = map[key];
    if (!n.IsDefined()) issue(map, join(parent, key), "missing");
    return n;
  }

  std::optional<long long> integer(const YAML::Node& n, const std::string& key) {
    if (!n.IsDefined()) return std::nullopt;
    if (!n.IsScalar()) {
      issue(n, key, "expected an integer");
      return std::nullopt;
    }
    try {
      return n.as<long long>();
    } catch (const YAML::Exception&) {
      issue(n, key, "expected an integer, got '" + n.Scalar() + "'");
      return std::nullopt;
    }
  }
  std::optional<double> number(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar()) {
      issue(n, key, "expected a number");
      return std::nullopt;
    }
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      try {
        return protocol::to_double(protocol::parse_rational(n.Scalar()));
      } catch (const std::exception&) {
        issue(n, key, "expected a number, got '" + n.Scalar() + "'");
        return std::nullopt;
      }
    }
  }
  std::optional<cd> complex_number(const YAML::Node& n, const std::string& key) {
    if (n.IsSequence()) {
      if (n.size() != 2) {
        issue(n, key, "a complex number is written [re, im]");
        return std::nullopt;
      }
      auto re = number(n[0], idx(key, 0)), im = number(n[1], idx(key, 1));
      if (!re || !im) return std::nullopt;
      return cd(*re, *im);
    }
    auto v = number(n, key);
    if (!v) return std::nullopt;
    return cd(*v, 0);
  }
  std::optional<Rational> rational(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar()) {
      issue(n, key, "expected a number such as 3/4 or 0.75");
      return std::nullopt;
    }
    try {
      return protocol::parse_rational(n.Scalar());
    } catch (const std::exception& e) {
      issue(n, key, e.what());
      return std::nullopt;
    }
  }
  std::optional<std::string> string(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar()) {
      issue(n, key, "expected a string");
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<bool> boolean(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar()) {
      issue(n, key, "expected true or false");
      return std::nullopt;
    }
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      issue(n, key, "expected true or false, got '" + n.Scalar() + "'");
      return std::nullopt;
    }
  }
  /// A tuple with one in-range entry per party: limits[p] = number of values for party p.
  std::optional<std::vector<int>> tuple(const YAML::Node& n, const std::string& key, const std::vector<int>& limits,
                                        const char* what) {
    if (!n.IsSequence()) {
      issue(n, key, std::string("expected a list with one ") + what + " per party");
      return std::nullopt;
    }
    if (n.size() != limits.size()) {
      issue(n, key, std::string("has ") + std::to_string(n.size()) + " entries; the scenario has " +
                        std::to_string(limits.size()) + " parties (one " + what + " each)");
      return std::nullopt;
    }
    std::vector<int> t;
    bool good = true;
    for (std::size_t p = 0; p < n.size(); ++p) {
      auto v = integer(n[p], idx(key, p));
      if (!v) {
        good = false;
        continue;
      }
      if (*v < 0 || *v >= limits[p]) {
        issue(n[p], idx(key, p), std::string(what) + " " + std::to_string(*v) + " out of range for party " + std::to_string(p) +
                                     " (0.." + std::to_string(limits[p] - 1) + ", 0-based; see docs/labels.md)");
        good = false;
        continue;
      }
      t.push_back(static_cast<int>(*v));
    }
    if (!good) return std::nullopt;
    return t;
  }

 private:
  std::string file_;
  std::vector<ConfigIssue> issues_;
};


}  // namespace dira::app::detail
