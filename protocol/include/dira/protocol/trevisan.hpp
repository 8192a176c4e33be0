#pragma once
/// @file trevisan.hpp
/// Trevisan's seeded extractor (L. Trevisan, "Extractors and pseudorandom generators",
/// J. ACM 48 (2001) 860–879) with the weak designs of Raz, Reingold, Vadhan ("Extracting all
/// the randomness and reducing the error in Trevisan's extractors", JCSS 65 (2002) 97–128)
/// and a one-bit extractor from polynomial hashing (Reed–Solomon ∘ Hadamard), arranged as in
/// Mauerer, Portmann, Scholz, arXiv:1212.0520. docs/extractors.md, "Trevisan's extractor with
/// a weak seed (Protocol C)", gives the definitions, theorems, parameter formulas and the
/// index conventions; this header names the equations it implements as (T1)…(T6).
///
/// Ext(x, y) = C(x, y_{S_0}) … C(x, y_{S_{m-1}}), where
/// - C(x, α‖β) = ⟨p_x(α), β⟩ (T1): x is cut into N = ⌈n/s⌉ blocks c_j of s bits (the last one
///   zero-padded), p_x(z) = Σ_j c_j z^j is evaluated at α ∈ GF(2^s), and the result is
///   multiplied by β ∈ GF(2)^s as a dot product;
/// - S_i = {(b_i(a))·t + a : a = 0, …, t−1} with t = 2s, b_i(a) = (u_i + v_i·a) mod q for a
///   prime q ≥ t and (v_i, u_i) = (i div q, i mod q) (T3): lines over GF(q), which form a weak
///   design with r = (m−1 + t·⌊(m−1)/q⌋)/(m−1) exactly (T4).
/// The element of S_i numbered a supplies bit a of the one-bit seed: a < s to α (bit a is
/// the coefficient of z^a), s ≤ a < 2s to β (bit a − s).

#include "dira/protocol/extractor.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// Largest field degree s the one-bit extractor supports (GF(2^s) elements of ≤ 8 words).
inline constexpr unsigned kTrevisanMaxFieldDegree = 512;

/// The smallest g (as an integer: bit j is the coefficient of z^j) such that z^s + g(z) is
/// irreducible over GF(2), for 2 ≤ s ≤ kTrevisanMaxFieldDegree; found with Ben-Or's test
/// (gcd(z^(2^i) − z, f) = 1 for i = 1, …, ⌊s/2⌋). Throws std::invalid_argument outside that
/// range and std::logic_error if no g < 2^63 works (never for the supported range).
std::uint64_t gf2_irreducible_low_terms(unsigned degree);

/// Product in GF(2^s) = GF(2)[z]/(z^s + g(z)), g = `low_terms`; elements are words_for(s)
/// words with bit j the coefficient of z^j and bits ≥ s zero (checked: std::invalid_argument).
std::vector<std::uint64_t> gf2_field_multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b,
                                              unsigned degree, std::uint64_t low_terms);

/// The one-bit extractor (T1): ⟨p_x(α), β⟩ with α = seed bits 0…s−1 and β = seed bits
/// s…2s−1. Requires seed.size == 2·degree and z^degree + low_terms irreducible (not checked).
bool polynomial_hash_bit(const BitVector& input, unsigned degree, std::uint64_t low_terms, const BitVector& seed);

/// The line design of (T3): m sets of t points in [0, d), d = t·min(m, q).
struct WeakDesign {
  std::size_t t = 0;  ///< set size (= 2s)
  std::size_t q = 0;  ///< prime ≥ t; m ≤ q²
  std::size_t m = 0;  ///< number of sets
};
/// Seed positions of S_i, in the order a = 0, …, t−1 (the order of the one-bit seed's bits).
std::vector<std::size_t> weak_design_set(const WeakDesign& design, std::size_t i);
/// d = t·min(m, q): every position below d belongs to some S_i.
std::size_t weak_design_seed_length(const WeakDesign& design);
/// max_i Σ_{j<i} 2^{|S_i ∩ S_j|} = (m−1) + t·⌊(m−1)/q⌋ (T4); 0 for m ≤ 1.
std::uint64_t weak_design_overlap_sum(const WeakDesign& design);
/// The design's r = overlap_sum/(m−1) (1 for m = 1; always ≥ 1).
double weak_design_r(const WeakDesign& design);

