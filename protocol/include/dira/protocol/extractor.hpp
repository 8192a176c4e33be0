#pragma once
/// @file extractor.hpp
/// Explicit two-source randomness extractors with proven error bounds, for the last step of
/// Protocol B (seed 001, Fig. 1 step 4: Ext(x, t) on the device outputs x and fresh SV bits t;
/// the seed's own extractor, from its ref. [2], is non-explicit). docs/extractors.md gives the
/// definitions, the theorems and their sources, and the index conventions.
///
/// Both kinds compute, for a prime n such that 2 is a primitive root modulo n,
///
///     z_i = sum_{t=0}^{n-1} x_t · y_{(t+i) mod n}  over GF(2),   i = 0, …, m-1,
///
/// i.e. bit i is the inner product of x with y cyclically shifted by i positions:
/// - `dodis`: x, y ∈ {0,1}^n — the cyclic-shift construction of Dodis, Elbaz, Oliveira, Raz,
///   "Improved randomness extraction from two independent sources", RANDOM 2004, LNCS 3122,
///   pp. 334–344;
/// - `circulant`: x ∈ {0,1}^(n-1) (extended by x_(n-1) = 0), y ∈ {0,1}^n — the Circulant
///   extractor of Foreman, Yeung, Edgington, Curchod, "Cryptomite: a versatile and
///   user-friendly library of randomness extractors", Quantum 9, 1584 (2025), arXiv:2402.09481.
///   dira also requires 2 to be a primitive root modulo n here (Cryptomite asks only for n
///   prime); docs/extractors.md explains why.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// A bit string packed 64 bits to a word: bit i is bit (i % 64) of words[i / 64]
/// (so bit i is the coefficient of z^i when the string is read as a polynomial).
/// Invariant: words.size() == (size + 63) / 64 and the bits at positions ≥ size are zero.
struct BitVector {
  std::vector<std::uint64_t> words;
  std::size_t size = 0;

  /// `size` zero bits.
  static BitVector zeros(std::size_t size);
  /// Bit i = bits[i].
  static BitVector from_bools(const std::vector<bool>& bits);
  bool get(std::size_t i) const { return (words[i / 64] >> (i % 64)) & 1U; }
  void set(std::size_t i, bool value);
  std::vector<bool> to_bools() const;
  /// The first `length` ≤ size bits.
  BitVector prefix(std::size_t length) const;
  /// Bitwise XOR of two strings of the same size.
  BitVector operator^(const BitVector& other) const;
  bool operator==(const BitVector& other) const = default;
};

/// What plan_extractor returns: a fully specified extractor and its security statement.
struct ExtractorParameters {
  enum class Kind { dodis, circulant };

  Kind kind = Kind::circulant;
  std::size_t n1 = 0;  ///< length of the first input x (dodis: n; circulant: n - 1)
  std::size_t n2 = 0;  ///< length of the second input y (= n, the prime, for both kinds)
  std::size_t m = 0;   ///< output length; 0 when nothing can be extracted (see `statement`)
  double k1 = 0;       ///< min-entropy (bits) of the n1 bits fed as x, after truncation
  double k2 = 0;       ///< min-entropy (bits) of the n2 bits fed as y, after truncation
  /// log2 of the proven bound on the distance of the output from uniform (≤ the target);
  /// −infinity when m = 0 (an empty output is exactly uniform).
  double log2_error = 0;
  /// True when the bound holds against side information in the Markov model
  /// (Arnon-Friedman, Portmann, Scholz, TQC 2016); false: independent sources, no adversary.
  bool side_information_adjusted = false;
  /// One paragraph: which theorem, which parameters, which assumptions (or why m = 0).
  std::string statement;

  /// The prime n (= n2).
  std::size_t prime() const { return n2; }
};

using ExtractorKind = ExtractorParameters::Kind;
const char* to_string(ExtractorKind kind);

