#include "dira/protocol/pef_verify.hpp"

#include "mpfr_util.hpp"

#include <algorithm>
#include <stdexcept>

namespace dira::protocol {

CertifiedPef verify_published_pef(const SvSettingsModel& settings, const std::string& beta_exact,
                                  const std::array<std::string, kChshCells>& F_decimal) {
  CertifiedPef out;
  out.settings_epsilon = to_string(settings.epsilon);
  out.beta = parse_rational(beta_exact);
  if (out.beta <= 0) throw std::invalid_argument("PEF: beta must be > 0, got " + beta_exact);
  out.beta_exact = to_string(out.beta);
  for (int k = 0; k < kChshCells; ++k) {
    const std::string& d = F_decimal[static_cast<std::size_t>(k)];
    if (d.empty() || d.find_first_not_of("0123456789.") != std::string::npos)
      throw std::invalid_argument("PEF: factor " + std::to_string(k) + " is not a non-negative decimal: '" + d + "'");
    out.F_decimal[static_cast<std::size_t>(k)] = d;
    out.F_exact[static_cast<std::size_t>(k)] = parse_rational(d);
  }
  double worst = 0;
  for (const auto& nu : settings.vertices())
    for (const auto& p : no_signalling_vertices())
      worst = std::max(worst, constraint_upper(nu, p, out.beta, out.F_exact));
  if (!(worst <= 1.0))
    throw std::invalid_argument("PEF: a vertex constraint evaluates to " + std::to_string(worst) +
                                " > 1 (rounded up): these factors are not a PEF of the model");
  out.max_constraint_upper = worst;
  out.margin = 1.0 - worst;
  for (int k = 0; k < kChshCells; ++k) {
    detail::Mpfr f;
    mpfr_set_str(f.x, out.F_decimal[static_cast<std::size_t>(k)].c_str(), 10, MPFR_RNDD);
    mpfr_log2(f.x, f.x, MPFR_RNDD);  // log2 0 = −∞: what a zero factor scores
    out.log2F_lower[static_cast<std::size_t>(k)] = mpfr_get_d(f.x, MPFR_RNDD);
  }
  return out;
}

}  // namespace dira::protocol
