// The built-in modulators of driver `sim` (docs/simulator.md, "Modulators and delivery").
#include "modulator.hpp"

#include "settings.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dira::sim {

namespace detail {

void ModulatorBank::configure(int parties, const std::array<int, protocol::kMaxParties>& settings_per_party,
                              hal::SettingDelivery mode, std::uint64_t segment_capacity) {
  parties_ = parties;
  nset_ = settings_per_party;
  mode_ = mode;
  capacity_ = segment_capacity;
  reset();
}

void ModulatorBank::reset() {
  for (auto& l : lanes_) l = Lane{};
  played_ = 0;
}

void ModulatorBank::schedule(int party, std::uint64_t first, std::span<const std::uint8_t> settings, bool idle) {
  if (party < 0 || party >= parties_) throw std::logic_error("sim modulator: no party " + std::to_string(party));
  Lane& l = lanes_[static_cast<std::size_t>(party)];
  const std::string who = "sim modulator of party " + std::to_string(party);
  if (first != l.end) {
    // A new run (the scheduler primes from trial 0 before the tagger starts): start over.
    if (first == 0 && idle) {
      l = Lane{};
      played_ = 0;
    } else {
      throw std::invalid_argument(who + ": settings for trial " + std::to_string(first) + " arrived, trial " +
                                  std::to_string(l.end) + " was expected next (settings are taken in order)");
    }
  }
  const int n = nset_[static_cast<std::size_t>(party)];
  for (std::size_t k = 0; k < settings.size(); ++k)
    if (settings[k] >= n)
      throw std::invalid_argument(who + " was given setting " + std::to_string(settings[k]) + " in trial " +
                                  std::to_string(first + k) + " (it has " + std::to_string(n) + " settings)");
  if (mode_ == hal::SettingDelivery::segment) {
    // The sequence memory holds one segment: a new one starts after the last was armed, and
    // only once the apparatus has played it (an AWG cannot rewrite the sequence it is playing).
    if (l.armed == l.end) {
      if (played_ < l.armed)
        throw std::logic_error(who + ": segment upload while the armed segment still plays (played " +
                               std::to_string(played_) + " of " + std::to_string(l.armed) + " trials)");
      l.segment_first = l.end;
    }
    if (l.end + settings.size() - l.segment_first > capacity_)
      throw std::invalid_argument(who + ": a segment of " + std::to_string(l.end + settings.size() - l.segment_first) +
                                  " trials exceeds the sequence memory (segment_trials = " + std::to_string(capacity_) +
                                  ")");
  }
  // Drop what was played before appending, so the buffer holds about one look-ahead.
  if (l.head > 4096 && l.head * 2 > l.buf.size()) {
    l.buf.erase(l.buf.begin(), l.buf.begin() + static_cast<std::ptrdiff_t>(l.head));
    l.head = 0;
  }
  l.buf.insert(l.buf.end(), settings.begin(), settings.end());
  l.end += settings.size();
}

void ModulatorBank::arm(int party) {
  if (party < 0 || party >= parties_) throw std::logic_error("sim modulator: no party " + std::to_string(party));
  Lane& l = lanes_[static_cast<std::size_t>(party)];
  l.armed = l.end;
}

std::uint64_t ModulatorBank::playable_end() const {
  std::uint64_t end = UINT64_MAX;
  for (int p = 0; p < parties_; ++p) {
    const Lane& l = lanes_[static_cast<std::size_t>(p)];
    end = std::min(end, mode_ == hal::SettingDelivery::segment ? l.armed : l.end);
  }
  return parties_ ? end : 0;
}

void ModulatorBank::release(std::uint64_t played) {
  played_ = played;
  for (int p = 0; p < parties_; ++p) {
    Lane& l = lanes_[static_cast<std::size_t>(p)];
    const std::uint64_t drop = std::min(played, l.end);
    if (drop <= l.base) continue;
    l.head += static_cast<std::size_t>(drop - l.base);
    l.base = drop;
  }
}

std::string SimModulator::identity() const {
  return "sim modulator of party " + std::to_string(party_) + " (built into " + owner_.identity() + ")";
}

const std::vector<hal::Capability>& SimModulator::capabilities() const {
  static const std::vector<hal::Capability> caps = [] {
    std::vector<hal::Capability> c;
    for (const char* key : {"modulator_delivery", "segment_trials"}) {
      hal::Capability cap = *find_capability(key);
      cap.can_set = false;  // a setting of the sim device, reported here
      c.push_back(std::move(cap));
    }
    return c;
  }();
  return caps;
}

void SimModulator::set(const std::string& key, const hal::SettingValue& /*value*/) {
  throw std::invalid_argument("sim modulator: '" + key +
                              "' cannot be set here; modulator_delivery and segment_trials are settings of the sim "
                              "device");
}

hal::SettingValue SimModulator::get(const std::string& key) const {
  if (key != "modulator_delivery" && key != "segment_trials")
    throw std::invalid_argument("sim modulator: no setting '" + key + "'");
  return owner_.get(key);
}

void SimModulator::schedule(std::uint64_t first_trial, std::span<const std::uint8_t> settings) {
  bank_.schedule(party_, first_trial, settings, !owner_.streaming());
}

double SimModulator::settling_time_ns() const {
  return static_cast<double>(owner_.physical_settings().switching_time_ps) / 1000.0;
}

}  // namespace detail

PhysicalSimulator::Delivery::Delivery(PhysicalSimulator& owner) {
  for (int p = 0; p < protocol::kMaxParties; ++p)
    modulators[static_cast<std::size_t>(p)] = std::make_unique<detail::SimModulator>(owner, bank, p);
}

}  // namespace dira::sim
