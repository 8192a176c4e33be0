#include "gf2_polynomial.hpp"

#include <gf2x.h>

#include <new>
#include <stdexcept>
#include <type_traits>

namespace dira::protocol::gf2 {

// gf2x works on arrays of unsigned long; on the LP64 platforms dira targets (Debian amd64,
// arm64) that is the same type as std::uint64_t, so our words are passed without copying.
static_assert(std::is_same_v<unsigned long, std::uint64_t>, "gf2x words must be 64-bit");

namespace {

/// Reverses the 64 bits of a word by swapping halves, quarters, … (log2(64) = 6 steps).
std::uint64_t reverse64(std::uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
  v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
  return (v >> 32) | (v << 32);
}

/// Word j of (c >> shift), reading zeros past the end of c.
std::uint64_t shifted_word(const std::vector<std::uint64_t>& c, std::size_t j, std::size_t shift) {
  const std::size_t q = shift / 64, b = shift % 64;
  const std::size_t lo = j + q;
  const std::uint64_t low = lo < c.size() ? c[lo] >> b : 0;
  const std::uint64_t high = (b != 0 && lo + 1 < c.size()) ? c[lo + 1] << (64 - b) : 0;
  return low | high;
}

}  // namespace

std::vector<std::uint64_t> reverse_bits(const std::vector<std::uint64_t>& words, std::size_t nbits) {
  const std::size_t w = words_for(nbits);
  // Reversing the whole 64w-bit block puts bit i at 64w - 1 - i; shifting right by the
  // 64w - nbits unused positions then lands it at nbits - 1 - i.
  std::vector<std::uint64_t> r(w);
  for (std::size_t j = 0; j < w; ++j) r[j] = reverse64(words[w - 1 - j]);
  const std::size_t unused = 64 * w - nbits;
  if (unused != 0) {
    for (std::size_t j = 0; j < w; ++j) r[j] = shifted_word(r, j, unused);
  }
  if (w != 0) r[w - 1] &= tail_mask(nbits);
  return r;
}

std::vector<std::uint64_t> multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  std::vector<std::uint64_t> c(a.size() + b.size());
  if (a.empty() || b.empty()) return c;
  // gf2x_mul_r with a null pool allocates its scratch space for this call only, so it is
  // reentrant (gf2x_mul keeps a static pool); gf2x picks schoolbook, Karatsuba, Toom-Cook or
  // its FFT by size (Brent, Gaudry, Thomé, Zimmermann, "Faster multiplication in GF(2)[x]",
  // ANTS-VIII, LNCS 5011, 2008).
  const int rc = gf2x_mul_r(c.data(), a.data(), a.size(), b.data(), b.size(), nullptr);
  if (rc == GF2X_ERROR_OUT_OF_MEMORY) throw std::bad_alloc();
  if (rc != 0) throw std::runtime_error("gf2x_mul_r failed");
  return c;
}

void fold_mod_z_n_minus_1(std::vector<std::uint64_t>& c, std::size_t n) {
  const std::size_t w = words_for(n);
  if (c.size() < w) c.resize(w, 0);
  // r_j = c_j XOR c_(j+n) for j < n. Word j of (c >> n) reads words ≥ j + n/64 ≥ j, and
  // equality only happens for n < 64 (one word), where it is read before it is written,
  // so the fold can run in place.
  for (std::size_t j = 0; j < w; ++j) {
    const std::uint64_t high = shifted_word(c, j, n);
    c[j] ^= high;
  }
  c.resize(w);
  if (w != 0) c[w - 1] &= tail_mask(n);
}

}  // namespace dira::protocol::gf2
