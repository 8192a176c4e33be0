#include "dira/protocol/extractor.hpp"

#include "gf2_polynomial.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace dira::protocol {

// ---------------------------------------------------------------------------------------------
// BitVector

BitVector BitVector::zeros(std::size_t size) {
  BitVector v;
  v.words.assign(gf2::words_for(size), 0);
  v.size = size;
  return v;
}

BitVector BitVector::from_bools(const std::vector<bool>& bits) {
  BitVector v = zeros(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) v.words[i / 64] |= std::uint64_t{1} << (i % 64);
  return v;
}

void BitVector::set(std::size_t i, bool value) {
  const std::uint64_t bit = std::uint64_t{1} << (i % 64);
  if (value)
    words[i / 64] |= bit;
  else
    words[i / 64] &= ~bit;
}

std::vector<bool> BitVector::to_bools() const {
  std::vector<bool> bits(size);
  for (std::size_t i = 0; i < size; ++i) bits[i] = get(i);
  return bits;
}

BitVector BitVector::prefix(std::size_t length) const {
  if (length > size) throw std::invalid_argument("BitVector::prefix: longer than the vector");
  BitVector v;
  v.size = length;
  v.words.assign(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(gf2::words_for(length)));
  if (!v.words.empty()) v.words.back() &= gf2::tail_mask(length);
  return v;
}

BitVector BitVector::operator^(const BitVector& other) const {
  if (other.size != size) throw std::invalid_argument("BitVector ^: sizes differ");
  BitVector v = *this;
  for (std::size_t j = 0; j < words.size(); ++j) v.words[j] ^= other.words[j];
  return v;
}

const char* to_string(ExtractorKind kind) {
  switch (kind) {
    case ExtractorKind::dodis:
      return "dodis";
    case ExtractorKind::circulant:
      return "circulant";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Number theory

namespace {

__extension__ typedef unsigned __int128 u128;  // GCC/Clang extension, for 64-bit modular products

std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b, std::uint64_t m) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % m);
}

std::uint64_t pow_mod(std::uint64_t base, std::uint64_t e, std::uint64_t m) {
  std::uint64_t result = 1 % m;
  base %= m;
  while (e != 0) {
    if (e & 1U) result = mul_mod(result, base, m);
    base = mul_mod(base, base, m);
    e >>= 1;
  }
  return result;
}

}  // namespace

