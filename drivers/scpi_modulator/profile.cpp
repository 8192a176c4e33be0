// Instrument profiles: YAML → Profile (all problems at once), Profile + schedule → SCPI text.
#include "dira/drivers/scpi_modulator/profile.hpp"

#include "dira/conf/document.hpp"
#include "dira/conf/reader.hpp"
#include "dira/conf/search_path.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace dira::drivers::scpi_modulator {

namespace {

// ---- placeholders -------------------------------------------------------------------------

enum class Group {
  identify,
  reset,
  setup,
  segment,
  sequence,
  trigger,
  arm,
  error_query,
  readback_query,
  confirm,
  confirm_reply
};

const char* group_name(Group g) {
  switch (g) {
    case Group::identify:
      return "identify";
    case Group::reset:
      return "reset";
    case Group::setup:
      return "setup";
    case Group::segment:
      return "segment";
    case Group::sequence:
      return "sequence";
    case Group::trigger:
      return "trigger";
    case Group::arm:
      return "arm";
    case Group::error_query:
      return "error_query";
    case Group::readback_query:
      return "readback.query";
    case Group::confirm:
      return "delivery.confirm";
    case Group::confirm_reply:
      return "delivery.confirm_reply";
  }
  return "?";
}

bool is_schedule_group(Group g) {
  return g == Group::sequence || g == Group::trigger || g == Group::arm;
}
bool takes_placeholders(Group g) {
  return g != Group::identify && g != Group::error_query && g != Group::readback_query && g != Group::confirm;
}

// Placeholders that depend on the channel: a template using one is sent once per channel.
const std::set<std::string> kChannelScoped = {"ch", "low", "high", "level", "normalized_level", "levels", "normalized"};

std::vector<std::string> allowed(Group g) {
  if (!takes_placeholders(g)) return {};
  if (g == Group::confirm_reply) return {"length", "first_trial"};  // one reply, not per channel
  std::vector<std::string> a = {"ch", "low", "high"};
  if (g == Group::segment) a.insert(a.end(), {"setting", "segment", "level", "normalized_level"});
  if (is_schedule_group(g))
    a.insert(a.end(), {"length", "first_trial", "settings", "segments", "levels", "normalized"});
  return a;
}

/// Placeholder names in order of appearance; throws std::invalid_argument on a stray brace.
std::vector<std::string> placeholders(const std::string& t) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '}') throw std::invalid_argument("'}' without '{'");
    if (t[i] != '{') continue;
    const auto close = t.find('}', i);
    if (close == std::string::npos) throw std::invalid_argument("'{' without '}'");
    const auto name = t.substr(i + 1, close - i - 1);
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
      throw std::invalid_argument("bad placeholder '{" + name + "}'");
    out.push_back(name);
    i = close;
  }
  return out;
}

bool channel_scoped(const std::string& t) {
  for (const auto& p : placeholders(t))
    if (kChannelScoped.count(p)) return true;
  return false;
}

std::string substitute(const std::string& t, const std::map<std::string, std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '{') {
      out += t[i];
      continue;
    }
    const auto close = t.find('}', i);
    out += values.at(t.substr(i + 1, close - i - 1));
    i = close;
  }
  return out;
}

bool is_query(const std::string& text) {
  const auto head = text.substr(0, text.find(' '));
  return !head.empty() && head.back() == '?';
}

// ---- YAML reading, every problem collected -------------------------------------------------

/// The config toolkit's reader plus what only profiles have: SCPI command templates whose
/// placeholders are checked against the command group they belong to.
class Reader : public conf::Reader {
 public:
  using conf::Reader::Reader;
  std::optional<std::string> text(const YAML::Node& n, const std::string& key) { return string(n, key); }

