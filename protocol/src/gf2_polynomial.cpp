#include "gf2_polynomial.hpp"

#include <gf2x.h>

#include <algorithm>
#include <cmath>
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

namespace {

/// 64 bits of src starting at bit pos (zeros past the end).
std::uint64_t read64(const std::uint64_t* src, std::size_t nwords, std::size_t pos) {
  const std::size_t q = pos / 64, b = pos % 64;
  if (q >= nwords) return 0;
  std::uint64_t v = src[q] >> b;
  if (b != 0 && q + 1 < nwords) v |= src[q + 1] << (64 - b);
  return v;
}

/// dst[dpos, dpos + len) ^= src[spos, spos + len) (bit ranges; src has nsrc words).
void xor_range(std::uint64_t* dst, std::size_t dpos, const std::uint64_t* src, std::size_t nsrc, std::size_t spos,
               std::size_t len) {
  std::size_t done = 0;
  while (done < len) {
    const std::size_t d = dpos + done, b = d % 64;
    const std::size_t take = std::min<std::size_t>(64 - b, len - done);
    std::uint64_t chunk = read64(src, nsrc, spos + done);
    if (take < 64) chunk &= (std::uint64_t{1} << take) - 1;
    dst[d / 64] ^= chunk << b;
    done += take;
  }
}

/// Schönhage's ternary FFT multiplication over GF(2) (A. Schönhage, "Schnelle Multiplikation
/// von Polynomen über Körpern der Charakteristik 2", Acta Informatica 7 (1977) 395–398).
///
/// The operands are cut into pieces of M bits, read as polynomials in Y with coefficients in
/// R = GF(2)[z]/(P), P = z^2L + z^L + 1, where K = 3^k divides 3L and 2L ≥ 2M - 1. In R,
/// z^3L = 1, so ω = z^(3L/K) has order K, and for every j ≢ 0 (mod K) the sum of ω^(ij) over
/// i < K vanishes (the last factor of the geometric sum is 1 + w^a + w^2a with w = z^L, 3 ∤ a,
/// which P divides); K is odd, so 1/K = 1 in characteristic 2. A length-K DFT therefore turns
/// the product into K pointwise products in R, and since 2K' - 1 ≤ K (K' pieces) and each
/// piece product has degree < 2L, the cyclic convolution is the exact product. Elements are
/// kept modulo z^3L - 1 (a multiple of P), where multiplying by a power of z is a rotation.
class TernaryFft {
 public:
  TernaryFft(std::size_t abits, std::size_t bbits) : abits_(abits), bbits_(bbits) { choose(); }

  std::vector<std::uint64_t> multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    std::vector<std::uint64_t> fa = load(a, abits_), fb = load(b, bbits_);
    forward(fa);
    forward(fb);
    // Pointwise products in R: reduce both to 2L bits, multiply with gf2x, fold mod z^3L - 1.
    std::vector<std::uint64_t> x(w2_), y(w2_), prod(2 * w2_);
    for (std::size_t i = 0; i < K_; ++i) {
      reduce_p(element(fa, i), x.data());
      reduce_p(element(fb, i), y.data());
      gf2x_call(prod.data(), x.data(), w2_, y.data(), w2_);
      std::uint64_t* dst = element(fa, i);
      std::fill(dst, dst + w3_, 0);
      xor_range(dst, 0, prod.data(), prod.size(), 0, std::min(T_, 4 * L_));
      if (4 * L_ > T_) xor_range(dst, 0, prod.data(), prod.size(), T_, 4 * L_ - T_);
    }
    inverse(fa);
    // Each coefficient, reduced mod P, is the exact product piece C_j (degree < 2L); C = sum C_j z^(jM).
    std::vector<std::uint64_t> c(a.size() + b.size(), 0);
    const std::size_t cbits = 64 * c.size();
    for (std::size_t j = 0; j < K_ && j * M_ < cbits; ++j) {
      reduce_p(element(fa, j), x.data());
      xor_range(c.data(), j * M_, x.data(), w2_, 0, std::min(2 * L_, cbits - j * M_));
    }
    return c;
  }

