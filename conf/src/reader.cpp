#include "dira/conf/reader.hpp"

#include "dira/conf/document.hpp"

#include <algorithm>
#include <cmath>

namespace dira::conf {

YAML::Node Reader::parse(std::string_view text) {
  return parse_document(text, file_, issues_);
}

void Reader::issue(const YAML::Node& at, const std::string& key, const std::string& message) {
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

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined()) return "nothing";
  if (n.IsNull()) return "an empty value";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 40) + "…";
  return "the scalar '" + s + "'";
}

void Reader::allowed_keys(const YAML::Node& map, const std::string& key, std::initializer_list<const char*> allowed) {
  // IsDefined() first: a const map's lookup of an absent key is an invalid node, and IsMap() on
  // it throws.
  if (!map.IsDefined() || !map.IsMap()) return;
  const std::vector<std::string> names(allowed.begin(), allowed.end());
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) continue;  // a complex key: parse() reported it
    const std::string& k = kv.first.Scalar();
    if (std::find(names.begin(), names.end(), k) != names.end()) continue;
    std::string list;
    for (const auto& a : names) list += (list.empty() ? "" : ", ") + a;
    const std::string near = nearest(k, names);
    issue(kv.first, join(key, k),
          "unknown key" + (near.empty() ? std::string() : "; did you mean `" + near + "`?") +
              " (allowed here: " + list + ")");
  }
}

YAML::Node Reader::require(const YAML::Node& map, const std::string& parent, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node found = map[key];
  if (found.IsDefined()) return found;
  // A misspelt key (`Protocol:`) is the likely reason: point at it.
  std::vector<std::string> keys;
  std::vector<YAML::Node> nodes;
  for (const auto& kv : map)
    if (kv.first.IsScalar()) {
      keys.push_back(kv.first.Scalar());
      nodes.push_back(kv.first);
    }
  const std::string near = nearest(key, keys);
  if (!near.empty()) {
    const auto i = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), near) - keys.begin());
    issue(nodes[i], join(parent, key), "missing; the file has `" + near + "` here: did you mean `" + key + "`?");
  } else {
    issue(map, join(parent, key), "missing");
  }
  // Absent: a node that is undefined but valid (a const map's lookup of a missing key gives an
  // invalid node, on which IsMap() and assignment throw).
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node Reader::section(const YAML::Node& map, const std::string& parent, const char* key,
                           const std::string& expected) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node n = map[key];
  if (!n.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  if (!n.IsMap()) {
    issue(n, join(parent, key), "expected a map (" + expected + "), found " + describe(n));
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

std::optional<long long> Reader::integer(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    issue(n, key, "expected an integer, found " + describe(n));
    return std::nullopt;
  }
  try {
    return n.as<long long>();
  } catch (const YAML::Exception&) {
    issue(n, key, "expected an integer, got '" + n.Scalar() + "'");
    return std::nullopt;
  }
}

std::optional<long long> Reader::integer(const YAML::Node& n, const std::string& key, long long lo, long long hi) {
  auto v = integer(n, key);
  if (v && (*v < lo || *v > hi)) {
    issue(n, key, std::to_string(*v) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<double> Reader::number(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    issue(n, key, "expected a number, found " + describe(n));
    return std::nullopt;
  }
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    try {
      v = protocol::to_double(protocol::parse_rational(n.Scalar()));
    } catch (const std::exception&) {
      issue(n, key, "expected a number, got '" + n.Scalar() + "'");
      return std::nullopt;
    }
  }
  if (!std::isfinite(v)) {
    issue(n, key, "expected a finite number, got '" + n.Scalar() + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<long long> Reader::whole(const YAML::Node& n, const std::string& key, long long lo, long long hi) {
  auto v = number(n, key);
  if (!v) return std::nullopt;
  // Compared as doubles before the cast: a value outside long long's range must not reach it.
  if (std::floor(*v) != *v || *v < static_cast<double>(lo) || *v > static_cast<double>(hi)) {
    issue(n, key,
          "expected a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + n.Scalar() +
              "'");
    return std::nullopt;
  }
  return static_cast<long long>(*v);
}

std::optional<std::complex<double>> Reader::complex_number(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (n.IsSequence()) {
    if (n.size() != 2) {
      issue(n, key, "a complex number is written [re, im]");
      return std::nullopt;
    }
    auto re = number(n[0], idx(key, 0)), im = number(n[1], idx(key, 1));
    if (!re || !im) return std::nullopt;
    return std::complex<double>(*re, *im);
  }
  auto v = number(n, key);
  if (!v) return std::nullopt;
  return std::complex<double>(*v, 0);
}

std::optional<protocol::Rational> Reader::rational(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    issue(n, key, "expected a number such as 3/4 or 0.75, found " + describe(n));
    return std::nullopt;
  }
  try {
    return protocol::parse_rational(n.Scalar());
  } catch (const std::exception& e) {
    issue(n, key, e.what());
    return std::nullopt;
  }
}

std::optional<std::string> Reader::string(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    issue(n, key, "expected a string, found " + describe(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<bool> Reader::boolean(const YAML::Node& n, const std::string& key) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    issue(n, key, "expected true or false, found " + describe(n));
    return std::nullopt;
  }
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    issue(n, key, "expected true or false, got '" + n.Scalar() + "'");
    return std::nullopt;
  }
}

std::optional<std::vector<int>> Reader::tuple(const YAML::Node& n, const std::string& key,
                                              const std::vector<int>& limits, const char* what) {
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsSequence()) {
    issue(n, key, std::string("expected a list with one ") + what + " per party");
    return std::nullopt;
  }
  if (n.size() != limits.size()) {
    issue(n, key,
          std::string("has ") + std::to_string(n.size()) + " entries; the scenario has " +
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
      issue(n[p], idx(key, p),
            std::string(what) + " " + std::to_string(*v) + " out of range for party " + std::to_string(p) + " (0.." +
                std::to_string(limits[p] - 1) + ", 0-based; see docs/labels.md)");
      good = false;
      continue;
    }
    t.push_back(static_cast<int>(*v));
  }
  if (!good) return std::nullopt;
  return t;
}

}  // namespace dira::conf
