// Inequality YAML: errors name file, line, key and problem; all problems at once.
#include "dira/app/inequality_loader.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

using dira::app::ConfigError;
using dira::app::load_inequality_text;

namespace {
std::string read_config(const std::string& name) {
  std::ifstream in(dira::app::resolve_inequality(name));
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}
std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}
int line_of(const std::string& text, const std::string& needle) {
  const auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}
std::vector<dira::app::ConfigIssue> issues_of(const std::string& yaml) {
  try {
    load_inequality_text(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.issues();
  }
  FAIL("expected a ConfigError");
  return {};
}
}  // namespace

TEST_CASE("shipped inequalities load", "[loader]") {
  for (const auto& name : dira::app::known_inequalities()) {
    INFO(name);
    CHECK_NOTHROW(dira::app::load_inequality_file(dira::app::resolve_inequality(name)));
  }
  const auto known = dira::app::known_inequalities();
  CHECK(std::count(known.begin(), known.end(), "guehne4") == 1);
  CHECK(std::count(known.begin(), known.end(), "ks294") == 1);
}

TEST_CASE("unknown inequality lists the known ones", "[loader]") {
  try {
    dira::app::resolve_inequality("nosuch");
    FAIL("expected UnknownInequality");
  } catch (const dira::app::UnknownInequality& e) {
    CHECK(std::string(e.what()).find("guehne4") != std::string::npos);
    CHECK(std::string(e.what()).find("ks294") != std::string::npos);
  }
}

TEST_CASE("a vector of the wrong dimension names its line and key", "[loader]") {
  const std::string bad = replace_once(read_config("ks294"), "v5:  [ 1, -1,  0,  0]", "v5:  [ 1, -1,  0]");
  const auto issues = issues_of(bad);
  REQUIRE(!issues.empty());
  CHECK(issues[0].file == "test.yaml");
  CHECK(issues[0].line == line_of(bad, "v5:  [ 1, -1,  0]"));
  CHECK(issues[0].key == "quantum.vectors.v5");
  CHECK(issues[0].message.find("3 components") != std::string::npos);
}

TEST_CASE("a basis that is not orthonormal is refused with the offending pair", "[loader]") {
  // M3 = (v7, v8, v9, v10) with v9 replaced by v11: <v7|v11> ≠ 0.
  const std::string bad = replace_once(read_config("ks294"), "M3: [v7, v8, v9, v10]", "M3: [v7, v8, v11, v10]");
  const auto issues = issues_of(bad);
  REQUIRE(!issues.empty());
  CHECK(issues[0].key == "quantum.bases.M3");
  CHECK(issues[0].line == line_of(bad, "M3: [v7, v8, v11, v10]"));
  CHECK(issues[0].message.find("not orthonormal") != std::string::npos);
  CHECK(issues[0].message.find("v7 and v11") != std::string::npos);
}

TEST_CASE("parties and settings out of range are refused", "[loader]") {
  const std::string base = read_config("guehne4");
  {
    const std::string bad = replace_once(base, "- parties: [0, 1, 2]", "- parties: [0, 1, 4]");
    const auto issues = issues_of(bad);
    REQUIRE(issues.size() == 1);
    CHECK(issues[0].key == "randomness.majority[0].parties[2]");
    CHECK(issues[0].message.find("party 4 out of range") != std::string::npos);
    CHECK(issues[0].line == line_of(bad, "- parties: [0, 1, 4]"));
  }
  {
    const std::string bad = replace_once(base, "settings: [[0,0,0,1], [0,0,1,0]", "settings: [[0,0,0,1], [0,0,1]");
    const auto issues = issues_of(bad);
    REQUIRE(!issues.empty());
    CHECK(issues[0].key == "expression.groups[0].settings[1]");
    CHECK(issues[0].message.find("4 parties") != std::string::npos);
  }
  {
    const std::string bad = replace_once(base, "settings: [[0,0,0,1], [0,0,1,0]", "settings: [[0,0,0,1], [0,0,2,0]");
    const auto issues = issues_of(bad);
    REQUIRE(!issues.empty());
    CHECK(issues[0].message.find("out of range for party 2") != std::string::npos);
  }
}

TEST_CASE("every problem is reported at once, including unknown keys", "[loader]") {
  std::string bad = replace_once(read_config("ks294"), "v5:  [ 1, -1,  0,  0]", "v5:  [ 1, -1,  0]");
  bad = replace_once(bad, "claims:", "claim_typo: 1\nclaims:");
  bad = replace_once(bad, "  event_table: true", "  event_table: maybe");
  const auto issues = issues_of(bad);
  std::set<std::string> keys;
  for (const auto& i : issues) keys.insert(i.key);
  CHECK(keys.count("quantum.vectors.v5"));
  CHECK(keys.count("claim_typo"));
  CHECK(keys.count("randomness.event_table"));
}

TEST_CASE("YAML syntax errors carry the line", "[loader]") {
  const auto issues = issues_of("name: x\nscenario: {parties: 2\n  settings: [\n");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].line >= 2);
  CHECK(issues[0].message.find("YAML syntax error") != std::string::npos);
}