  /// A template list: a string or a list of strings; placeholders checked against the group.
  std::vector<std::string> templates(const YAML::Node& n, const std::string& key, Group g) {
    std::vector<std::string> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    std::vector<std::pair<YAML::Node, std::string>> items;
    if (n.IsScalar()) {
      items.emplace_back(n, key);
    } else if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) items.emplace_back(n[i], key + "[" + std::to_string(i) + "]");
    } else {
      issue(n, key, "expected a command or a list of commands");
      return out;
    }
    for (const auto& [node, k] : items) {
      if (!node.IsScalar() || node.Scalar().empty()) {
        issue(node, k, "expected a non-empty command string");
        continue;
      }
      const auto t = node.Scalar();
      if (check_template(node, k, t, g)) out.push_back(t);
    }
    return out;
  }

  bool check_template(const YAML::Node& at, const std::string& key, const std::string& t, Group g) {
    try {
      const auto ok = allowed(g);
      for (const auto& p : placeholders(t)) {
        if (std::find(ok.begin(), ok.end(), p) != ok.end()) continue;
        std::string list;
        for (const auto& a : ok) list += (list.empty() ? "" : ", ") + ("{" + a + "}");
        issue(at, key,
              "placeholder {" + p + "} is not available in '" + group_name(g) +
                  "' (available: " + (list.empty() ? "none" : list) + ")");
        return false;
      }
      return true;
    } catch (const std::invalid_argument& e) {
      issue(at, key, e.what());
      return false;
    }
  }
};

std::string join_values(const std::vector<std::string>& per_setting, std::span<const std::uint8_t> settings) {
  std::string s;
  s.reserve(settings.size() * (per_setting.empty() ? 2 : per_setting[0].size() + 1));
  for (std::size_t i = 0; i < settings.size(); ++i) {
    if (i) s += ',';
    s += per_setting[settings[i]];
  }
  return s;
}

}  // namespace

double Profile::low(std::size_t c) const {
  double v = levels.at(0).at(c);
  for (const auto& row : levels) v = std::min(v, row.at(c));
  return v;
}
double Profile::high(std::size_t c) const {
  double v = levels.at(0).at(c);
  for (const auto& row : levels) v = std::max(v, row.at(c));
  return v;
}

