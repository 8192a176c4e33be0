// usbtmc-awg: lifecycle and configuration (libsigrok's "api" half); the SCPI text comes from
// profile.cpp, the bytes go through usbtmc::Connection.
#include "dira/drivers/scpi_modulator/modulator.hpp"

#include "dira/drivers/usbtmc/fake_instrument.hpp"
#include "dira/drivers/usbtmc/libusb_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace dira::drivers {

namespace scpi_modulator {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

/// Long commands (a whole schedule) shortened for error messages.
std::string shown(const std::string& text) {
  if (text.size() <= 100) return "'" + text + "'";
  return "'" + text.substr(0, 60) + "…' (" + std::to_string(text.size()) + " bytes)";
}

/// The integer at the start of an instrument reply ("+0,\"No error\"", "-222,…", "+17").
std::optional<long long> leading_integer(const std::string& s) {
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(b, &end, 10);
  if (end == b || errno) return std::nullopt;
  return v;
}

const char* to_string(Readback r) {
  return r == Readback::marker ? "marker" : "step_count";
}

}  // namespace

std::vector<hal::Capability> capabilities() {
  using hal::read_only;
  return {
      hal::text_setting(
          "resource", "",
          "USB device: VID:PID[:SERIAL] in hex (0957:2807:MY123) or VISA USB0::0x0957::0x2807::MY123::INSTR; "
          "'fake' = in-process fake instrument, no hardware; default: the profile's resource"),
      hal::text_setting("profile", "awg-generic",
                        "instrument profile: a name in config/devices/ or a path to a YAML file (docs/usbtmc.md)"),
      hal::integer_setting("timeout_ms", "ms", 1.0, 600000.0, 2000,
                           "USB transfer timeout; default: the profile's timeout_ms"),
      hal::bool_setting("reset_on_open", true, "send the profile's reset commands when the device is opened"),
      // What the instrument profile fixes: reported, never set.
      read_only(
          hal::integer_setting("channels", "", std::nullopt, std::nullopt, 1, "output channels the profile drives")),
      read_only(hal::integer_setting("settings", "", std::nullopt, std::nullopt, 2,
                                     "setting labels 0..S-1 the profile maps to levels")),
      read_only(hal::real_setting("settling_time_ns", "ns", std::nullopt, std::nullopt, 0.0,
                                  "time after a trial-clock edge before the level is valid (profile)")),
      read_only(hal::choice_setting(
          "readback", {"marker", "step_count"}, "marker",
          "marker: the applied setting is echoed on a tagger channel; step_count: queried from the instrument")),
      read_only(hal::choice_setting(
          "delivery", {"streaming", "segment"}, "streaming",
          "segment: schedules fill the instrument's sequence memory (upload, confirm, arm, play exactly those "
          "trials); streaming: each schedule is uploaded and armed at once (profile's delivery.mode)")),
      read_only(hal::integer_setting(
          "segment_trials", "trials", std::nullopt, std::nullopt, 0,
          "segment delivery: trials one segment (the sequence memory) holds; 0 for streaming (profile)")),
  };
}

ScpiModulator::ScpiModulator(Profile profile, std::unique_ptr<usbtmc::Transport> transport, Options options)
    : profile_(std::move(profile)), options_(std::move(options)) {
  usbtmc::ConnectionOptions co;
  co.timeout = options_.timeout.count() > 0 ? options_.timeout : std::chrono::milliseconds(profile_.timeout_ms);
  options_.timeout = co.timeout;
  connection_ = std::make_unique<usbtmc::Connection>(std::move(transport), co);
  Command identify{profile_.commands.identify, true, "identify"};
  try {
    identity_ = trim(connection_->query(identify.text + profile_.terminator));
  } catch (const hal::HardwareFault& e) {
    throw hal::HardwareFault("usbtmc-awg: " + shown(identify.text) + " to " + connection_->info().description +
                             " failed: " + e.what());
  }
  if (identity_.empty()) identity_ = connection_->info().description;
  identity_ += " [profile " + profile_.name + "]";
  run(open_commands(profile_, options_.reset_on_open));
}

const std::vector<hal::Capability>& ScpiModulator::capabilities() const {
  static const auto caps = scpi_modulator::capabilities();
  return caps;
}