bool is_prime(std::uint64_t n) {
  // The first twelve primes as Miller–Rabin bases decide every n < 3.3·10^24 (Sorenson and
  // Webster, Math. Comp. 86 (2017) 985–1003), so every 64-bit n.
  constexpr std::uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  if (n < 2) return false;
  for (std::uint64_t p : bases)
    if (n % p == 0) return n == p;
  std::uint64_t d = n - 1;
  int s = 0;
  while ((d & 1U) == 0) {
    d >>= 1;
    ++s;
  }
  for (std::uint64_t a : bases) {
    std::uint64_t x = pow_mod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s && composite; ++r) {
      x = mul_mod(x, x, n);
      if (x == n - 1) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

bool two_is_primitive_root(std::uint64_t n) {
  if (n < 3 || !is_prime(n)) return false;
  // 2 is a quadratic residue exactly when n ≡ ±1 (mod 8); then 2^((n-1)/2) ≡ 1 and the order
  // is below n - 1. This only skips work: the factor test below decides the rest.
  if (n % 8 == 1 || n % 8 == 7) return false;
  // ord(2) = n - 1 iff 2^((n-1)/q) ≠ 1 for every prime q dividing n - 1 (Lagrange).
  std::uint64_t rest = n - 1;
  for (std::uint64_t q = 2; q <= rest / q; q += (q == 2 ? 1 : 2)) {
    if (rest % q != 0) continue;
    if (pow_mod(2, (n - 1) / q, n) == 1) return false;
    while (rest % q == 0) rest /= q;
  }
  if (rest > 1 && pow_mod(2, (n - 1) / rest, n) == 1) return false;
  return true;
}

std::size_t largest_dodis_length(std::size_t at_most) {
  for (std::size_t n = at_most; n >= 3; --n)
    if (two_is_primitive_root(n)) return n;
  return 0;
}

std::size_t largest_circulant_length(std::size_t at_most) {
  if (at_most == std::numeric_limits<std::size_t>::max()) --at_most;
  const std::size_t n = largest_dodis_length(at_most + 1);
  return n == 0 ? 0 : n - 1;
}

// ---------------------------------------------------------------------------------------------
// Error bounds and planning

double log2_error_bound(ExtractorKind kind, std::size_t n, std::size_t m, double k1, double k2, bool side_information) {
  const double nd = static_cast<double>(n), md = static_cast<double>(m);
  switch (kind) {
    case ExtractorKind::dodis: {
      // DEOR 2004: every nonempty sum of the m ≤ n-1 shift matrices has rank ≥ n - 1 (n prime,
      // 2 primitive: z^n - 1 = (z+1)Φ_n with Φ_n irreducible), so with r = 1 each nonzero
      // parity of the output has bias ≤ 2^((n + r - k1 - k2)/2) and Vazirani's XOR lemma gives
      // statistical distance ≤ ½·2^(m/2)·that = 2^((m + n - 1 - k1 - k2)/2), i.e.
      // m = k1 + k2 - n + 1 - 2 log2(1/ε) (docs/extractors.md derives it in full).
      const double classical = (md + nd - 1 - k1 - k2) / 2;
      if (!side_information) return classical;
      // Arnon-Friedman, Portmann, Scholz (TQC 2016, LIPIcs 61:2): a (k1, k2, ε_c) extractor is
      // quantum-proof in the Markov model for min-entropies k_i + log2(1/ε_c) with error
      // sqrt(3 ε_c 2^(m-2)). Feeding the classical bound with k_i + log2 ε_c and choosing the
      // smallest consistent ε_c gives log2 ε_c = (m + n - 1 - k1 - k2)/4.
      const double log2_classical = (md + nd - 1 - k1 - k2) / 4;
      return (std::log2(3.0) + md - 2 + log2_classical) / 2;
    }
    case ExtractorKind::circulant:
      // Cryptomite (Quantum 9, 1584), table of output lengths: m = k1 + (k2 - n2) + 2 log2 ε,
      // the same classically, quantum-proof in the product-source model and in the Markov
      // model, with n2 = n the length of the second input.
      return (md + nd - k1 - k2) / 2;
  }
  return std::numeric_limits<double>::infinity();
}

namespace {

/// The real-valued output length at which the bound equals the target (inverse of
/// log2_error_bound in m).
double output_length_for(ExtractorKind kind, std::size_t n, double k1, double k2, double target,
                         bool side_information) {
  const double nd = static_cast<double>(n);
  switch (kind) {
    case ExtractorKind::dodis:
      if (!side_information) return k1 + k2 - nd + 1 + 2 * target;
      // Solving (log2 3 + m - 2 + (m + n - 1 - k1 - k2)/4)/2 = target for m:
      // m = (k1 + k2 - n + 8 log2 ε + 9 - 4 log2 3) / 5 (Cryptomite's table writes
      // 9 - 4 log2 3 as 4 log2(4/3) + 1).
      return (k1 + k2 - nd + 8 * target + 9 - 4 * std::log2(3.0)) / 5;
    case ExtractorKind::circulant:
      return k1 + k2 - nd + 2 * target;
  }
  return 0;
}

std::string format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

std::string describe(const ExtractorParameters& p, std::size_t available1, std::size_t available2, double k1_certified,
                     double k2_certified, double target, double m_real) {
  const std::size_t n = p.prime();
  std::string s;
  if (p.kind == ExtractorKind::dodis)
    s = "Dodis-Elbaz-Oliveira-Raz cyclic-shift two-source extractor (RANDOM 2004, LNCS 3122): ";
  else
    s = "Circulant two-source extractor (Foreman et al., Cryptomite, Quantum 9, 1584 (2025)): ";
  s += "n = " + std::to_string(n) + " prime, 2 a primitive root mod n; x = first " + std::to_string(p.n1) + " of " +
       std::to_string(available1) + " bits of source 1 (min-entropy " + format("%.3f", k1_certified) + " -> " +
       format("%.3f", p.k1) + "), y = first " + std::to_string(p.n2) + " of " + std::to_string(available2) +
       " bits of source 2 (min-entropy " + format("%.3f", k2_certified) + " -> " + format("%.3f", p.k2) +
       "; cutting a source to its first n_i bits lowers its min-entropy by at most the bits cut). ";
  if (p.side_information_adjusted)
    s += p.kind == ExtractorKind::dodis
             ? "Side information in the Markov model (Arnon-Friedman, Portmann, Scholz, TQC 2016): "
               "m = floor((k1 + k2 - n + 8 log2 eps + 9 - 4 log2 3) / 5). "
             : "Side information in the Markov model: Cryptomite's bound holds unchanged, "
               "m = floor(k1 + k2 - n + 2 log2 eps). ";
  else
    s += p.kind == ExtractorKind::dodis ? "Independent sources, no side information: m = floor(k1 + k2 - n + 1 + 2 "
                                          "log2 eps). "
                                        : "Independent sources, no side information: m = floor(k1 + k2 - n + 2 "
                                          "log2 eps). ";
  if (p.m == 0) {
    s += "No output: with log2 eps = " + format("%.3f", target) + " the formula gives m = " + format("%.3f", m_real) +
         " < 1.";
  } else {
    s += "Output m = " + std::to_string(p.m) + " bits, within 2^" + format("%.3f", p.log2_error) +
         " of uniform in statistical distance, also given y (strong in the second input); target 2^" +
         format("%.3f", target) + ".";
  }
  return s;
}

}  // namespace

std::optional<ExtractorParameters> plan_extractor(ExtractorKind kind, std::size_t available1, std::size_t available2,
                                                  double k1, double k2, double log2_error_target,
                                                  bool side_information) {
  if (!std::isfinite(k1) || !std::isfinite(k2) || k1 < 0 || k2 < 0 || k1 > static_cast<double>(available1) ||
      k2 > static_cast<double>(available2))
    throw std::invalid_argument("plan_extractor: need 0 <= k_i <= available_i (min-entropy in bits)");
  if (!std::isfinite(log2_error_target) || log2_error_target >= 0)
    throw std::invalid_argument("plan_extractor: the log2 error target must be finite and negative");

  ExtractorParameters p;
  p.kind = kind;
  p.side_information_adjusted = side_information;
  if (kind == ExtractorKind::dodis) {
    p.n1 = p.n2 = largest_dodis_length(std::min(available1, available2));
    if (p.n1 == 0) return std::nullopt;
  } else {
    if (available2 < 3) return std::nullopt;
    p.n1 = largest_circulant_length(std::min(available1, available2 - 1));
    if (p.n1 == 0) return std::nullopt;
    p.n2 = p.n1 + 1;
  }
  // Pr[prefix = a] = sum over the cut suffixes s of Pr[X = a s] ≤ 2^(cut) · 2^(-k); the same
  // holds for guessing probabilities given side information (guess the prefix, then the cut
  // bits uniformly). Min-entropy is never negative, so the adjusted value is clamped at 0.
  p.k1 = std::max(0.0, k1 - static_cast<double>(available1 - p.n1));
  p.k2 = std::max(0.0, k2 - static_cast<double>(available2 - p.n2));

  const std::size_t n = p.prime();
  const double m_real = output_length_for(kind, n, p.k1, p.k2, log2_error_target, side_information);
  // Output lengths up to n - 1 keep the m shifts' sums away from the all-ones polynomial
  // (docs/extractors.md), and a circulant output cannot exceed n1 = n - 1 either.
  double m_floor = std::floor(m_real);
  m_floor = std::min(m_floor, static_cast<double>(n - 1));
  std::size_t m = m_floor >= 1 ? static_cast<std::size_t>(m_floor) : 0;
  // The floor is taken in floating point; re-evaluate the bound and step down if rounding
  // put m one past the target, so that log2_error ≤ target always holds as stored.
  while (m > 0 && log2_error_bound(kind, n, m, p.k1, p.k2, side_information) > log2_error_target) --m;
  p.m = m;
  p.log2_error =
      m == 0 ? -std::numeric_limits<double>::infinity() : log2_error_bound(kind, n, m, p.k1, p.k2, side_information);
  p.statement = describe(p, available1, available2, k1, k2, log2_error_target, m_real);
  return p;
}

std::optional<ExtractorParameters> choose_extractor(std::size_t available1, std::size_t available2, double k1,
                                                    double k2, double log2_error_target, bool side_information) {
  auto d = plan_extractor(ExtractorKind::dodis, available1, available2, k1, k2, log2_error_target, side_information);
  auto c =
      plan_extractor(ExtractorKind::circulant, available1, available2, k1, k2, log2_error_target, side_information);
  if (!d) return c;
  if (!c) return d;
  if (d->m != c->m) return d->m > c->m ? d : c;
  return d->log2_error < c->log2_error ? d : c;
}

// ---------------------------------------------------------------------------------------------
// Extraction

void validate(const ExtractorParameters& p) {
  const std::size_t n = p.n2;
  if (!is_prime(n)) throw std::invalid_argument("extractor: n = " + std::to_string(n) + " is not prime");
  if (!two_is_primitive_root(n))
    throw std::invalid_argument("extractor: 2 is not a primitive root modulo n = " + std::to_string(n));
  if (p.kind == ExtractorKind::dodis && p.n1 != n) throw std::invalid_argument("extractor: dodis needs n1 = n2 = n");
  if (p.kind == ExtractorKind::circulant && p.n1 + 1 != n)
    throw std::invalid_argument("extractor: circulant needs n1 + 1 = n2 = n");
  if (p.m > n - 1) throw std::invalid_argument("extractor: m must be at most n - 1");
}

namespace {

void check_inputs(const ExtractorParameters& p, const BitVector& x, const BitVector& y) {
  validate(p);
  if (x.size != p.n1 || y.size != p.n2)
    throw std::invalid_argument("extractor: inputs must have lengths n1 = " + std::to_string(p.n1) +
                                " and n2 = " + std::to_string(p.n2));
}

/// A copy of v's words with any bits past v.size cleared, so that a caller who broke the
/// BitVector invariant cannot change the result.
std::vector<std::uint64_t> clean_words(const BitVector& v, std::size_t size) {
  std::vector<std::uint64_t> w(gf2::words_for(size), 0);
  std::copy_n(v.words.begin(), std::min(w.size(), v.words.size()), w.begin());
  if (!w.empty()) w.back() &= gf2::tail_mask(size);
  return w;
}

}  // namespace

BitVector cyclic_correlation(const BitVector& x, const BitVector& y, std::size_t m, PolynomialMultiplier multiplier) {
  const std::size_t n = y.size;
  if (x.size != n || n == 0 || m > n)
    throw std::invalid_argument("cyclic_correlation: need |x| = |y| = n >= 1, m <= n");
  // With x^rev(z) = sum_t x_t z^(n-1-t) and c = x^rev · y, the pairs (t, s = t + i mod n)
  // sit at exponent n-1+i (s = t+i) or i-1 (s = t+i-n). After folding c modulo z^n - 1 into
  // r_j = c_j + c_(j+n), bit i is therefore r_((i-1) mod n): r_(n-1) first, then r_0, r_1, …
  const std::vector<std::uint64_t> xr = gf2::reverse_bits(clean_words(x, n), n);
  const gf2::Multiplier how = multiplier == PolynomialMultiplier::gf2x          ? gf2::Multiplier::gf2x
                              : multiplier == PolynomialMultiplier::ternary_fft ? gf2::Multiplier::ternary_fft
                                                                                : gf2::Multiplier::automatic;
  std::vector<std::uint64_t> r = gf2::multiply(xr, clean_words(y, n), how);
  gf2::fold_mod_z_n_minus_1(r, n);

  BitVector z = BitVector::zeros(m);
  if (m == 0) return z;
  const std::uint64_t top = (r[(n - 1) / 64] >> ((n - 1) % 64)) & 1U;
  for (std::size_t j = 0; j < z.words.size(); ++j) {
    const std::uint64_t carry = j == 0 ? top : r[j - 1] >> 63;
    z.words[j] = (j < r.size() ? r[j] << 1 : 0) | carry;
  }
  z.words.back() &= gf2::tail_mask(m);
  return z;
}

BitVector cyclic_correlation_naive(const BitVector& x, const BitVector& y, std::size_t m) {
  const std::size_t n = y.size;
  if (x.size != n || n == 0 || m > n)
    throw std::invalid_argument("cyclic_correlation_naive: need |x| = |y| = n >= 1, m <= n");
  BitVector z = BitVector::zeros(m);
  for (std::size_t i = 0; i < m; ++i) {
    bool bit = false;
    for (std::size_t t = 0; t < n; ++t) bit ^= x.get(t) && y.get((t + i) % n);
    z.set(i, bit);
  }
  return z;
}

BitVector extract(const ExtractorParameters& p, const BitVector& x, const BitVector& y) {
  check_inputs(p, x, y);
  if (p.kind == ExtractorKind::dodis) return cyclic_correlation(x, y, p.m);
  // Circulant: x is extended by one zero bit to length n (Cryptomite's construction).
  BitVector padded = BitVector::zeros(p.n2);
  const std::vector<std::uint64_t> w = clean_words(x, p.n1);
  std::copy(w.begin(), w.end(), padded.words.begin());
  return cyclic_correlation(padded, y, p.m);
}

BitVector extract_naive(const ExtractorParameters& p, const BitVector& x, const BitVector& y) {
  check_inputs(p, x, y);
  // Bit i = <x, y shifted cyclically by i>, the sum running over the n1 bits of x (for the
  // circulant kind the extension bit x_(n-1) = 0 contributes nothing).
  const std::size_t n = p.n2;
  BitVector z = BitVector::zeros(p.m);
  for (std::size_t i = 0; i < p.m; ++i) {
    bool bit = false;
    for (std::size_t t = 0; t < p.n1; ++t) bit ^= x.get(t) && y.get((t + i) % n);
    z.set(i, bit);
  }
  return z;
}

}  // namespace dira::protocol
