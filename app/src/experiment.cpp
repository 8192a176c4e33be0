#include "dira/app/experiment.hpp"

#include "dira/app/devices.hpp"
#include "dira/protocol/security_b.hpp"
#include "dira/app/inequality_loader.hpp"

#include "yaml_reader.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

namespace dira::app {

using detail::Reader;

namespace {

double positive_fraction(Reader& r, const YAML::Node& n, const std::string& key, double lo, double hi, bool open_lo,
                         bool open_hi, double fallback) {
  if (!n.IsDefined()) return fallback;
  auto v = r.number(n, key);
  if (!v) return fallback;
  const bool ok = (open_lo ? *v > lo : *v >= lo) && (open_hi ? *v < hi : *v <= hi);
  if (!ok) {
    std::ostringstream os;
    os << "must be in " << (open_lo ? "(" : "[") << lo << ", " << hi << (open_hi ? ")" : "]") << ", got " << *v;
    r.issue(n, key, os.str());
    return fallback;
  }
  return *v;
}

std::uint64_t count(Reader& r, const YAML::Node& n, const std::string& key, std::uint64_t fallback) {
  if (!n.IsDefined()) return fallback;
  auto v = r.number(n, key);  // accepts 1e6
  if (!v) return fallback;
  if (!(*v >= 1) || *v > 1e15 || std::floor(*v) != *v) {
    r.issue(n, key, "must be a whole number between 1 and 1e15");
    return fallback;
  }
  return static_cast<std::uint64_t>(*v);
}

}  // namespace

ExperimentConfig load_experiment_text(std::string_view yaml, const std::string& file,
                                      const std::filesystem::path& config_dir) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw ConfigError({ConfigIssue{file, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg}});
  }
  Reader r(file);
  ExperimentConfig c;
  c.file = file;
  if (!doc.IsMap()) {
    r.issue(doc, "", "expected a YAML map at the top level");
    throw ConfigError(r.issues());
  }
  r.allowed_keys(doc, "", {"name", "inequality", "protocol", "weak_source", "security_target", "simulator", "stop", "outputs"});
  c.text = std::string(yaml);
  c.name = doc["name"] ? r.string(doc["name"], "name").value_or("") : "";
  c.security_target = positive_fraction(r, doc["security_target"], "security_target", 0, 1, true, true, 1e-6);

  const YAML::Node in = r.require(doc, "", "inequality");
  if (in.IsDefined()) {
    if (auto name = r.string(in, "inequality")) {
      c.inequality_name = *name;
      try {
        c.inequality = load_inequality_file(resolve_inequality(*name, config_dir));
      } catch (const UnknownInequality& e) {
        r.issue(in, "inequality", e.what());
      } catch (const ConfigError& e) {
        for (const auto& i : e.issues()) r.issues().push_back(i);
      }
    }
  }

  const YAML::Node p = r.require(doc, "", "protocol");
  if (p.IsDefined() && !p.IsMap()) r.issue(p, "protocol", "expected a map with kind: A or B and its parameters");
  if (p.IsMap()) {
    const auto kind = r.string(r.require(p, "protocol", "kind"), "protocol.kind");
    if (p["demonstration"]) c.demonstration = r.boolean(p["demonstration"], "protocol.demonstration").value_or(false);
    const bool have_ineq = !c.inequality.name.empty();
    if (kind == "A") {
      c.protocol = 'A';
      r.allowed_keys(p, "protocol", {"kind", "epsilon", "delta", "mu", "devices", "uses_per_device", "majority_parties",
                                     "device_mapping", "demonstration"});
      auto& a = c.a;
      a.epsilon = positive_fraction(r, p["epsilon"], "protocol.epsilon", 0, 0.5, false, true, a.epsilon);
      a.delta = positive_fraction(r, p["delta"], "protocol.delta", 0, 8, true, false, a.delta);
      a.mu = positive_fraction(r, p["mu"], "protocol.mu", 0, 1, true, true, a.mu);
      a.devices = static_cast<int>(count(r, p["devices"], "protocol.devices", static_cast<std::uint64_t>(a.devices)));
      if (const YAML::Node u = p["uses_per_device"]; u.IsDefined()) {
        if (u.IsSequence()) {
          if (static_cast<int>(u.size()) != a.devices)
            r.issue(u, "protocol.uses_per_device", "needs one entry per device (" + std::to_string(a.devices) + ")");
          for (std::size_t i = 0; i < u.size(); ++i)
            c.uses_per_device.push_back(count(r, u[i], Reader::idx("protocol.uses_per_device", i), 1));
        } else {
          c.uses_per_device.assign(static_cast<std::size_t>(a.devices), count(r, u, "protocol.uses_per_device", 1));
        }
      }
      if (p["device_mapping"]) c.device_mapping = r.string(p["device_mapping"], "protocol.device_mapping").value_or("");
      if (have_ineq && c.inequality.expression.scenario().parties() != 4)
        r.issue(p["kind"], "protocol.kind", "Protocol A needs a four-party inequality (guehne4); '" + c.inequality.name +
                                                "' has " + std::to_string(c.inequality.expression.scenario().parties()));
      // Fig. 2 step 3 needs the threshold (½−ε)^4·(δ/2)·(1−μ) to be reachable by Z_k ≥ 0,
      // and Lemma 7's bound is only informative for δ ≤ 8 (the largest Bell value).
    } else if (kind == "B") {
      c.protocol = 'B';
      r.allowed_keys(p, "protocol", {"kind", "epsilon", "delta", "mu1", "trials", "u_star", "x_star", "extractor", "demonstration"});
      auto& b = c.b;
      b.epsilon = positive_fraction(r, p["epsilon"], "protocol.epsilon", 0, 0.5, false, true, b.epsilon);
      b.delta = positive_fraction(r, p["delta"], "protocol.delta", 0, 1, false, false, b.delta);
      b.mu1 = positive_fraction(r, p["mu1"], "protocol.mu1", 0, 1, true, false, b.mu1);
      b.trials = count(r, p["trials"], "protocol.trials", b.trials);
      if (have_ineq) {
        std::vector<int> S, O;
        const auto& sc = c.inequality.expression.scenario();
        for (int q = 0; q < sc.parties(); ++q) {
          S.push_back(sc.settings(q));
          O.push_back(sc.outcomes(q));
        }
        if (p["u_star"]) {
          if (auto u = r.tuple(p["u_star"], "protocol.u_star", S, "setting")) b.u_star = *u;
        } else if (!c.inequality.events.empty()) {
          b.u_star = c.inequality.events[0].setting;
        }
        if (p["x_star"]) {
          if (auto x = r.tuple(p["x_star"], "protocol.x_star", O, "outcome")) b.x_star = *x;
        } else if (!c.inequality.events.empty()) {
          b.x_star = c.inequality.events[0].event;
        }
        if (sc.valid_setting(b.u_star) && sc.valid_outcome(b.x_star) &&
            c.inequality.expression.coefficient(sc.index(b.u_star, b.x_star)) != 0)
          r.issue(p["x_star"] ? p["x_star"] : p, "protocol.x_star", "(u*, x*) is a term of the Bell expression: it has probability 0 at maximal violation");
      }
      if (const YAML::Node e = p["extractor"]; e.IsDefined()) {
        r.allowed_keys(e, "protocol.extractor", {"kind", "log2_error", "side_information"});
        if (e["kind"]) {
          c.extractor.kind = r.string(e["kind"], "protocol.extractor.kind").value_or("auto");
          if (c.extractor.kind != "auto" && c.extractor.kind != "dodis" && c.extractor.kind != "circulant")
            r.issue(e["kind"], "protocol.extractor.kind", "must be auto, dodis or circulant");
        }
        if (e["log2_error"]) {
          auto v = r.number(e["log2_error"], "protocol.extractor.log2_error");
          if (v && !(*v < 0 && *v >= -1000)) r.issue(e["log2_error"], "protocol.extractor.log2_error", "must be in [-1000, 0)");
          else if (v) c.extractor.log2_error = *v;
        }
        if (e["side_information"])
          c.extractor.side_information = r.boolean(e["side_information"], "protocol.extractor.side_information").value_or(true);
      }
    } else if (kind) {
      r.issue(p["kind"], "protocol.kind", "must be A or B, got '" + *kind + "'");
    }
  }

  if (const YAML::Node w = doc["weak_source"]; w.IsDefined()) {
    r.allowed_keys(w, "weak_source", {"kind", "bias", "epsilon", "seed", "path", "avoid_setting"});
    auto& s = c.weak_source;
    if (w["kind"]) {
      s.kind = r.string(w["kind"], "weak_source.kind").value_or("iid");
      if (s.kind != "iid" && s.kind != "adversarial" && s.kind != "file")
        r.issue(w["kind"], "weak_source.kind", "must be iid, adversarial or file");
    }
    if (w["bias"]) s.bias = positive_fraction(r, w["bias"], "weak_source.bias", -0.5, 0.5, true, true, 0);
    if (w["epsilon"]) s.epsilon = positive_fraction(r, w["epsilon"], "weak_source.epsilon", 0, 0.5, false, true, 0);
    if (w["seed"]) s.seed = count(r, w["seed"], "weak_source.seed", 1);
    if (w["path"]) s.path = r.string(w["path"], "weak_source.path").value_or("");
    if (s.kind == "file" && s.path.empty()) r.issue(w, "weak_source.path", "a file source needs a path");
    if (w["avoid_setting"] && !c.inequality.name.empty()) {
      std::vector<int> S;
      for (int q = 0; q < c.inequality.expression.scenario().parties(); ++q) S.push_back(c.inequality.expression.scenario().settings(q));
      if (auto u = r.tuple(w["avoid_setting"], "weak_source.avoid_setting", S, "setting")) s.avoid_setting = *u;
    }
    const double eps = c.protocol == 'A' ? c.a.epsilon : c.b.epsilon;
    if (s.kind == "iid" && std::fabs(s.bias) > eps + 1e-12) {
      std::ostringstream os;
      os << "|bias| = " << std::fabs(s.bias) << " exceeds the protocol's ε = " << eps
         << ": the source would not be the ε-SV source the security statement assumes";
      r.issue(w["bias"], "weak_source.bias", os.str());
    }
  }
  // The protocol's own security conditions (seed 001 eq. 87 and completeness), unless the
  // file declares itself a demonstration.
  if (r.ok() && c.protocol == 'B' && !c.demonstration && !c.inequality.name.empty()) {
    protocol::ProtocolBSecurityInput sec;
    sec.epsilon = c.b.epsilon;
    sec.trials = static_cast<double>(c.b.trials);
    sec.delta = c.b.delta;
    sec.mu1 = c.b.mu1;
    sec.u_star = c.b.u_star;
    const auto k = protocol::protocol_b_constants(sec);
    for (const auto& v : k.violations)
      r.issue(p, "protocol", v + " (set protocol.demonstration: true to run anyway; dira plan --protocol B shows valid parameters)");
  }
  if (const YAML::Node sim = doc["simulator"]; sim.IsDefined()) {
    // Settings of driver `sim`, typed and range-checked by its capability declarations.
    if (!sim.IsMap()) {
      r.issue(sim, "simulator", "expected a map of simulator settings (dira devices lists them)");
    } else {
      c.simulator.present = true;
      const auto* driver = driver_registry().find("sim", hal::DeviceKind::time_tagger);
      for (const auto& kv : sim) {
        const std::string key = kv.first.as<std::string>();
        const std::string path = "simulator." + key;
        const hal::Capability* cap = nullptr;
        if (driver)
          for (const auto& cp : driver->capabilities)
            if (cp.key == key) cap = &cp;
        if (!cap) {
          std::string known;
          if (driver)
            for (const auto& cp : driver->capabilities) known += (known.empty() ? "" : ", ") + cp.key;
          r.issue(kv.first, path, "unknown simulator setting (known: " + known + ")");
          continue;
        }
        hal::SettingValue v;
        bool ok = true;
        switch (cap->type) {
          case hal::Capability::Type::boolean: {
            auto b = r.boolean(kv.second, path);
            ok = b.has_value();
            if (b) v = *b;
            break;
          }
          case hal::Capability::Type::integer: {
            auto x = r.number(kv.second, path);  // accepts 1e6
            ok = x && std::floor(*x) == *x;
            if (x && !ok) r.issue(kv.second, path, "expected a whole number");
            if (ok) v = static_cast<std::int64_t>(*x);
            break;
          }
          case hal::Capability::Type::real: {
            auto x = r.number(kv.second, path);
            ok = x.has_value();
            if (x) v = *x;
            break;
          }
          default: {
            auto t = r.string(kv.second, path);
            ok = t.has_value();
            if (t) v = *t;
          }
        }
        if (!ok) continue;
        if (auto msg = hal::check_value(*cap, v); !msg.empty()) {
          r.issue(kv.second, path, msg);
          continue;
        }
        c.simulator.settings[key] = v;
      }
    }
  }
  if (const YAML::Node st = doc["stop"]; st.IsDefined()) {
    r.allowed_keys(st, "stop", {"trials", "duration_s"});
    if (st["trials"]) c.stop.max_trials = count(r, st["trials"], "stop.trials", 0);
    if (st["duration_s"]) c.stop.duration_s = positive_fraction(r, st["duration_s"], "stop.duration_s", 0, 1e9, true, false, 0);
  }
  if (const YAML::Node o = doc["outputs"]; o.IsDefined()) {
    r.allowed_keys(o, "outputs", {"directory", "raw_tags"});
    if (o["directory"]) c.outputs.directory = r.string(o["directory"], "outputs.directory").value_or("runs");
    if (o["raw_tags"]) c.outputs.raw_tags = r.boolean(o["raw_tags"], "outputs.raw_tags").value_or(false);
  }
  if (!r.ok()) throw ConfigError(r.issues());
  return c;
}

ExperimentConfig load_experiment_file(const std::filesystem::path& path, const std::filesystem::path& config_dir) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({ConfigIssue{path.string(), 0, 0, "", "cannot read file"}});
  std::ostringstream os;
  os << in.rdbuf();
  return load_experiment_text(os.str(), path.string(), config_dir);
}

}  // namespace dira::app
