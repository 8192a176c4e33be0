#pragma once
// Private MPFR helpers for the PEF certification (not installed; protocol/src only).
#include "dira/protocol/rational.hpp"

#include <mpfr.h>

#include <string>

namespace dira::protocol::detail {

/// RAII mpfr_t with 128 bits of precision.
struct Mpfr {
  mpfr_t x;
  Mpfr() { mpfr_init2(x, 128); }
  ~Mpfr() { mpfr_clear(x); }
  Mpfr(const Mpfr&) = delete;
  Mpfr& operator=(const Mpfr&) = delete;
};

/// x = r rounded in direction `rnd` (RNDU or RNDD); r ≥ 0. Numerator and denominator are
/// rounded in the directions that make the quotient move the same way.
inline void set_rational(mpfr_t x, const Rational& r, mpfr_rnd_t rnd) {
  const mpfr_rnd_t opposite = rnd == MPFR_RNDU ? MPFR_RNDD : MPFR_RNDU;
  Mpfr den;
  const std::string ns = boost::multiprecision::numerator(r).str();
  const std::string ds = boost::multiprecision::denominator(r).str();
  mpfr_set_str(x, ns.c_str(), 10, r >= 0 ? rnd : opposite);
  mpfr_set_str(den.x, ds.c_str(), 10, r >= 0 ? opposite : rnd);
  mpfr_div(x, x, den.x, rnd);
}

/// x ≥ (½)^{1+β} = 2^{−(1+β)}: the exponent −(1+β) is rounded up by rounding β down.
inline void half_pow_upper(mpfr_t x, const Rational& beta) {
  set_rational(x, beta, MPFR_RNDD);
  mpfr_add_ui(x, x, 1, MPFR_RNDD);
  mpfr_neg(x, x, MPFR_RNDU);  // exact
  mpfr_exp2(x, x, MPFR_RNDU);
}

}  // namespace dira::protocol::detail
