#pragma once
// Private helpers of extractor.cpp: dense polynomials over GF(2) packed 64 coefficients to a
// word, coefficient of z^i at bit (i % 64) of word i / 64 (the BitVector layout). Nothing here
// checks the extractors' admissibility conditions; extractor.cpp does.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dira::protocol::gf2 {

/// Number of 64-bit words holding `bits` coefficients.
constexpr std::size_t words_for(std::size_t bits) {
  return (bits + 63) / 64;
}

/// Mask of the used bits of the last word of a `bits`-bit vector (all ones when bits % 64 == 0).
constexpr std::uint64_t tail_mask(std::size_t bits) {
  return bits % 64 == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << (bits % 64)) - 1;
}

/// Bit i of the result is bit (nbits - 1 - i) of `words` (the reciprocal polynomial
/// z^(nbits-1) p(1/z)). `words` holds words_for(nbits) words; bits ≥ nbits must be zero.
std::vector<std::uint64_t> reverse_bits(const std::vector<std::uint64_t>& words, std::size_t nbits);

/// How `multiply` computes a product (all give the same exact result).
enum class Multiplier {
  automatic,   ///< gf2x alone below kTernaryThresholdWords words per operand, ternary above
  gf2x,        ///< gf2x_mul_r on the whole operands
  ternary_fft  ///< Schönhage's ternary FFT over GF(2)[z]/(z^2L + z^L + 1), gf2x for the pointwise products
};

/// Operand size (words) from which `automatic` switches to the ternary FFT. Debian's gf2x 1.3
/// ships placeholder FFT tuning (gf2x-thresholds.h: one FFT parameter, K = 243, for every size
/// above 2402 words), which makes its products grow like n^1.5 past ~10^6 bits; choosing the
/// transform length by size here restores quasi-linear growth (docs/extractors.md, "Speed").
inline constexpr std::size_t kTernaryThresholdWords = 8192;

/// Exact product over GF(2)[z] (carry-less multiplication); a.size() + b.size() words.
std::vector<std::uint64_t> multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b,
                                    Multiplier how = Multiplier::automatic);

/// Reduces a polynomial of degree ≤ 2n - 2 modulo z^n - 1 in place: since z^n ≡ 1, the
/// coefficient of z^(j+n) adds to that of z^j, so the reduction is one shift and one XOR.
/// On return `c` holds words_for(n) words with every bit ≥ n cleared.
void fold_mod_z_n_minus_1(std::vector<std::uint64_t>& c, std::size_t n);

}  // namespace dira::protocol::gf2
