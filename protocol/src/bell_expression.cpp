#include "dira/protocol/bell_expression.hpp"

#include <stdexcept>

namespace dira::protocol {

BellExpression::BellExpression(Scenario scenario, std::vector<std::int64_t> coefficients)
    : scenario_(std::move(scenario)), coefficients_(std::move(coefficients)) {
  if (coefficients_.size() != scenario_.size())
    throw std::invalid_argument("Bell expression: " + std::to_string(coefficients_.size()) +
                                " coefficients for a scenario with " + std::to_string(scenario_.size()) +
                                " probabilities");
}

std::size_t BellExpression::terms() const {
  std::size_t n = 0;
  for (auto c : coefficients_) n += c != 0;
  return n;
}

std::vector<std::size_t> BellExpression::settings_in_expression() const {
  std::vector<std::size_t> out;
  const std::size_t nx = scenario_.outcome_count();
  for (std::size_t u = 0; u < scenario_.setting_count(); ++u)
    for (std::size_t x = 0; x < nx; ++x)
      if (coefficients_[u * nx + x] != 0) {
        out.push_back(u);
        break;
      }
  return out;
}

double BellExpression::value(const Behaviour& p) const {
  if (p.size() != coefficients_.size()) throw std::invalid_argument("Bell expression: behaviour of the wrong size");
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (coefficients_[i] != 0) s += static_cast<double>(coefficients_[i]) * p[i];
  return s;
}

}  // namespace dira::protocol