void ScpiModulator::set(const std::string& key, const hal::SettingValue& value) {
  const auto& caps = capabilities();
  const auto it = std::find_if(caps.begin(), caps.end(), [&](const hal::Capability& c) { return c.key == key; });
  if (it == caps.end()) throw std::invalid_argument("usbtmc-awg: unknown setting '" + key + "'");
  if (auto msg = hal::check_value(*it, value); !msg.empty())
    throw std::invalid_argument("usbtmc-awg: " + key + ": " + msg);
  if (key == "timeout_ms") {
    options_.timeout = std::chrono::milliseconds(std::get<std::int64_t>(value));
    connection_->options().timeout = options_.timeout;
    return;
  }
  throw std::invalid_argument("usbtmc-awg: '" + key + "' is fixed when the device is created");
}

hal::SettingValue ScpiModulator::get(const std::string& key) const {
  if (key == "resource") return options_.resource;
  if (key == "profile") return profile_.name;
  if (key == "timeout_ms") return static_cast<std::int64_t>(options_.timeout.count());
  if (key == "reset_on_open") return options_.reset_on_open;
  if (key == "channels") return static_cast<std::int64_t>(profile_.channels.size());
  if (key == "settings") return static_cast<std::int64_t>(profile_.settings);
  if (key == "settling_time_ns") return profile_.settling_time_ns;
  if (key == "readback") return std::string(to_string(profile_.readback));
  if (key == "delivery") return std::string(hal::to_string(profile_.delivery));
  if (key == "segment_trials") return static_cast<std::int64_t>(segment_capacity());
  throw std::invalid_argument("usbtmc-awg: unknown setting '" + key + "'");
}

void ScpiModulator::send(const Command& c) {
  const std::string prefix = "usbtmc-awg (" + profile_.name + "): " + shown(c.text) + ": ";
  try {
    if (c.query)
      (void)connection_->query(c.text + profile_.terminator);
    else
      connection_->write(c.text + profile_.terminator);
  } catch (const usbtmc::TimeoutError& e) {
    throw usbtmc::TimeoutError(prefix + e.what());
  } catch (const hal::HardwareFault& e) {
    throw hal::HardwareFault(prefix + e.what());
  }
}

void ScpiModulator::check_errors(const std::string& after) {
  // SCPI-99 (vol. 2, SYSTem:ERRor[:NEXT]?): "<code>,\"<text>\"", code 0 = queue empty. Read until
  // empty so the next check starts clean, and report everything that was there.
  std::vector<std::string> errors;
  for (int i = 0; i < 32; ++i) {
    std::string reply;
    try {
      reply = trim(connection_->query(profile_.commands.error_query + profile_.terminator));
    } catch (const usbtmc::TimeoutError& e) {
      throw usbtmc::TimeoutError("usbtmc-awg (" + profile_.name + "): " + shown(profile_.commands.error_query) +
                                 " after " + after + ": " + e.what());
    }
    const auto code = leading_integer(reply);
    if (!code)
      throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): unexpected reply '" + reply + "' to " +
                               shown(profile_.commands.error_query) + " after " + after);
    if (*code == 0) break;
    errors.push_back(reply);
  }
  if (errors.empty()) return;
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
  throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): instrument reported " + all + " after " + after);
}

void ScpiModulator::run(const std::vector<Command>& commands) {
  std::vector<std::string> group_texts;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const auto& c = commands[i];
    send(c);
    if (profile_.check_errors == ErrorCheck::each_command) {
      check_errors(shown(c.text));
      continue;
    }
    group_texts.push_back(shown(c.text));
    if (i + 1 == commands.size() || commands[i + 1].group != c.group) {
      std::string list;
      for (const auto& t : group_texts) list += (list.empty() ? "" : ", ") + t;
      check_errors("the '" + c.group + "' commands (" + list + ")");
      group_texts.clear();
    }
  }
}