  static void gf2x_call(std::uint64_t* c, const std::uint64_t* a, std::size_t an, const std::uint64_t* b,
                        std::size_t bn) {
    const int rc = gf2x_mul_r(c, a, an, b, bn, nullptr);
    if (rc == GF2X_ERROR_OUT_OF_MEMORY) throw std::bad_alloc();
    if (rc != 0) throw std::runtime_error("gf2x_mul_r failed");
  }

 private:
  std::size_t abits_, bbits_;
  std::size_t K_ = 0, k_ = 0, M_ = 0, L_ = 0, T_ = 0, w2_ = 0, w3_ = 0;

  /// Fixes K = 3^k, the piece size M, and L (a multiple of K/3 with L ≥ M).
  void set(unsigned k) {
    k_ = k;
    K_ = 1;
    for (unsigned i = 0; i < k; ++i) K_ *= 3;
    const auto pieces = [](std::size_t bits, std::size_t m) { return bits == 0 ? std::size_t{1} : (bits + m - 1) / m; };
    M_ = std::max<std::size_t>(1, (abits_ + bbits_ + K_) / (K_ + 1));
    while (pieces(abits_, M_) + pieces(bbits_, M_) - 1 > K_) ++M_;
    const std::size_t unit = K_ / 3;
    L_ = (M_ + unit - 1) / unit * unit;
    T_ = 3 * L_;
    w2_ = words_for(2 * L_);
    w3_ = words_for(T_);
  }

  /// Picks k minimising a cost model of this machine class: K gf2x products of 2L bits
  /// (≈ 21 ns · w^1.6 for w words, measured on Debian's gf2x) plus 3 transforms of k stages,
  /// each stage K/3 butterflies of 9 rotate-and-XORs of 3L bits (≈ 1.5 ns per word).
  void choose() {
    double best = 0;
    unsigned best_k = 1;
    for (unsigned k = 1; k <= 14; ++k) {
      set(k);
      const double K = static_cast<double>(K_);
      const double cost = K * 21.0 * std::pow(static_cast<double>(w2_), 1.6) +
                          9.0 * static_cast<double>(k_) * K * static_cast<double>(w3_) * 1.5;
      if (k == 1 || cost < best) {
        best = cost;
        best_k = k;
      }
    }
    set(best_k);
  }

  std::uint64_t* element(std::vector<std::uint64_t>& v, std::size_t i) const { return v.data() + i * w3_; }

  /// K elements of 3L bits; element i holds bits [iM, (i+1)M) of the operand.
  std::vector<std::uint64_t> load(const std::vector<std::uint64_t>& a, std::size_t bits) const {
    std::vector<std::uint64_t> v(K_ * w3_, 0);
    for (std::size_t i = 0; i * M_ < bits; ++i)
      xor_range(v.data() + i * w3_, 0, a.data(), a.size(), i * M_, std::min(M_, bits - i * M_));
    return v;
  }

  /// out (2L bits) = v mod P for v of 3L bits: v0 + v1 z^L + v2 z^2L ≡ (v0 + v2) + (v1 + v2) z^L.
  void reduce_p(const std::uint64_t* v, std::uint64_t* out) const {
    std::fill(out, out + w2_, 0);
    xor_range(out, 0, v, w3_, 0, 2 * L_);
    xor_range(out, 0, v, w3_, 2 * L_, L_);
    xor_range(out, L_, v, w3_, 2 * L_, L_);
  }

  /// dst ^= z^e · src modulo z^T - 1 (a cyclic rotation by e < T).
  void xor_rotated(std::uint64_t* dst, const std::uint64_t* src, std::size_t e) const {
    e %= T_;
    xor_range(dst, e, src, w3_, 0, T_ - e);
    if (e != 0) xor_range(dst, 0, src, w3_, T_ - e, e);
  }

  /// Gentleman–Sande (decimation in frequency) radix-3 DFT with ω = z^(3L/K); the output is
  /// in base-3 digit-reversed order, which `inverse` expects.
  void forward(std::vector<std::uint64_t>& v) const { dif(v, T_ / K_); }
  /// Cooley–Tukey (decimation in time) radix-3 DFT with ω^-1 on digit-reversed input: with
  /// `forward` it composes to K · identity = identity (K odd, characteristic 2).
  void inverse(std::vector<std::uint64_t>& v) const { dit(v, T_ - T_ / K_); }