/// Deterministic Miller–Rabin (bases 2…37, exact for every 64-bit n).
bool is_prime(std::uint64_t n);
/// True iff n is prime, n ≥ 3, and 2 has multiplicative order n - 1 modulo n.
bool two_is_primitive_root(std::uint64_t n);
/// The largest n ≤ at_most that is prime with 2 a primitive root (dodis input length); 0 if none.
std::size_t largest_dodis_length(std::size_t at_most);
/// The largest n1 ≤ at_most with n1 + 1 prime and 2 a primitive root modulo n1 + 1
/// (circulant first-input length); 0 if none.
std::size_t largest_circulant_length(std::size_t at_most);

/// log2 of the proven error bound for output length m ≥ 1, prime n, min-entropies k1, k2
/// of the inputs actually fed (docs/extractors.md, "Error bounds"):
/// - dodis, no side information: (m + n - 1 - k1 - k2) / 2;
/// - dodis, Markov model: (log2 3 + m - 2 + (m + n - 1 - k1 - k2) / 4) / 2;
/// - circulant (either): (m + n - k1 - k2) / 2.
double log2_error_bound(ExtractorKind kind, std::size_t n, std::size_t m, double k1, double k2, bool side_information);

/// Chooses the extractor of the given kind for two sources offering `available1` and
/// `available2` bits with certified min-entropies k1 and k2 (for side_information = true,
/// conditional on the adversary's information, Markov model). Uses the largest admissible
/// prime; a longer source is cut to its first n_i bits, costing (available_i - n_i) bits of
/// min-entropy. Returns the largest m whose error bound is ≤ 2^log2_error_target; m = 0 with
/// the numbers in `statement` when none is positive; std::nullopt when no admissible length
/// fits. Throws std::invalid_argument unless 0 ≤ k_i ≤ available_i and the target is < 0.
std::optional<ExtractorParameters> plan_extractor(ExtractorKind kind, std::size_t available1, std::size_t available2,
                                                  double k1, double k2, double log2_error_target,
                                                  bool side_information);

/// Plans both kinds and returns the one with the longer output (ties: smaller error, then
/// circulant); std::nullopt when neither kind has an admissible length.
std::optional<ExtractorParameters> choose_extractor(std::size_t available1, std::size_t available2, double k1,
                                                    double k2, double log2_error_target, bool side_information);

/// Throws std::invalid_argument unless the parameters describe an admissible extractor:
/// n2 prime with 2 a primitive root, n1 = n2 (dodis) or n2 - 1 (circulant), m ≤ n2 - 1.
void validate(const ExtractorParameters& parameters);

/// Ext(x, y): m bits, bit i = sum_t x_t y_((t+i) mod n) (x_(n-1) = 0 for circulant). Computes
/// the product x^rev(z) · y(z) mod (z^n - 1) with gf2x in O(n log n)-ish time and O(n) bits.
/// Throws std::invalid_argument if the parameters are not admissible or x.size != n1,
/// y.size != n2.
BitVector extract(const ExtractorParameters& parameters, const BitVector& x, const BitVector& y);

/// The same function evaluated straight from the definition, one inner product per output
/// bit (O(n·m) bit operations). For tests only.
BitVector extract_naive(const ExtractorParameters& parameters, const BitVector& x, const BitVector& y);

/// How the kernel multiplies polynomials over GF(2); every choice gives the same bits.
enum class PolynomialMultiplier {
  automatic,   ///< gf2x below 8192 words (~5·10^5 bits) per operand, the ternary FFT above
  gf2x,        ///< gf2x alone (Debian's build is untuned past ~10^6 bits: docs/extractors.md)
  ternary_fft  ///< Schönhage's ternary FFT (Acta Informatica 7, 1977), gf2x for the pointwise products
};

/// The kernel of extract without admissibility checks: for x.size == y.size == n ≥ 1 and
/// m ≤ n, bit i of the result is sum_t x_t y_((t+i) mod n), i < m.
BitVector cyclic_correlation(const BitVector& x, const BitVector& y, std::size_t m,
                             PolynomialMultiplier multiplier = PolynomialMultiplier::automatic);
/// cyclic_correlation from the definition, O(n·m). For tests only.
BitVector cyclic_correlation_naive(const BitVector& x, const BitVector& y, std::size_t m);

}  // namespace dira::protocol