void ScpiModulator::schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) {
  auto commands = schedule_commands(profile_, first_trial, settings);
  // Whatever was loaded before is replaced: nothing is confirmed or armed until this upload is.
  scheduled_.clear();
  reported_ = 0;
  confirmed_ = false;
  armed_ = false;
  arm_commands_.clear();
  if (profile_.delivery == hal::SettingDelivery::segment) {
    // Segment mode: the arm group waits for arm(), after confirm() (hal::SettingScheduler's
    // upload → confirm → arm), so the apparatus never plays a segment that is not fully loaded.
    const auto first_arm =
        std::stable_partition(commands.begin(), commands.end(), [](const Command& c) { return c.group != "arm"; });
    arm_commands_.assign(first_arm, commands.end());
    commands.erase(first_arm, commands.end());
  }
  run(commands);
  first_trial_ = first_trial;
  scheduled_.assign(settings.begin(), settings.end());
  armed_ = profile_.delivery == hal::SettingDelivery::streaming;
}

std::uint64_t ScpiModulator::segment_capacity() const {
  return profile_.delivery == hal::SettingDelivery::segment ? profile_.segment_trials : 0;
}

bool ScpiModulator::confirm(std::uint64_t end) {
  if (end <= first_trial_) return true;  // earlier uploads: confirmed (and played) before this one replaced them
  if (end > first_trial_ + scheduled_.size()) return false;  // not uploaded yet: the caller must schedule() first
  if (confirmed_) return true;
  if (profile_.confirm_query.empty()) {
    // The profile names no query that tells when the upload is complete: schedule() returning
    // without an instrument error is all we know (docs/usbtmc.md, "Delivery modes").
    confirmed_ = true;
    return true;
  }
  const std::string expected = expected_confirm_reply(profile_, first_trial_, scheduled_.size());
  std::string reply;
  try {
    reply = trim(connection_->query(profile_.confirm_query + profile_.terminator));
  } catch (const usbtmc::TimeoutError& e) {
    throw usbtmc::TimeoutError("usbtmc-awg (" + profile_.name + "): " + shown(profile_.confirm_query) + ": " +
                               e.what());
  }
  // A reply other than the expected one is not "not yet": *OPC? blocks until the upload is done,
  // and a length readback that disagrees means the instrument holds something else.
  if (reply != expected)
    throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): " + shown(profile_.confirm_query) + " answered '" +
                             reply + "', expected '" + expected + "' after uploading trials " +
                             std::to_string(first_trial_) + ".." + std::to_string(first_trial_ + scheduled_.size()));
  confirmed_ = true;
  return true;
}

void ScpiModulator::arm() {
  if (profile_.delivery != hal::SettingDelivery::segment) return;  // streaming: schedule() armed already
  if (scheduled_.empty()) throw std::logic_error("usbtmc-awg (" + profile_.name + "): arm() before schedule()");
  if (!confirmed_)
    throw std::logic_error("usbtmc-awg (" + profile_.name + "): arm() before confirm() of trials " +
                           std::to_string(first_trial_) + ".." + std::to_string(first_trial_ + scheduled_.size()));
  if (armed_) throw std::logic_error("usbtmc-awg (" + profile_.name + "): segment armed twice");
  run(arm_commands_);
  armed_ = true;
  reported_ = 0;  // step counts are counted from arming
}

std::vector<hal::AppliedSetting> ScpiModulator::readback() {
  if (profile_.readback == Readback::marker || scheduled_.empty() || !armed_) return {};
  std::string reply;
  try {
    reply = trim(connection_->query(profile_.readback_query + profile_.terminator));
  } catch (const usbtmc::TimeoutError& e) {
    throw usbtmc::TimeoutError("usbtmc-awg (" + profile_.name + "): " + shown(profile_.readback_query) + ": " +
                               e.what());
  }
  const auto steps = leading_integer(reply);
  if (!steps || *steps < 0)
    throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): " + shown(profile_.readback_query) + " answered '" +
                             reply + "', expected a step count");
  const auto k = static_cast<std::size_t>(*steps);
  if (k < reported_)
    throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): instrument reports " + std::to_string(k) +
                             " steps, fewer than the " + std::to_string(reported_) +
                             " already reported (reset or re-armed behind our back?)");
  if (k > scheduled_.size())
    throw hal::HardwareFault("usbtmc-awg (" + profile_.name + "): instrument reports " + std::to_string(k) +
                             " steps but the uploaded sequence has " + std::to_string(scheduled_.size()) +
                             " (extra trigger edges: later trials got wrapped-around settings)");
  std::vector<hal::AppliedSetting> out;
  for (std::size_t i = reported_; i < k; ++i) out.push_back({first_trial_ + i, scheduled_[i]});
  reported_ = k;
  return out;
}