  void dif(std::vector<std::uint64_t>& v, std::size_t e) const {
    std::vector<std::uint64_t> t(3 * w3_);
    for (std::size_t size = K_; size >= 3; size /= 3) {
      const std::size_t third = size / 3, es = e * (K_ / size) % T_, r = es * third % T_;
      for (std::size_t start = 0; start < K_; start += size)
        for (std::size_t j = 0; j < third; ++j) {
          std::uint64_t *a = element(v, start + j), *b = element(v, start + j + third),
                        *c = element(v, start + j + 2 * third);
          const std::size_t tw = es * j % T_;
          std::fill(t.begin(), t.end(), 0);
          std::uint64_t *t0 = t.data(), *t1 = t0 + w3_, *t2 = t1 + w3_;
          for (std::size_t w = 0; w < w3_; ++w) t0[w] = a[w] ^ b[w] ^ c[w];
          // (a + ρ b + ρ² c) ω^j and (a + ρ² b + ρ c) ω^2j, ρ = ω^(size/3) = z^r.
          xor_rotated(t1, a, tw);
          xor_rotated(t1, b, r + tw);
          xor_rotated(t1, c, 2 * r + tw);
          xor_rotated(t2, a, 2 * tw);
          xor_rotated(t2, b, 2 * r + 2 * tw);
          xor_rotated(t2, c, r + 2 * tw);
          std::copy(t0, t0 + w3_, a);
          std::copy(t1, t1 + w3_, b);
          std::copy(t2, t2 + w3_, c);
        }
    }
  }

  void dit(std::vector<std::uint64_t>& v, std::size_t e) const {
    std::vector<std::uint64_t> t(3 * w3_);
    for (std::size_t size = 3; size <= K_; size *= 3) {
      const std::size_t third = size / 3, es = e * (K_ / size) % T_, r = es * third % T_;
      for (std::size_t start = 0; start < K_; start += size)
        for (std::size_t j = 0; j < third; ++j) {
          std::uint64_t *a = element(v, start + j), *b = element(v, start + j + third),
                        *c = element(v, start + j + 2 * third);
          const std::size_t tw = es * j % T_;
          std::uint64_t *t0 = t.data(), *t1 = t0 + w3_, *t2 = t1 + w3_;
          std::copy(a, a + w3_, t0);
          std::copy(a, a + w3_, t1);
          std::copy(a, a + w3_, t2);
          // X_k2 = a + ρ^k2 ω^j b + ρ^2k2 ω^2j c for k2 = 0, 1, 2.
          xor_rotated(t0, b, tw);
          xor_rotated(t0, c, 2 * tw);
          xor_rotated(t1, b, tw + r);
          xor_rotated(t1, c, 2 * tw + 2 * r);
          xor_rotated(t2, b, tw + 2 * r);
          xor_rotated(t2, c, 2 * tw + r);
          std::copy(t0, t0 + w3_, a);
          std::copy(t1, t1 + w3_, b);
          std::copy(t2, t2 + w3_, c);
        }
    }
  }
};

}  // namespace

std::vector<std::uint64_t> multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b,
                                    Multiplier how) {
  std::vector<std::uint64_t> c(a.size() + b.size());
  if (a.empty() || b.empty()) return c;
  if (how == Multiplier::automatic)
    how = std::min(a.size(), b.size()) >= kTernaryThresholdWords ? Multiplier::ternary_fft : Multiplier::gf2x;
  if (how == Multiplier::ternary_fft) return TernaryFft(64 * a.size(), 64 * b.size()).multiply(a, b);
  // gf2x_mul_r with a null pool allocates its scratch space for this call only, so it is
  // reentrant (gf2x_mul keeps a static pool); gf2x picks schoolbook, Karatsuba, Toom-Cook or
  // its FFT by size (Brent, Gaudry, Thomé, Zimmermann, "Faster multiplication in GF(2)[x]",
  // ANTS-VIII, LNCS 5011, 2008).
  TernaryFft::gf2x_call(c.data(), a.data(), a.size(), b.data(), b.size());
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
