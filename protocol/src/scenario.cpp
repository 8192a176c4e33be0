#include "dira/protocol/scenario.hpp"

#include <algorithm>
#include <stdexcept>

namespace dira::protocol {

Scenario::Scenario(std::vector<int> settings_per_party, std::vector<int> outcomes_per_party)
    : settings_(std::move(settings_per_party)), outcomes_(std::move(outcomes_per_party)) {
  if (settings_.empty() || settings_.size() != outcomes_.size())
    throw std::invalid_argument("scenario: settings and outcomes need one entry per party");
  setting_count_ = outcome_count_ = 1;
  for (std::size_t i = 0; i < settings_.size(); ++i) {
    if (settings_[i] < 1 || outcomes_[i] < 1)
      throw std::invalid_argument("scenario: every party needs at least one setting and one outcome");
    setting_count_ *= static_cast<std::size_t>(settings_[i]);
    outcome_count_ *= static_cast<std::size_t>(outcomes_[i]);
    if (setting_count_ * outcome_count_ > (std::size_t{1} << 26))
      throw std::invalid_argument("scenario: too many probabilities for an explicit behaviour vector");
  }
}

bool Scenario::valid_setting(const Setting& u) const {
  if (u.size() != settings_.size()) return false;
  for (std::size_t i = 0; i < u.size(); ++i)
    if (u[i] < 0 || u[i] >= settings_[i]) return false;
  return true;
}

bool Scenario::valid_outcome(const Outcome& x) const {
  if (x.size() != outcomes_.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i] < 0 || x[i] >= outcomes_[i]) return false;
  return true;
}

std::size_t Scenario::setting_index(const Setting& u) const {
  if (!valid_setting(u)) throw std::out_of_range("setting " + format_tuple(u) + " not in scenario " + describe());
  std::size_t idx = 0;
  for (std::size_t i = 0; i < u.size(); ++i) idx = idx * static_cast<std::size_t>(settings_[i]) + static_cast<std::size_t>(u[i]);
  return idx;
}

std::size_t Scenario::outcome_index(const Outcome& x) const {
  if (!valid_outcome(x)) throw std::out_of_range("outcome " + format_tuple(x) + " not in scenario " + describe());
  std::size_t idx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) idx = idx * static_cast<std::size_t>(outcomes_[i]) + static_cast<std::size_t>(x[i]);
  return idx;
}

Setting Scenario::setting_at(std::size_t idx) const {
  if (idx >= setting_count_) throw std::out_of_range("setting index out of range");
  Setting u(settings_.size());
  for (std::size_t i = settings_.size(); i-- > 0;) {
    u[i] = static_cast<int>(idx % static_cast<std::size_t>(settings_[i]));
    idx /= static_cast<std::size_t>(settings_[i]);
  }
  return u;
}

Outcome Scenario::outcome_at(std::size_t idx) const {
  if (idx >= outcome_count_) throw std::out_of_range("outcome index out of range");
  Outcome x(outcomes_.size());
  for (std::size_t i = outcomes_.size(); i-- > 0;) {
    x[i] = static_cast<int>(idx % static_cast<std::size_t>(outcomes_[i]));
    idx /= static_cast<std::size_t>(outcomes_[i]);
  }
  return x;
}

std::string Scenario::describe() const {
  const bool uniform = std::all_of(settings_.begin(), settings_.end(), [&](int s) { return s == settings_[0]; }) &&
                       std::all_of(outcomes_.begin(), outcomes_.end(), [&](int o) { return o == outcomes_[0]; });
  if (uniform)
    return "(" + std::to_string(parties()) + "," + std::to_string(settings_[0]) + "," + std::to_string(outcomes_[0]) + ")";
  return "(" + std::to_string(parties()) + "," + format_tuple(settings_) + "," + format_tuple(outcomes_) + ")";
}

std::string format_tuple(const std::vector<int>& t, int offset) {
  std::string s = "(";
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(t[i] + offset);
  }
  return s + ")";
}

}  // namespace dira::protocol