std::string format_number(double v) {
  if (v == 0) v = 0;  // no "-0"
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

namespace {
Profile parse_profile_root(Reader& r, const YAML::Node& root, const std::string& file);
}  // namespace

Profile parse_profile(const std::string& yaml_text, const std::string& file) {
  Reader r(file);
  const YAML::Node root = r.parse(yaml_text);
  if (!root.IsMap()) {
    r.issue(root, "", "expected a mapping at the top level, found " + conf::describe(root));
    throw ProfileError(r.issues());
  }
  // Whatever yaml-cpp still throws on a strange document (a conversion on a node shape the checks
  // below did not foresee) is a profile error with a position, never a library exception that a
  // caller would report as a hardware fault (issue 12).
  try {
    return parse_profile_root(r, root, file);
  } catch (const YAML::Exception& e) {
    r.issues().push_back(conf::ConfigIssue{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                                           e.mark.is_null() ? 0 : e.mark.column + 1, "", "YAML: " + e.msg});
    throw ProfileError(r.issues());
  }
}

namespace {

Profile parse_profile_root(Reader& r, const YAML::Node& root, const std::string& file) {
  r.allowed_keys(
      root, "",
      {"name", "description", "example", "resource", "settings", "channels", "levels", "settling_time_ns", "timeout_ms",
       "terminator", "segment_offset", "min_length", "max_length", "commands", "check_errors", "readback", "delivery"});
  Profile p;
  p.file = file;
  if (auto v = r.text(root["name"], "name"))
    p.name = *v;
  else if (!root["name"].IsDefined())
    r.issue(root, "name", "missing");
  if (auto v = r.text(root["description"], "description")) p.description = *v;
  if (auto v = r.boolean(root["example"], "example")) p.example = *v;
  if (auto v = r.text(root["resource"], "resource")) p.resource = *v;
  if (auto v = r.integer(root["settings"], "settings", 1, 256))
    p.settings = static_cast<int>(*v);
  else if (!root["settings"].IsDefined())
    r.issue(root, "settings", "missing (number of setting labels S)");
  if (auto v = r.number(root["settling_time_ns"], "settling_time_ns")) {
    if (*v < 0) r.issue(root["settling_time_ns"], "settling_time_ns", "must be ≥ 0");
    p.settling_time_ns = *v;
  } else if (!root["settling_time_ns"].IsDefined()) {
    r.issue(root, "settling_time_ns", "missing");
  }
  if (auto v = r.integer(root["timeout_ms"], "timeout_ms", 1, 600000)) p.timeout_ms = static_cast<int>(*v);
  if (auto v = r.text(root["terminator"], "terminator")) p.terminator = *v;
  if (auto v = r.integer(root["segment_offset"], "segment_offset", 0, 1000000)) p.segment_offset = static_cast<int>(*v);
  if (auto v = r.integer(root["min_length"], "min_length", 1, 1LL << 32)) p.min_length = static_cast<std::size_t>(*v);
  if (auto v = r.integer(root["max_length"], "max_length", 1, 1LL << 32)) p.max_length = static_cast<std::size_t>(*v);
  if (p.min_length > p.max_length) r.issue(root["min_length"], "min_length", "exceeds max_length");

  // channels
  const auto ch = root["channels"];
  if (!ch.IsDefined()) {
    r.issue(root, "channels", "missing");
  } else if (!ch.IsSequence() || ch.size() == 0) {
    r.issue(ch, "channels", "expected a non-empty list of channels");
  } else {
    std::set<int> numbers;
    for (std::size_t i = 0; i < ch.size(); ++i) {
      const std::string k = "channels[" + std::to_string(i) + "]";
      const auto c = ch[i];
      if (!c.IsMap()) {
        r.issue(c, k, "expected a mapping with number, name, min_volts, max_volts");
        continue;
      }
      r.allowed_keys(c, k, {"number", "name", "min_volts", "max_volts"});
      Channel out;
      if (auto v = r.integer(c["number"], k + ".number", 1, 1000)) {
        out.number = static_cast<int>(*v);
        if (!numbers.insert(out.number).second) r.issue(c["number"], k + ".number", "channel listed twice");
      } else if (!c["number"].IsDefined()) {
        r.issue(c, k + ".number", "missing");
      }
      if (auto v = r.text(c["name"], k + ".name")) out.name = *v;
      out.min_volts = r.number(c["min_volts"], k + ".min_volts");
      out.max_volts = r.number(c["max_volts"], k + ".max_volts");
      p.channels.push_back(out);
    }
  }

  // levels[setting][channel]
  const auto lv = root["levels"];
  bool levels_ok = false;
  if (!lv.IsDefined()) {
    r.issue(root, "levels", "missing (one row of volts per setting, one entry per channel)");
  } else if (!lv.IsSequence()) {
    r.issue(lv, "levels", "expected a list with one row per setting");
  } else {
    levels_ok = true;
    if (lv.size() != static_cast<std::size_t>(p.settings)) {
      r.issue(lv, "levels", std::to_string(lv.size()) + " rows for " + std::to_string(p.settings) + " settings");
      levels_ok = false;
    }
    for (std::size_t s = 0; s < lv.size(); ++s) {
      const std::string k = "levels[" + std::to_string(s) + "]";
      const auto row = lv[s];
      if (!row.IsSequence() || row.size() != p.channels.size()) {
        r.issue(row, k, "expected " + std::to_string(p.channels.size()) + " volts (one per channel)");
        levels_ok = false;
        continue;
      }
      std::vector<double> out;
      for (std::size_t c = 0; c < row.size(); ++c) {
        const std::string kc = k + "[" + std::to_string(c) + "]";
        const auto v = r.number(row[c], kc);
        if (!v) {
          levels_ok = false;
          continue;
        }
        const auto& chan = p.channels[c];
        if ((chan.min_volts && *v < *chan.min_volts) || (chan.max_volts && *v > *chan.max_volts))
          r.issue(row[c], kc,
                  format_number(*v) + " V outside channel " + std::to_string(chan.number) + "'s range [" +
                      (chan.min_volts ? format_number(*chan.min_volts) : "-inf") + ", " +
                      (chan.max_volts ? format_number(*chan.max_volts) : "inf") + "] V");
        out.push_back(*v);
      }
      p.levels.push_back(out);
    }
  }
  if (!levels_ok) p.levels.clear();

  // commands
  const auto cm = root["commands"];
  if (!cm.IsDefined() || !cm.IsMap()) {
    r.issue(cm.IsDefined() ? cm : root, "commands", "missing (a mapping of SCPI command templates)");
  } else {
    r.allowed_keys(cm, "commands",
                   {"identify", "reset", "setup", "segment", "sequence", "trigger", "arm", "error_query"});
    auto one = [&](const char* key, Group g, std::string& out) {
      if (auto v = r.text(cm[key], std::string("commands.") + key))
        if (r.check_template(cm[key], std::string("commands.") + key, *v, g)) out = *v;
    };
    one("identify", Group::identify, p.commands.identify);
    one("error_query", Group::error_query, p.commands.error_query);
    p.commands.reset = r.templates(cm["reset"], "commands.reset", Group::reset);
    p.commands.setup = r.templates(cm["setup"], "commands.setup", Group::setup);
    p.commands.segment = r.templates(cm["segment"], "commands.segment", Group::segment);
    p.commands.sequence = r.templates(cm["sequence"], "commands.sequence", Group::sequence);
    p.commands.trigger = r.templates(cm["trigger"], "commands.trigger", Group::trigger);
    p.commands.arm = r.templates(cm["arm"], "commands.arm", Group::arm);
    bool uploads = false;
    for (const auto& t : p.commands.sequence)
      for (const auto& ph : placeholders(t))
        if (ph == "settings" || ph == "segments" || ph == "levels" || ph == "normalized") uploads = true;
    if (!uploads)
      r.issue(cm["sequence"].IsDefined() ? cm["sequence"] : cm, "commands.sequence",
              "no command uses {settings}, {segments}, {levels} or {normalized}: the schedule would never be sent");
  }

  if (auto v = r.text(root["check_errors"], "check_errors")) {
    if (*v == "each_command")
      p.check_errors = ErrorCheck::each_command;
    else if (*v == "each_group")
      p.check_errors = ErrorCheck::each_group;
    else
      r.issue(root["check_errors"], "check_errors", "'" + *v + "' is not one of: each_command, each_group");
  }

  const auto rb = root["readback"];
  if (rb.IsDefined()) {
    if (!rb.IsMap()) {
      r.issue(rb, "readback", "expected a mapping with mode (marker | step_count)");
    } else {
      r.allowed_keys(rb, "readback", {"mode", "query", "marker_channel"});
      const auto mode = r.text(rb["mode"], "readback.mode");
      if (!mode) {
        if (!rb["mode"].IsDefined()) r.issue(rb, "readback.mode", "missing (marker | step_count)");
      } else if (*mode == "marker") {
        p.readback = Readback::marker;
      } else if (*mode == "step_count") {
        p.readback = Readback::step_count;
      } else {
        r.issue(rb["mode"], "readback.mode", "'" + *mode + "' is not one of: marker, step_count");
      }
      if (auto q = r.text(rb["query"], "readback.query"))
        if (r.check_template(rb["query"], "readback.query", *q, Group::readback_query)) p.readback_query = *q;
      if (p.readback == Readback::step_count && p.readback_query.empty() && !rb["query"].IsDefined())
        r.issue(rb, "readback.query", "missing (step_count needs the query that returns the step count)");
      if (auto m = r.integer(rb["marker_channel"], "readback.marker_channel", 0, 1 << 20))
        p.marker_channel = static_cast<int>(*m);
    }
  }

  const auto dv = root["delivery"];
  if (dv.IsDefined()) {
    if (!dv.IsMap()) {
      r.issue(dv, "delivery", "expected a mapping with mode (streaming | segment)");
    } else {
      r.allowed_keys(dv, "delivery", {"mode", "segment_trials", "confirm", "confirm_reply"});
      const auto mode = r.text(dv["mode"], "delivery.mode");
      if (!mode) {
        if (!dv["mode"].IsDefined())
          r.issue(dv, "delivery.mode", "missing (segment: a sequence memory; streaming: none)");
      } else if (*mode == "segment") {
        p.delivery = hal::SettingDelivery::segment;
      } else if (*mode == "streaming") {
        p.delivery = hal::SettingDelivery::streaming;
      } else {
        r.issue(dv["mode"], "delivery.mode", "'" + *mode + "' is not one of: segment, streaming");
      }
      if (auto v = r.integer(dv["segment_trials"], "delivery.segment_trials", 1, 1LL << 32)) {
        if (p.delivery != hal::SettingDelivery::segment)
          r.issue(dv["segment_trials"], "delivery.segment_trials", "only for mode: segment");
        else if (static_cast<std::size_t>(*v) > p.max_length || static_cast<std::size_t>(*v) < p.min_length)
          r.issue(dv["segment_trials"], "delivery.segment_trials",
                  std::to_string(*v) + " outside the sequence lengths the instrument accepts [" +
                      std::to_string(p.min_length) + ", " + std::to_string(p.max_length) + "]");
        else
          p.segment_trials = static_cast<std::size_t>(*v);
      }
      if (auto q = r.text(dv["confirm"], "delivery.confirm")) {
        if (q->empty())
          r.issue(dv["confirm"], "delivery.confirm", "empty (leave the key out when the instrument has no such query)");
        else if (r.check_template(dv["confirm"], "delivery.confirm", *q, Group::confirm))
          p.confirm_query = *q;
      }
      if (auto a = r.text(dv["confirm_reply"], "delivery.confirm_reply")) {
        if (!dv["confirm"].IsDefined())
          r.issue(dv["confirm_reply"], "delivery.confirm_reply", "given without delivery.confirm");
        else if (r.check_template(dv["confirm_reply"], "delivery.confirm_reply", *a, Group::confirm_reply))
          p.confirm_reply = *a;
      }
    }
  }
  if (p.delivery == hal::SettingDelivery::segment && p.segment_trials == 0) p.segment_trials = p.max_length;

  if (!r.issues().empty()) throw ProfileError(r.issues());
  return p;
}

}  // namespace

std::filesystem::path resolve_profile(const std::string& name) {
  if (conf::names_a_path(name)) {
    if (std::filesystem::exists(name)) return name;
    throw ProfileError({conf::ConfigIssue{name, 0, 0, "", "no such file"}});
  }
  if (auto f = conf::find_config("devices", name)) return *f;
  std::string known;
  for (const auto& k : known_profiles()) known += (known.empty() ? "" : ", ") + k;
  throw ProfileError({conf::ConfigIssue{name, 0, 0, "",
                                        "unknown instrument profile '" + name + "'; known: " +
                                            (known.empty() ? "(none found; set DIRA_CONFIG_DIR)" : known)}});
}

std::vector<std::string> known_profiles() {
  return conf::known_configs("devices");
}

Profile load_profile(const std::string& name_or_path) {
  const auto path = resolve_profile(name_or_path);
  return parse_profile(conf::read_config_file(path), path.string());
}

namespace {

struct Expander {
  const Profile& p;
  std::map<std::string, std::string> common;  // values that do not depend on channel or setting
  std::vector<Command>& out;

  std::map<std::string, std::string> channel_values(std::size_t c) const {
    auto v = common;
    v["ch"] = std::to_string(p.channels[c].number);
    v["low"] = format_number(p.low(c));
    v["high"] = format_number(p.high(c));
    return v;
  }
  double normalized(std::size_t c, int s) const {
    // Position of the level between the channel's lowest (-1) and highest (+1) level: the
    // normalized sample format of ARB memories (amplitude and offset set from {low}/{high}).
    const double lo = p.low(c), hi = p.high(c);
    return hi > lo ? 2 * (p.levels[static_cast<std::size_t>(s)][c] - lo) / (hi - lo) - 1 : 0.0;
  }
  void emit(const std::string& text, Group g) { out.push_back(Command{text, is_query(text), group_name(g)}); }

  void group(const std::vector<std::string>& templates, Group g,
             const std::function<void(std::map<std::string, std::string>&, std::size_t)>& per_channel = {}) {
    for (const auto& t : templates) {
      if (!channel_scoped(t)) {
        emit(substitute(t, common), g);
        continue;
      }
      for (std::size_t c = 0; c < p.channels.size(); ++c) {
        auto v = channel_values(c);
        if (per_channel) per_channel(v, c);
        emit(substitute(t, v), g);
      }
    }
  }
};

}  // namespace

std::vector<Command> open_commands(const Profile& p, bool reset) {
  std::vector<Command> out;
  Expander e{p, {}, out};
  if (reset) e.group(p.commands.reset, Group::reset);
  e.group(p.commands.setup, Group::setup);
  // Segment templates: once per setting; per channel (outer loop) if they name one.
  for (const auto& t : p.commands.segment) {
    const std::size_t channels = channel_scoped(t) ? p.channels.size() : 1;
    for (std::size_t c = 0; c < channels; ++c)
      for (int s = 0; s < p.settings; ++s) {
        auto v = channel_scoped(t) ? e.channel_values(c) : e.common;
        v["setting"] = std::to_string(s);
        v["segment"] = std::to_string(s + p.segment_offset);
        if (channel_scoped(t)) {
          v["level"] = format_number(p.levels[static_cast<std::size_t>(s)][c]);
          v["normalized_level"] = format_number(e.normalized(c, s));
        }
        e.emit(substitute(t, v), Group::segment);
      }
  }
  return out;
}

std::string expected_confirm_reply(const Profile& p, std::uint64_t first_trial, std::size_t length) {
  return substitute(p.confirm_reply,
                    {{"length", std::to_string(length)}, {"first_trial", std::to_string(first_trial)}});
}

std::vector<Command> schedule_commands(const Profile& p, std::uint64_t first_trial,
                                       std::span<const std::uint8_t> settings) {
  const std::size_t longest = p.delivery == hal::SettingDelivery::segment ? p.segment_trials : p.max_length;
  if (settings.size() < p.min_length || settings.size() > longest)
    throw std::invalid_argument("schedule of " + std::to_string(settings.size()) + " trials: instrument profile '" +
                                p.name + "' accepts " +
                                (p.delivery == hal::SettingDelivery::segment ? "segments" : "sequences") + " of " +
                                std::to_string(p.min_length) + " to " + std::to_string(longest) + " steps");
  for (std::size_t i = 0; i < settings.size(); ++i)
    if (settings[i] >= p.settings)
      throw std::invalid_argument("setting " + std::to_string(settings[i]) + " at schedule position " +
                                  std::to_string(i) + " is not a label 0.." + std::to_string(p.settings - 1) +
                                  " of profile '" + p.name + "'");
  std::vector<Command> out;
  Expander e{p, {}, out};
  std::vector<std::string> labels, segments;
  for (int s = 0; s < p.settings; ++s) {
    labels.push_back(std::to_string(s));
    segments.push_back(std::to_string(s + p.segment_offset));
  }
  e.common["length"] = std::to_string(settings.size());
  e.common["first_trial"] = std::to_string(first_trial);
  e.common["settings"] = join_values(labels, settings);
  e.common["segments"] = join_values(segments, settings);
  std::vector<std::string> ch_levels, ch_normalized;  // per channel, the whole schedule
  for (std::size_t c = 0; c < p.channels.size(); ++c) {
    std::vector<std::string> volts, norm;
    for (int s = 0; s < p.settings; ++s) {
      volts.push_back(format_number(p.levels[static_cast<std::size_t>(s)][c]));
      norm.push_back(format_number(e.normalized(c, s)));
    }
    ch_levels.push_back(join_values(volts, settings));
    ch_normalized.push_back(join_values(norm, settings));
  }
  auto per_channel = [&](std::map<std::string, std::string>& v, std::size_t c) {
    v["levels"] = ch_levels[c];
    v["normalized"] = ch_normalized[c];
  };
  e.group(p.commands.sequence, Group::sequence, per_channel);
  e.group(p.commands.trigger, Group::trigger, per_channel);
  e.group(p.commands.arm, Group::arm, per_channel);
  return out;
}

}  // namespace dira::drivers::scpi_modulator