/// A fully specified Trevisan extractor and its security statement (plan_trevisan).
struct TrevisanParameters {
  std::size_t n = 0;                  ///< input length (bits)
  std::size_t m = 0;                  ///< output length; 0 when nothing can be certified
  unsigned s = 0;                     ///< field degree; one-bit seed t = 2s
  std::uint64_t field_low_terms = 0;  ///< GF(2^s) = GF(2)[z]/(z^s + g), g = field_low_terms
  std::size_t q = 0;                  ///< prime of the line design (T3)
  std::size_t d = 0;                  ///< seed length t·min(m, q)
  double r = 0;                       ///< weak-design parameter (T4)
  double k = 0;                       ///< min-entropy of the input the plan assumes (given E)
  double k1 = 0;                      ///< min-entropy the one-bit extractor is run at (T5)
  double log2_eps1 = 0;               ///< log2 of the one-bit extractor's error (T2)
  double seed_deficiency = 0;         ///< Δ = d − H∞(seed) (0 for a uniform seed)
  /// log2(2^Δ · m · ε₁) (T5, T6): distance from uniform given the seed and classical side
  /// information; −infinity when m = 0.
  double log2_error = 0;
  std::string statement;  ///< theorem, parameters, assumptions (or why m = 0)

  std::size_t t() const { return 2 * static_cast<std::size_t>(s); }
  WeakDesign design() const { return WeakDesign{t(), q, m}; }
};

/// Structure only (no security numbers): the extractor with the given n, m, s and q, and the
/// smallest irreducible z^s + g. For tests and benchmarks. Throws std::invalid_argument unless
/// n ≥ 1, m ≥ 1, 2 ≤ s ≤ kTrevisanMaxFieldDegree, q prime ≥ 2s and m ≤ q².
TrevisanParameters trevisan_structure(std::size_t n, std::size_t m, unsigned s, std::size_t q);

/// Plans Trevisan's extractor for n input bits with (conditional, smooth) min-entropy k, a
/// target error 2^log2_error_target, and a seed whose min-entropy is d·(1 − deficiency_per_bit)
/// (0: uniform seed; ε-SV: 1 + log2(½+ε)), at most `max_seed_bits` seed bits and at most
/// `max_output_bits` output bits. Maximises m over s ∈ [8, kTrevisanMaxFieldDegree] and primes
/// q ≥ 2s (ties: smallest s, then smallest error). Returns m = 0 with the reason in
/// `statement` when no m ≥ 1 meets the target; std::nullopt when n < 2. Throws
/// std::invalid_argument unless 0 ≤ k ≤ n, the target is < 0 and 0 ≤ deficiency_per_bit < 1.
std::optional<TrevisanParameters> plan_trevisan(std::size_t n, double k, double log2_error_target,
                                                double deficiency_per_bit = 0,
                                                std::size_t max_seed_bits = std::numeric_limits<std::size_t>::max(),
                                                std::size_t max_output_bits = std::numeric_limits<std::size_t>::max());

/// Throws std::invalid_argument unless the structure is admissible (see trevisan_structure)
/// and d, field_low_terms match it.
void validate(const TrevisanParameters& parameters);

/// Ext(x, y): m bits, bit i = C(x, y_{S_i}). Horner's rule over carry-less products (PCLMUL
/// when the CPU has it), four design sets at a time. Throws std::invalid_argument unless the
/// parameters are admissible, input.size == n and seed.size == d.
BitVector trevisan_extract(const TrevisanParameters& parameters, const BitVector& input, const BitVector& seed);

/// The same function straight from the definition: each S_i from its line, p_x(α) as
/// Σ_j c_j·α^j with shift-and-add products, the dot product bit by bit. For tests only.
BitVector trevisan_extract_naive(const TrevisanParameters& parameters, const BitVector& input, const BitVector& seed);

}  // namespace dira::protocol