std::unique_ptr<hal::Device> create(const std::map<std::string, hal::SettingValue>& settings) {
  const auto caps = capabilities();
  // Not a structured binding: clang 14 cannot capture one in the lambda below (C++20 allows it, P1091/P1381).
  for (const auto& setting : settings) {
    const std::string& key = setting.first;
    const hal::SettingValue& value = setting.second;
    const auto it = std::find_if(caps.begin(), caps.end(), [&](const hal::Capability& c) { return c.key == key; });
    if (it == caps.end() || !it->can_set) {
      std::string known;
      for (const auto& c : caps)
        if (c.can_set) known += (known.empty() ? "" : ", ") + c.key;
      throw std::invalid_argument("usbtmc-awg: " + key + ": " +
                                  (it == caps.end() ? "unknown setting" : "read-only (set by the profile)") +
                                  " (settable: " + known + ")");
    }
    if (auto msg = hal::check_value(*it, value); !msg.empty())
      throw std::invalid_argument("usbtmc-awg: " + key + ": " + msg);
  }
  auto text = [&](const char* k, std::string def) {
    const auto it = settings.find(k);
    return it == settings.end() ? def : std::get<std::string>(it->second);
  };
  auto profile = load_profile(text("profile", "awg-generic"));
  ScpiModulator::Options o;
  o.resource = text("resource", profile.resource);
  if (const auto it = settings.find("timeout_ms"); it != settings.end())
    o.timeout = std::chrono::milliseconds(std::get<std::int64_t>(it->second));
  if (const auto it = settings.find("reset_on_open"); it != settings.end())
    o.reset_on_open = std::get<bool>(it->second);
  if (o.resource.empty())
    throw std::invalid_argument("usbtmc-awg: no resource: set `resource: VID:PID[:SERIAL]` (profile '" + profile.name +
                                "' has none; `dira devices` lists what is connected)");
  std::unique_ptr<usbtmc::Transport> transport;
  if (o.resource == "fake") {
    usbtmc::FakeConfig fc;
    fc.idn = "DIRA,FAKE-AWG (in-process, no hardware),FAKE0001,1.0";
    auto fake = std::make_unique<usbtmc::FakeInstrument>(fc);
    // A fake sees no trigger edges: it has advanced 0 steps.
    if (!profile.readback_query.empty()) fake->reply(profile.readback_query, "0");
    transport = std::move(fake);
  } else {
    transport = usbtmc::open_libusb(usbtmc::parse_device_match(o.resource));
  }
  return std::make_unique<ScpiModulator>(std::move(profile), std::move(transport), std::move(o));
}

}  // namespace scpi_modulator

void register_usbtmc(hal::DriverRegistry& registry) {
  hal::DriverInfo d;
  d.name = "usbtmc-awg";
  d.kind = hal::DeviceKind::modulator;
  d.description =
      "pulse/arbitrary-waveform generator over USBTMC driving the Pockels cells; the settings schedule is uploaded "
      "as a sequence using an instrument profile (config/devices/, docs/usbtmc.md)";
  d.capabilities = scpi_modulator::capabilities();
  d.create = [](const std::map<std::string, hal::SettingValue>& s) { return scpi_modulator::create(s); };
  d.scan = [] {
    std::vector<hal::FoundDevice> out;
    for (const auto& u : usbtmc::list_usb_devices()) {
      if (!u.usbtmc) continue;
      char id[16];
      std::snprintf(id, sizeof id, "%04x:%04x", u.vendor_id, u.product_id);
      hal::FoundDevice f;
      f.driver = "usbtmc-awg";
      f.identity = u.str();
      f.detail = "resource: " + std::string(id) + (u.serial.empty() ? "" : ":" + u.serial);
      out.push_back(std::move(f));
    }
    return out;
  };
  registry.add(std::move(d));
}

}  // namespace dira::drivers
