// Trevisan's extractor (trevisan.hpp). Equation labels (T1)…(T6) refer to docs/extractors.md,
// "Trevisan's extractor with a weak seed (Protocol C)".

#include "dira/protocol/trevisan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DIRA_TREVISAN_PCLMUL 1
#endif

namespace dira::protocol {

namespace {

constexpr std::size_t words_for(std::size_t bits) {
  return (bits + 63) / 64;
}

/// Field GF(2)[z]/(z^s + g) with deg g < 64.
struct FieldSpec {
  unsigned s = 0;
  std::uint64_t g = 0;
  bool two_rounds = false;  ///< 2·deg g − 2 < s: reduce in exactly two rounds (see reduce)

  FieldSpec(unsigned degree, std::uint64_t low_terms) : s(degree), g(low_terms) {
    const int e = low_terms == 0 ? 0 : 63 - __builtin_clzll(low_terms);
    two_rounds = 2 * e - 2 < static_cast<int>(degree) && e < 63;
  }
};

// ---- carry-less 64×64 → 128 products ----------------------------------------------------------

/// Portable carry-less product with a 4-bit window (16 table entries, 16 steps).
struct PortableClmul {
  static inline void mul(std::uint64_t a, std::uint64_t b, std::uint64_t& lo, std::uint64_t& hi) {
    std::uint64_t tlo[16], thi[16];
    tlo[0] = 0;
    thi[0] = 0;
    for (unsigned v = 1; v < 16; ++v) {
      // tab[v] = a · v(z); built from tab[v with its top bit cleared] ⊕ a·z^top.
      unsigned top = 0;
      while ((v >> (top + 1)) != 0) ++top;
      const unsigned rest = v ^ (1U << top);
      tlo[v] = tlo[rest] ^ (a << top);
      thi[v] = thi[rest] ^ (top == 0 ? 0 : a >> (64 - top));
    }
    std::uint64_t rl = 0, rh = 0;
    for (int nib = 15; nib >= 0; --nib) {
      rh = (rh << 4) | (rl >> 60);
      rl <<= 4;
      const unsigned v = static_cast<unsigned>((b >> (4 * nib)) & 0xFU);
      rl ^= tlo[v];
      rh ^= thi[v];
    }
    lo = rl;
    hi = rh;
  }
};

#ifdef DIRA_TREVISAN_PCLMUL
struct HardwareClmul {
  __attribute__((target("pclmul,sse4.1"))) static inline void mul(std::uint64_t a, std::uint64_t b, std::uint64_t& lo,
                                                                  std::uint64_t& hi) {
    const __m128i x = _mm_cvtsi64_si128(static_cast<long long>(a));
    const __m128i y = _mm_cvtsi64_si128(static_cast<long long>(b));
    const __m128i p = _mm_clmulepi64_si128(x, y, 0);
    lo = static_cast<std::uint64_t>(_mm_cvtsi128_si64(p));
    hi = static_cast<std::uint64_t>(_mm_extract_epi64(p, 1));
  }
};

bool cpu_has_pclmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

// ---- GF(2^s) arithmetic on W-word elements ---------------------------------------------------

/// Bits [offset, offset + 64) of a `size`-word array (zeros past its end).
inline std::uint64_t word_at(const std::uint64_t* p, std::size_t size, std::size_t offset) {
  const std::size_t idx = offset / 64, sh = offset % 64;
  if (idx >= size) return 0;
  std::uint64_t w = p[idx] >> sh;
  if (sh != 0 && idx + 1 < size) w |= p[idx + 1] << (64 - sh);
  return w;
}

/// Clears the bits ≥ s of a 2W-word array.
template <unsigned W>
inline void clear_from(std::uint64_t* p, unsigned s) {
  const unsigned sw = s / 64, sb = s % 64;
  if (sw < 2 * W) p[sw] &= sb == 0 ? 0 : (std::uint64_t{1} << sb) - 1;
  for (unsigned k = sw + 1; k < 2 * W; ++k) p[k] = 0;
}

/// out = p mod (z^s + g) for p of 2W words and degree ≤ 2s − 2. Each round replaces the part
/// H·z^s (H = p div z^s) by H·g, which lowers the degree since deg g < s. When 2·deg g − 2 < s
/// (every table polynomial for s ≥ 8) exactly two rounds do it: after the first the degree is
/// ≤ s − 2 + deg g, so the second H has degree ≤ deg g − 2 and H·g degree ≤ 2·deg g − 2 < s.
template <unsigned W, class C>
inline void reduce(std::uint64_t* p, std::uint64_t* out, const FieldSpec& f) {
  if (f.two_rounds) {
    std::uint64_t h[W];
    for (unsigned k = 0; k < W; ++k) h[k] = word_at(p, 2 * W, f.s + 64 * static_cast<std::size_t>(k));
    clear_from<W>(p, f.s);
    for (unsigned k = 0; k < W; ++k) {
      std::uint64_t lo, hi;
      C::mul(h[k], f.g, lo, hi);
      p[k] ^= lo;
      p[k + 1] ^= hi;
    }
    const std::uint64_t h2 = word_at(p, 2 * W, f.s);
    clear_from<W>(p, f.s);
    std::uint64_t lo, hi;
    C::mul(h2, f.g, lo, hi);
    p[0] ^= lo;
    p[1] ^= hi;  // p has 2W ≥ 2 words; for W = 1, hi = 0 (degree < s ≤ 64)
    for (unsigned k = 0; k < W; ++k) out[k] = p[k];
    return;
  }
  for (;;) {
    std::uint64_t h[W];
    std::uint64_t any = 0;
    for (unsigned k = 0; k < W; ++k) {
      h[k] = word_at(p, 2 * W, f.s + 64 * static_cast<std::size_t>(k));
      any |= h[k];
    }
    if (any == 0) break;
    clear_from<W>(p, f.s);
    for (unsigned k = 0; k < W; ++k) {
      if (h[k] == 0) continue;
      std::uint64_t lo, hi;
      C::mul(h[k], f.g, lo, hi);
      p[k] ^= lo;
      p[k + 1] ^= hi;
    }
  }
  for (unsigned k = 0; k < W; ++k) out[k] = p[k];
}

template <unsigned W, class C>
inline void field_mul(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, const FieldSpec& f) {
  std::uint64_t p[2 * W] = {};
  for (unsigned i = 0; i < W; ++i)
    for (unsigned j = 0; j < W; ++j) {
      std::uint64_t lo, hi;
      C::mul(a[i], b[j], lo, hi);
      p[i + j] ^= lo;
      p[i + j + 1] ^= hi;
    }
  reduce<W, C>(p, out, f);
}

/// Horner's rule for B points at once (independent chains keep the multiplier busy):
/// r_b = p(α_b) = Σ_j c_j α_b^j, coefficients c_0 … c_{N−1} of W words each.
template <unsigned W, unsigned B, class C>
inline void horner(const std::uint64_t* coeffs, std::size_t N, const std::uint64_t* alphas, std::uint64_t* results,
                   const FieldSpec& f) {
  std::uint64_t r[B][W];
  for (unsigned b = 0; b < B; ++b)
    for (unsigned k = 0; k < W; ++k) r[b][k] = coeffs[(N - 1) * W + k];
  for (std::size_t j = N - 1; j-- > 0;) {
    const std::uint64_t* c = coeffs + j * W;
    for (unsigned b = 0; b < B; ++b) {
      std::uint64_t t[W];
      field_mul<W, C>(r[b], alphas + b * W, t, f);
      for (unsigned k = 0; k < W; ++k) r[b][k] = t[k] ^ c[k];
    }
  }
  for (unsigned b = 0; b < B; ++b)
    for (unsigned k = 0; k < W; ++k) results[b * W + k] = r[b][k];
}

constexpr unsigned kBatch = 4;

template <unsigned W, class C>
void horner_all(const std::uint64_t* coeffs, std::size_t N, const std::uint64_t* alphas, std::size_t count,
                std::uint64_t* results, const FieldSpec& f) {
  std::size_t i = 0;
  for (; i + kBatch <= count; i += kBatch) horner<W, kBatch, C>(coeffs, N, alphas + i * W, results + i * W, f);
  for (; i < count; ++i) horner<W, 1, C>(coeffs, N, alphas + i * W, results + i * W, f);
}

template <unsigned W>
void mul_portable(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, const FieldSpec& f) {
  field_mul<W, PortableClmul>(a, b, out, f);
}
template <unsigned W>
void horner_portable(const std::uint64_t* coeffs, std::size_t N, const std::uint64_t* alphas, std::size_t count,
                     std::uint64_t* results, const FieldSpec& f) {
  horner_all<W, PortableClmul>(coeffs, N, alphas, count, results, f);
}
#ifdef DIRA_TREVISAN_PCLMUL
// flatten: inline the whole kernel here so the PCLMUL products are inlined too.
template <unsigned W>
__attribute__((target("pclmul,sse4.1"), flatten)) void mul_hardware(const std::uint64_t* a, const std::uint64_t* b,
                                                                    std::uint64_t* out, const FieldSpec& f) {
  field_mul<W, HardwareClmul>(a, b, out, f);
}
template <unsigned W>
__attribute__((target("pclmul,sse4.1"), flatten)) void horner_hardware(const std::uint64_t* coeffs, std::size_t N,
                                                                       const std::uint64_t* alphas, std::size_t count,
                                                                       std::uint64_t* results, const FieldSpec& f) {
  horner_all<W, HardwareClmul>(coeffs, N, alphas, count, results, f);
}
#endif

using MulFn = void (*)(const std::uint64_t*, const std::uint64_t*, std::uint64_t*, const FieldSpec&);
using HornerFn = void (*)(const std::uint64_t*, std::size_t, const std::uint64_t*, std::size_t, std::uint64_t*,
                          const FieldSpec&);

template <unsigned W>
MulFn pick_mul() {
#ifdef DIRA_TREVISAN_PCLMUL
  if (cpu_has_pclmul()) return &mul_hardware<W>;
#endif
  return &mul_portable<W>;
}
template <unsigned W>
HornerFn pick_horner() {
#ifdef DIRA_TREVISAN_PCLMUL
  if (cpu_has_pclmul()) return &horner_hardware<W>;
#endif
  return &horner_portable<W>;
}

MulFn mul_for(std::size_t words) {
  switch (words) {
    case 1:
      return pick_mul<1>();
    case 2:
      return pick_mul<2>();
    case 3:
      return pick_mul<3>();
    case 4:
      return pick_mul<4>();
    case 5:
      return pick_mul<5>();
    case 6:
      return pick_mul<6>();
    case 7:
      return pick_mul<7>();
    case 8:
      return pick_mul<8>();
    default:
      throw std::invalid_argument("trevisan: field degree above 512");
  }
}
HornerFn horner_for(std::size_t words) {
  switch (words) {
    case 1:
      return pick_horner<1>();
    case 2:
      return pick_horner<2>();
    case 3:
      return pick_horner<3>();
    case 4:
      return pick_horner<4>();
    case 5:
      return pick_horner<5>();
    case 6:
      return pick_horner<6>();
    case 7:
      return pick_horner<7>();
    case 8:
      return pick_horner<8>();
    default:
      throw std::invalid_argument("trevisan: field degree above 512");
  }
}

// ---- polynomials over GF(2) for Ben-Or's test --------------------------------------------------

int degree_of(const std::vector<std::uint64_t>& p) {
  for (std::size_t k = p.size(); k-- > 0;)
    if (p[k] != 0) return static_cast<int>(64 * k + 63 - static_cast<std::size_t>(__builtin_clzll(p[k])));
  return -1;
}

/// a ^= b · z^shift (a long enough).
void xor_shifted(std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b, std::size_t shift) {
  const std::size_t ws = shift / 64, bs = shift % 64;
  for (std::size_t k = 0; k < b.size(); ++k) {
    if (b[k] == 0) continue;
    if (k + ws < a.size()) a[k + ws] ^= b[k] << bs;
    if (bs != 0 && k + ws + 1 < a.size()) a[k + ws + 1] ^= b[k] >> (64 - bs);
  }
}

bool gcd_is_one(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b) {
  int da = degree_of(a), db = degree_of(b);
  while (db >= 0) {
    while (da >= db) {
      xor_shifted(a, b, static_cast<std::size_t>(da - db));
      da = degree_of(a);
    }
    std::swap(a, b);
    std::swap(da, db);
  }
  return da == 0;
}

/// Ben-Or: f = z^s + g is irreducible iff gcd(z^(2^i) − z mod f, f) = 1 for 1 ≤ i ≤ s/2.
bool ben_or_irreducible(unsigned s, std::uint64_t g) {
  const std::size_t W = words_for(s);
  const FieldSpec f{s, g};
  const MulFn mul = mul_for(W);
  std::vector<std::uint64_t> fpoly(words_for(s + 1), 0);
  fpoly[0] ^= g;
  fpoly[s / 64] ^= std::uint64_t{1} << (s % 64);
  std::vector<std::uint64_t> h(W, 0), sq(W, 0);
  if (s == 1) return true;
  h[0] = 2;  // z
  for (unsigned i = 1; i <= s / 2; ++i) {
    mul(h.data(), h.data(), sq.data(), f);
    h = sq;
    std::vector<std::uint64_t> diff(fpoly.size(), 0);
    for (std::size_t k = 0; k < W; ++k) diff[k] = h[k];
    diff[0] ^= 2;
    if (!gcd_is_one(diff, fpoly)) return false;
  }
  return true;
}

// ---- input blocks and seed gathering -----------------------------------------------------------

/// Bits [pos, pos + len) of `v` into words_for(len)… W words at dst (bits past v.size are 0).
void copy_bits(const BitVector& v, std::size_t pos, std::size_t len, std::uint64_t* dst, std::size_t W) {
  for (std::size_t k = 0; k < W; ++k) {
    const std::size_t off = 64 * k;
    if (off >= len) {
      dst[k] = 0;
      continue;
    }
    std::uint64_t w = word_at(v.words.data(), v.words.size(), pos + off);
    const std::size_t take = std::min<std::size_t>(64, len - off);
    if (take < 64) w &= (std::uint64_t{1} << take) - 1;
    dst[k] = w;
  }
}

std::size_t next_prime(std::size_t x) {
  if (x <= 2) return 2;
  std::size_t p = x | 1U;
  while (!is_prime(p)) p += 2;
  return p;
}

double log2_sum(double a, double b) {  // log2(2^a + 2^b)
  const double hi = std::max(a, b), lo = std::min(a, b);
  if (hi == -std::numeric_limits<double>::infinity()) return hi;
  return hi + std::log2(1.0 + std::exp2(lo - hi));
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

// ---- public: field ------------------------------------------------------------------------------

std::uint64_t gf2_irreducible_low_terms(unsigned degree) {
  if (degree < 2 || degree > kTrevisanMaxFieldDegree)
    throw std::invalid_argument("trevisan: field degree " + std::to_string(degree) + " outside [2, 512]");
  // g must have a constant term (else z | f) and even weight (else f(1) = 0).
  const std::uint64_t limit = degree >= 64 ? (std::uint64_t{1} << 63) : (std::uint64_t{1} << degree);
  for (std::uint64_t g = 1; g < limit; g += 2) {
    if (__builtin_popcountll(g) % 2 != 0) continue;
    if (ben_or_irreducible(degree, g)) return g;
  }
  throw std::logic_error("trevisan: no irreducible z^s + g with g < 2^63");
}

std::vector<std::uint64_t> gf2_field_multiply(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b,
                                              unsigned degree, std::uint64_t low_terms) {
  if (degree < 2 || degree > kTrevisanMaxFieldDegree)
    throw std::invalid_argument("trevisan: field degree outside [2, 512]");
  const std::size_t W = words_for(degree);
  if (a.size() != W || b.size() != W) throw std::invalid_argument("trevisan: element size");
  const std::uint64_t tail = degree % 64 == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << (degree % 64)) - 1;
  if ((a[W - 1] & ~tail) != 0 || (b[W - 1] & ~tail) != 0) throw std::invalid_argument("trevisan: element has bits ≥ s");
  if (low_terms >> std::min(63U, degree) != 0 && degree < 64)
    throw std::invalid_argument("trevisan: low terms of degree ≥ s");
  std::vector<std::uint64_t> out(W, 0);
  mul_for(W)(a.data(), b.data(), out.data(), FieldSpec{degree, low_terms});
  return out;
}

bool polynomial_hash_bit(const BitVector& input, unsigned degree, std::uint64_t low_terms, const BitVector& seed) {
  if (degree < 2 || degree > kTrevisanMaxFieldDegree)
    throw std::invalid_argument("trevisan: field degree outside [2, 512]");
  if (seed.size != 2 * static_cast<std::size_t>(degree))
    throw std::invalid_argument("trevisan: one-bit seed is not 2s bits");
  if (input.size == 0) throw std::invalid_argument("trevisan: empty input");
  const std::size_t W = words_for(degree), N = (input.size + degree - 1) / degree;
  std::vector<std::uint64_t> coeffs(N * W), alpha(W), beta(W), value(W);
  for (std::size_t j = 0; j < N; ++j)
    copy_bits(input, j * degree, std::min<std::size_t>(degree, input.size - j * degree), coeffs.data() + j * W, W);
  copy_bits(seed, 0, degree, alpha.data(), W);
  copy_bits(seed, degree, degree, beta.data(), W);
  horner_for(W)(coeffs.data(), N, alpha.data(), 1, value.data(), FieldSpec{degree, low_terms});
  unsigned parity = 0;
  for (std::size_t k = 0; k < W; ++k) parity ^= static_cast<unsigned>(__builtin_popcountll(value[k] & beta[k]));
  return (parity & 1U) != 0;
}

// ---- public: weak design (T3), (T4) -------------------------------------------------------------

std::vector<std::size_t> weak_design_set(const WeakDesign& design, std::size_t i) {
  if (design.q == 0 || i >= design.m || design.t > design.q)
    throw std::invalid_argument("trevisan: design set index or design out of range");
  const std::size_t v = i / design.q, u = i % design.q;
  std::vector<std::size_t> set(design.t);
  for (std::size_t a = 0; a < design.t; ++a) {
    const std::size_t b = (u + v * a) % design.q;  // v, a < q ≤ 2^32 in practice: no overflow
    set[a] = b * design.t + a;
  }
  return set;
}

std::size_t weak_design_seed_length(const WeakDesign& design) {
  return design.t * std::min(design.m, design.q);
}

std::uint64_t weak_design_overlap_sum(const WeakDesign& design) {
  if (design.m <= 1) return 0;
  // (T4): for i = v·q + u, the i earlier lines contribute 2^0 each, plus one intersection
  // with each of the t earlier lines of every earlier slope whose meeting point lies in [0, t).
  const std::uint64_t i = design.m - 1;
  return i + static_cast<std::uint64_t>(design.t) * (i / design.q);
}

double weak_design_r(const WeakDesign& design) {
  if (design.m <= 1) return 1.0;
  return static_cast<double>(weak_design_overlap_sum(design)) / static_cast<double>(design.m - 1);
}

// ---- public: parameters ---------------------------------------------------------------------------

TrevisanParameters trevisan_structure(std::size_t n, std::size_t m, unsigned s, std::size_t q) {
  if (n < 1 || m < 1) throw std::invalid_argument("trevisan: n and m must be ≥ 1");
  if (s < 2 || s > kTrevisanMaxFieldDegree) throw std::invalid_argument("trevisan: s outside [2, 512]");
  if (q < 2 * static_cast<std::size_t>(s) || !is_prime(q))
    throw std::invalid_argument("trevisan: q must be a prime ≥ 2s");
  if (q > (std::size_t{1} << 31) || m > q * q) throw std::invalid_argument("trevisan: m > q² (or q too large)");
  TrevisanParameters p;
  p.n = n;
  p.m = m;
  p.s = s;
  p.q = q;
  p.field_low_terms = gf2_irreducible_low_terms(s);
  p.d = weak_design_seed_length(p.design());
  p.r = weak_design_r(p.design());
  p.statement = "structure only (no security statement)";
  return p;
}

void validate(const TrevisanParameters& p) {
  if (p.n < 1 || p.m < 1) throw std::invalid_argument("trevisan: n and m must be ≥ 1");
  if (p.s < 2 || p.s > kTrevisanMaxFieldDegree) throw std::invalid_argument("trevisan: s outside [2, 512]");
  if (p.q < p.t() || !is_prime(p.q) || p.q > (std::size_t{1} << 31) || p.m > p.q * p.q)
    throw std::invalid_argument("trevisan: q must be a prime ≥ 2s with m ≤ q²");
  if (p.d != weak_design_seed_length(p.design())) throw std::invalid_argument("trevisan: d ≠ t·min(m, q)");
  if (p.field_low_terms != gf2_irreducible_low_terms(p.s))
    throw std::invalid_argument("trevisan: field polynomial is not the table's z^s + g");
}

// ---- public: extraction -----------------------------------------------------------------------

BitVector trevisan_extract(const TrevisanParameters& p, const BitVector& input, const BitVector& seed) {
  validate(p);
  if (input.size != p.n || seed.size != p.d) throw std::invalid_argument("trevisan: input or seed length mismatch");
  const std::size_t W = words_for(p.s), s = p.s, t = p.t(), N = (p.n + s - 1) / s;
  std::vector<std::uint64_t> coeffs(N * W);
  for (std::size_t j = 0; j < N; ++j) copy_bits(input, j * s, std::min(s, p.n - j * s), coeffs.data() + j * W, W);
  // One-bit seeds y_{S_i}: element a of S_i is position b_i(a)·t + a, b_i(a) = u + v·a mod q (T3).
  std::vector<std::uint64_t> alphas(p.m * W, 0), betas(p.m * W, 0), values(p.m * W, 0);
  for (std::size_t i = 0; i < p.m; ++i) {
    const std::size_t v = i / p.q, u = i % p.q;
    std::size_t b = u;
    for (std::size_t a = 0; a < t; ++a) {
      if (seed.get(b * t + a)) {
        std::uint64_t* dst = a < s ? alphas.data() + i * W : betas.data() + i * W;
        const std::size_t bit = a < s ? a : a - s;
        dst[bit / 64] |= std::uint64_t{1} << (bit % 64);
      }
      b += v;
      if (b >= p.q) b -= p.q;
    }
  }
  horner_for(W)(coeffs.data(), N, alphas.data(), p.m, values.data(), FieldSpec{p.s, p.field_low_terms});
  BitVector out = BitVector::zeros(p.m);
  for (std::size_t i = 0; i < p.m; ++i) {
    unsigned parity = 0;
    for (std::size_t k = 0; k < W; ++k)
      parity ^= static_cast<unsigned>(__builtin_popcountll(values[i * W + k] & betas[i * W + k]));
    if ((parity & 1U) != 0) out.words[i / 64] |= std::uint64_t{1} << (i % 64);
  }
  return out;
}

namespace {

/// Shift-and-add product in GF(2)[z]/(z^s + g), one bit at a time (independent of the kernel).
std::vector<bool> naive_mul(const std::vector<bool>& a, const std::vector<bool>& b, unsigned s, std::uint64_t g) {
  std::vector<bool> acc(s, false), x = a;
  for (unsigned j = 0; j < s; ++j) {
    if (b[j])
      for (unsigned k = 0; k < s; ++k) acc[k] = acc[k] != x[k];
    // x ← x·z mod (z^s + g): the coefficient leaving at z^s comes back as g.
    const bool carry = x[s - 1];
    for (unsigned k = s - 1; k > 0; --k) x[k] = x[k - 1];
    x[0] = false;
    if (carry)
      for (unsigned k = 0; k < s && k < 64; ++k) x[k] = x[k] != (((g >> k) & 1U) != 0);
  }
  return acc;
}

}  // namespace

BitVector trevisan_extract_naive(const TrevisanParameters& p, const BitVector& input, const BitVector& seed) {
  validate(p);
  if (input.size != p.n || seed.size != p.d) throw std::invalid_argument("trevisan: input or seed length mismatch");
  const unsigned s = p.s;
  const std::size_t N = (p.n + s - 1) / s;
  BitVector out = BitVector::zeros(p.m);
  for (std::size_t i = 0; i < p.m; ++i) {
    const std::vector<std::size_t> set = weak_design_set(p.design(), i);
    std::vector<bool> alpha(s), beta(s);
    for (unsigned a = 0; a < s; ++a) {
      alpha[a] = seed.get(set[a]);
      beta[a] = seed.get(set[s + a]);
    }
    // p_x(α) = Σ_j c_j α^j with the powers built one product at a time (T1).
    std::vector<bool> value(s, false), power(s, false);
    power[0] = true;
    for (std::size_t j = 0; j < N; ++j) {
      std::vector<bool> c(s, false);
      for (unsigned b = 0; b < s; ++b) {
        const std::size_t pos = j * s + b;
        c[b] = pos < p.n && input.get(pos);
      }
      const std::vector<bool> term = naive_mul(c, power, s, p.field_low_terms);
      for (unsigned b = 0; b < s; ++b) value[b] = value[b] != term[b];
      power = naive_mul(power, alpha, s, p.field_low_terms);
    }
    bool bit = false;
    for (unsigned b = 0; b < s; ++b) bit = bit != (value[b] && beta[b]);
    out.set(i, bit);
  }
  return out;
}

// ---- public: planning (T2), (T5), (T6) ----------------------------------------------------------

namespace {

struct Evaluation {
  bool ok = false;
  double r = 0, rm = 0, deficiency = 0, k1 = 0, log2_eps1 = 0, log2_error = 0;
  std::size_t d = 0;
};

/// Security of the extractor with field degree s, design prime q and output m (T2, T5, T6).
Evaluation evaluate(std::size_t n, double k, double target, double rate, std::size_t max_seed, unsigned s,
                    std::size_t q, std::size_t m) {
  Evaluation e;
  const std::size_t t = 2 * static_cast<std::size_t>(s), N = (n + s - 1) / s;
  const WeakDesign design{t, q, m};
  e.d = weak_design_seed_length(design);
  if (e.d > max_seed) return e;
  e.r = weak_design_r(design);
  e.rm = e.r * static_cast<double>(m);
  e.deficiency = rate * static_cast<double>(e.d);
  // (T2): ε₁ = ½·sqrt(δ + 2^(1−k₁)), δ = (N−1)/2^s. (T5): k ≥ k₁ + r·m + log2(1/ε₁).
  // Largest L = log2(1/ε₁) with k₁ = k − rm − L and δ + 2^(1−k₁) ≤ 4·2^(−2L).
  const double log2_delta =
      N > 1 ? std::log2(static_cast<double>(N - 1)) - s : -std::numeric_limits<double>::infinity();
  const double a = 1.0 - k + e.rm;  // log2 of 2^(1−k₁)·2^(−L)
  const double l_delta = (2.0 - log2_delta) / 2.0, l_c = (2.0 - a) / 3.0;
  double hi = std::min(l_delta, l_c), lo = hi - 1.0;  // lo is feasible (docs: bracket)
  for (int it = 0; it < 40; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (log2_sum(log2_delta, a + mid) <= 2.0 - 2.0 * mid)
      lo = mid;
    else
      hi = mid;
  }
  e.k1 = k - e.rm - lo;
  // Claim ε₁ = 2^(−L): the (T2) bound at k₁ is ≤ 2^(−L) by the bisection's invariant, and with
  // this claim (T5)'s requirement k₁ + r·m + log2(1/ε₁) = k holds with equality.
  e.log2_eps1 = -lo;
  e.log2_error = e.deficiency + std::log2(static_cast<double>(m)) + e.log2_eps1;
  e.ok = std::isfinite(e.log2_error) && e.log2_error <= target;
  return e;
}

}  // namespace

std::optional<TrevisanParameters> plan_trevisan(std::size_t n, double k, double log2_error_target,
                                                double deficiency_per_bit, std::size_t max_seed_bits,
                                                std::size_t max_output_bits) {
  if (!(k >= 0) || k > static_cast<double>(n)) throw std::invalid_argument("trevisan: need 0 ≤ k ≤ n");
  if (!(log2_error_target < 0)) throw std::invalid_argument("trevisan: error target must be < 1");
  if (!(deficiency_per_bit >= 0) || !(deficiency_per_bit < 1))
    throw std::invalid_argument("trevisan: seed deficiency per bit must be in [0, 1)");
  if (n < 2) return std::nullopt;

  const std::size_t m_cap = std::min<std::size_t>(max_output_bits, static_cast<std::size_t>(std::floor(k)));
  TrevisanParameters best;
  best.n = n;
  best.k = k;
  best.m = 0;
  Evaluation best_eval;
  std::size_t best_m = 0;
  if (m_cap >= 1) {
    for (unsigned s = 8; s <= kTrevisanMaxFieldDegree; ++s) {
      const std::size_t t = 2 * static_cast<std::size_t>(s);
      std::vector<std::size_t> qs{next_prime(t)};
      for (double x = static_cast<double>(qs[0]) * 1.5; x < static_cast<double>(m_cap); x *= 1.5)
        qs.push_back(next_prime(static_cast<std::size_t>(std::ceil(x))));
      qs.push_back(next_prime(std::max(t, m_cap)));
      std::sort(qs.begin(), qs.end());
      qs.erase(std::unique(qs.begin(), qs.end()), qs.end());
      for (std::size_t q : qs) {
        std::size_t m_hi = std::min<std::size_t>(m_cap, q * q);
        if (t * std::min(m_hi, q) > max_seed_bits) m_hi = std::min(m_hi, std::min(q, max_seed_bits / t));
        if (m_hi < std::max<std::size_t>(best_m, 1)) continue;
        const auto eval = [&](std::size_t m) {
          return evaluate(n, k, log2_error_target, deficiency_per_bit, max_seed_bits, s, q, m);
        };
        const std::size_t floor_m = std::max<std::size_t>(best_m, 1);
        if (!eval(floor_m).ok) continue;
        std::size_t lo = floor_m, hi = m_hi;  // eval(lo) ok
        while (lo < hi) {
          const std::size_t mid = lo + (hi - lo + 1) / 2;
          if (eval(mid).ok)
            lo = mid;
          else
            hi = mid - 1;
        }
        const Evaluation e = eval(lo);
        const bool better = lo > best_m || (lo == best_m && best.s == s && e.log2_error < best_eval.log2_error);
        if (!better) continue;
        best_m = lo;
        best_eval = e;
        best.m = lo;
        best.s = s;
        best.q = q;
      }
    }
  }

  if (best_m == 0) {
    best.m = 0;
    best.log2_error = -std::numeric_limits<double>::infinity();
    best.statement = "Trevisan's extractor [Trevisan 2001; RRV 2002; DPVR 2012]: no output length m ≥ 1 meets 2^" +
                     fmt("%.2f", log2_error_target) + " for n = " + std::to_string(n) +
                     " bits of min-entropy k = " + fmt("%.3f", k) +
                     " with field degree s ∈ [8, 512], seed deficiency " + fmt("%.6f", deficiency_per_bit) +
                     " per seed bit" +
                     (max_seed_bits == std::numeric_limits<std::size_t>::max()
                          ? std::string()
                          : " and at most " + std::to_string(max_seed_bits) + " seed bits") +
                     " (error 2^Δ·m·ε₁, docs/extractors.md (T6)).";
    return best;
  }
  best.field_low_terms = gf2_irreducible_low_terms(best.s);
  best.d = best_eval.d;
  best.r = best_eval.r;
  best.k1 = best_eval.k1;
  best.log2_eps1 = best_eval.log2_eps1;
  best.seed_deficiency = best_eval.deficiency;
  best.log2_error = best_eval.log2_error;
  const std::size_t N = (n + best.s - 1) / best.s;
  char g_hex[32];
  std::snprintf(g_hex, sizeof g_hex, "0x%llx", static_cast<unsigned long long>(best.field_low_terms));
  best.statement =
      "Trevisan's extractor [Trevisan 2001; weak designs RRV 2002; side information DPVR 2012, Thm. 4.6 as restated in "
      "MPS arXiv:1212.0520]: m = " +
      std::to_string(best.m) + " output bits from n = " + std::to_string(n) +
      " input bits of min-entropy k = " + fmt("%.3f", k) +
      " (given classical side information E). One-bit extractor: polynomial hashing over GF(2^" +
      std::to_string(best.s) + ") = GF(2)[z]/(z^" + std::to_string(best.s) + " + g), g = " + g_hex +
      ", N = " + std::to_string(N) +
      " coefficients, then a dot product; collision probability ½(1 + (N−1)/2^s), so by the "
      "δ-almost two-universal leftover hash lemma [TSSR 2011] it is a (k₁, ε₁)-strong extractor with ε₁ = "
      "½·sqrt((N−1)/2^s + 2^(1−k₁)) = 2^" +
      fmt("%.3f", best.log2_eps1) + " at k₁ = " + fmt("%.3f", best.k1) + ". Weak design: lines over GF(" +
      std::to_string(best.q) + "), t = " + std::to_string(best.t()) + ", d = " + std::to_string(best.d) +
      " seed bits, r = " + fmt("%.6f", best.r) + " (exact). Requirement k ≥ k₁ + r·m + log2(1/ε₁) = " +
      fmt("%.3f", best.k1 + best.r * static_cast<double>(best.m) - best.log2_eps1) + ". Error m·ε₁" +
      (best.seed_deficiency > 0 ? "·2^Δ with seed deficiency Δ = " + fmt("%.3f", best.seed_deficiency) +
                                      " bits (weak seed independent of the input given E; docs/extractors.md (T6))"
                                : std::string(" (uniform seed)")) +
      " = 2^" + fmt("%.3f", best.log2_error) + " ≤ target 2^" + fmt("%.2f", log2_error_target) + ".";
  return best;
}

}  // namespace dira::protocol
