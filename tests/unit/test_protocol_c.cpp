// Protocol C (issue 11): PEF models, optimiser, certification, scoring, photonic model, planner.
// Golden values come from closed forms, exact rational evaluation, or scripts/pef_reference.py
// (a separate Python implementation solving the dual by EM); each test says which.
#include "dira/protocol/pef.hpp"
#include "dira/protocol/photonic_chsh.hpp"
#include "dira/protocol/protocol_c.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

using namespace dira::protocol;

namespace {

// The "textbook" Eberhard configuration used for the reference numbers (docs §8.3): V = 0.99,
// η = 0.8, no dark counts, θ = 0.42, angles a = (1.05, −1.45), b = (1.45, −1.05).
PhotonicChshModel eberhard_reference() {
  PhotonicChshModel m;
  m.visibility = 0.99;
  m.efficiency = 0.8;
  m.theta = 0.42;
  m.a0 = 1.05, m.a1 = -1.45, m.b0 = 1.45, m.b1 = -1.05;
  return m;
}

// Independent evaluation of one constraint in long double from the decimal strings (strtold).
long double constraint_ld(const std::array<Rational, 4>& nu, const HalfIntegerBehaviour& p, long double beta,
                          const std::array<std::string, kChshCells>& F) {
  long double s = 0;
  for (int k = 0; k < kChshCells; ++k) {
    if (p[k] == 0) continue;
    const long double pk = p[k] == 2 ? 1.0L : std::pow(0.5L, 1.0L + beta);
    s += static_cast<long double>(to_double(nu[k & 3])) * pk * std::strtold(F[k].c_str(), nullptr);
  }
  return s;
}

std::string pef_json(const PefCertificateData& d) {
  std::ostringstream o;
  o << "{\"settings_model\": {\"kind\": \"" << d.settings_kind << "\", \"epsilon\": \"" << d.epsilon
    << "\"}, \"behaviour_model\": \"" << d.behaviour_model << "\", \"pefs\": [";
  for (std::size_t i = 0; i < d.pefs.size(); ++i) {
    const auto& s = d.pefs[i];
    o << (i ? ", " : "") << "{\"trials\": [" << s.first << ", " << s.last << "], \"beta\": \"" << s.beta
      << "\", \"F\": [";
    for (int k = 0; k < kChshCells; ++k) o << (k ? ", " : "") << '"' << s.F[k] << '"';
    o << "]}";
  }
  o << "]}\n";
  return o.str();
}

int run_checker(const std::string& json, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "dira-test-protocol-c";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << json;
  const std::string cmd = std::string("python3 ") + DIRA_TEST_SOURCE_DIR + "/scripts/check_certificate.py -q '" +
                          path.string() + "' > /dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const CertifiedPef& honest_pef() {
  // Certified once for the reference apparatus at ε = 10⁻³, β = 1/100.
  static const CertifiedPef pef = [] {
    const auto ref = joint_distribution(eberhard_reference().behaviour());
    return make_certified_pef(SvSettingsModel{parse_rational("1e-3")}, ref, Rational(1, 100));
  }();
  return pef;
}

}  // namespace

TEST_CASE("SV settings model: 8 exact vertices of one stream, Bob's bias may depend on x", "[protocol-c]") {
  const Rational eps = parse_rational("0.01");
  const auto V = SvSettingsModel{eps}.vertices();
  REQUIRE(V.size() == 8);
  std::set<std::string> distinct;
  const Rational lo = Rational(1, 2) - eps, hi = Rational(1, 2) + eps;
  for (const auto& nu : V) {
    REQUIRE(nu[0] + nu[1] + nu[2] + nu[3] == 1);
    for (const auto& v : nu) CHECK((v == lo * lo || v == lo * hi || v == hi * hi));
    distinct.insert(to_string(nu[0]) + "," + to_string(nu[1]) + "," + to_string(nu[2]) + "," + to_string(nu[3]));
  }
  CHECK(distinct.size() == 8);
  // Closed form: ν(x=0) = ½+ε, ν(y=0|x=0) = ½+ε, ν(y=0|x=1) = ½−ε is a vertex; it is not a product
  // ν_A ⊗ ν_B (4 product vertices of two independent sources would miss it).
  const SettingDistribution dependent{hi * hi, hi * lo, lo * lo, lo * hi};
  bool found = false;
  for (const auto& nu : V) found = found || nu == dependent;
  CHECK(found);
  CHECK(dependent[0] * dependent[3] != dependent[1] * dependent[2]);  // not a product distribution
  CHECK_THROWS(SvSettingsModel{Rational(1, 2)}.vertices());
}

TEST_CASE("No-signalling vertices: 16 deterministic + 8 PR boxes, normalised and no-signalling", "[protocol-c]") {
  const auto P = no_signalling_vertices();
  REQUIRE(P.size() == 24);
  int chsh_local_max = 0, chsh_pr_max = 0;
  for (std::size_t i = 0; i < P.size(); ++i) {
    const auto& p = P[i];
    for (int z = 0; z < 4; ++z) CHECK(p[z] + p[4 + z] + p[8 + z] + p[12 + z] == 2);  // Σ_c p = 1 (twice)
    // Alice's marginal does not depend on y, Bob's on x.
    for (int x = 0; x < 2; ++x)
      for (int a = 0; a < 2; ++a)
        CHECK(p[chsh_cell(a, 0, x, 0)] + p[chsh_cell(a, 1, x, 0)] ==
              p[chsh_cell(a, 0, x, 1)] + p[chsh_cell(a, 1, x, 1)]);
    for (int y = 0; y < 2; ++y)
      for (int b = 0; b < 2; ++b)
        CHECK(p[chsh_cell(0, b, 0, y)] + p[chsh_cell(1, b, 0, y)] ==
              p[chsh_cell(0, b, 1, y)] + p[chsh_cell(1, b, 1, y)]);
    // 2·Σ_{xy} P(a⊕b = xy): 8 for a PR box a⊕b = xy, at most 6 for a local box (CHSH ≤ 3/4 win).
    int win2 = 0;
    for (int x = 0; x < 2; ++x)
      for (int y = 0; y < 2; ++y)
        for (int a = 0; a < 2; ++a) win2 += p[chsh_cell(a, a ^ (x & y), x, y)];
    (i < 16 ? chsh_local_max : chsh_pr_max) = std::max(i < 16 ? chsh_local_max : chsh_pr_max, win2);
  }
  CHECK(chsh_local_max == 6);
  CHECK(chsh_pr_max == 8);
}

TEST_CASE("Photonic model: closed forms", "[protocol-c]") {
  SECTION("V = 1, η = 1, θ = π/4, CHSH angles: p(11|xy) = ½cos²(a_x − b_y)") {
    PhotonicChshModel m;  // defaults: V = η = 1, θ = π/4, a = (0, π/4), b = (π/8, −π/8)
    const auto p = m.behaviour();
    const double pi = std::acos(-1.0);
    const double a[2] = {0, pi / 4}, b[2] = {pi / 8, -pi / 8};
    for (int x = 0; x < 2; ++x)
      for (int y = 0; y < 2; ++y) {
        const double c2 = std::pow(std::cos(a[x] - b[y]), 2);
        CHECK(p[chsh_cell(1, 1, x, y)] == Approx(0.5 * c2).margin(1e-15));
        CHECK(p[chsh_cell(0, 0, x, y)] == Approx(0.5 * c2).margin(1e-15));
        CHECK(p[chsh_cell(1, 0, x, y)] == Approx(0.5 * (1 - c2)).margin(1e-15));
        CHECK(p[chsh_cell(0, 1, x, y)] == Approx(0.5 * (1 - c2)).margin(1e-15));
      }
    // CHSH = 2√2 (Tsirelson) at these angles.
    double S = 0;
    for (int z = 0; z < 4; ++z) S += (z == 3 ? -1 : 1) * (p[z] - p[4 + z] - p[8 + z] + p[12 + z]);
    CHECK(S == Approx(2 * std::sqrt(2.0)).epsilon(1e-12));
  }
  SECTION("losses, noise and dark counts") {
    PhotonicChshModel m;
    m.visibility = 0.9;
    m.efficiency = 0.7;
    m.dark_count = 0.01;
    m.theta = 0.3;
    m.a0 = 0, m.a1 = 0.5, m.b0 = 0, m.b1 = 1.0;
    const auto p = m.behaviour();
    // x = 0 projects on |0⟩: the photon passes with q = V cos²θ + (1−V)/2; no click = (1 − ηq)(1 − d).
    const double q = 0.9 * std::pow(std::cos(0.3), 2) + 0.05;
    CHECK(p[chsh_cell(0, 0, 0, 0)] + p[chsh_cell(0, 1, 0, 0)] == Approx((1 - 0.7 * q) * 0.99).epsilon(1e-13));
    // Both on |0⟩: coincidence of passing = V cos²θ + (1−V)/4; p(00) = (1 − 2ηq + η² q_ab)(1 − d)².
    const double qab = 0.9 * std::pow(std::cos(0.3), 2) + 0.025;
    CHECK(p[chsh_cell(0, 0, 0, 0)] == Approx((1 - 2 * 0.7 * q + 0.49 * qab) * 0.99 * 0.99).epsilon(1e-13));
    for (int z = 0; z < 4; ++z) CHECK(p[z] + p[4 + z] + p[8 + z] + p[12 + z] == Approx(1.0).epsilon(1e-14));
    // η = 0: only dark counts click, independently: p(11) = d².
    m.efficiency = 0;
    CHECK(m.behaviour()[chsh_cell(1, 1, 1, 1)] == Approx(1e-4).epsilon(1e-12));
  }
}

TEST_CASE("PEF optimum at ε = 0 agrees with the independent EM-dual reference", "[protocol-c]") {
  const auto ref = joint_distribution(eberhard_reference().behaviour());
  const SvSettingsModel settings{Rational(0)};
  // Golden values: python3 scripts/pef_reference.py --epsilon 0 --beta B --visibility 0.99 --efficiency 0.8
  //   --theta 0.42 --angles 1.05 -1.45 1.45 -1.05 (EM on the dual, lower/upper bounds agree to 1.4e-13):
  //   β = 0.01: E[log2 F] = 0.000295032843;  β = 0.05: E[log2 F] = 0.000663236690.
  const PefSolution s1 = optimise_pef(settings, ref, 0.01);
  const PefSolution s5 = optimise_pef(settings, ref, 0.05);
  CHECK(s1.log2_gain == Approx(0.000295032843).epsilon(1e-4));
  CHECK(s5.log2_gain == Approx(0.000663236690).epsilon(1e-4));
  CHECK(s1.log2_gain <= s1.log2_gain_upper + 1e-12);
  // The certified PEF keeps the rate (scaling costs ≈ 3e-9 in log2 F).
  const CertifiedPef c = certify_pef(settings, Rational(1, 100), s1.F, 1e-9, &ref);
  CHECK(c.log2_gain == Approx(0.000295032843).epsilon(1e-4));
  CHECK(c.log2_gain <= 0.000295032843 + 1e-12);
}

TEST_CASE("Certified PEF: every vertex constraint ≤ 1 by an independent long-double evaluation", "[protocol-c]") {
  const CertifiedPef& pef = honest_pef();
  CHECK(pef.beta_exact == "1/100");
  CHECK(pef.settings_epsilon == "1/1000");
  CHECK(pef.max_constraint_upper <= 1 - 1e-9);
  const auto V = SvSettingsModel{parse_rational("1e-3")}.vertices();
  const auto P = no_signalling_vertices();
  long double worst = 0;
  for (const auto& nu : V)
    for (const auto& p : P) worst = std::max(worst, constraint_ld(nu, p, 0.01L, pef.F_decimal));
  CHECK(worst <= 1.0L);
  CHECK(worst > 1.0L - 1e-6L);  // the optimum is tight: some constraint is active
  // log2F_lower is a lower bound of log2 of the decimal value, and within 1e-15 of it.
  for (int k = 0; k < kChshCells; ++k) {
    const long double f = std::strtold(pef.F_decimal[k].c_str(), nullptr);
    CHECK(static_cast<long double>(pef.log2F_lower[k]) <= std::log2(f) + 1e-18L);
    CHECK(static_cast<long double>(pef.log2F_lower[k]) >= std::log2(f) - 1e-14L);
  }
  // The gain at ε = 10⁻³ is below the ε = 0 value and positive.
  CHECK(pef.log2_gain > 1e-4);
  CHECK(pef.log2_gain < 0.000295032843);
}

TEST_CASE("Python checker accepts the certificate and rejects one factor raised by 0.1 %", "[protocol-c]") {
  const CertifiedPef& pef = honest_pef();
  ProtocolCConfig cfg;
  cfg.max_trials = 1000;
  ProtocolC prot(cfg, pef);
  Trial t;
  for (int i = 0; i < 10; ++i) prot.score(t);
  const PefCertificateData data = prot.certificate_data();
  REQUIRE(data.pefs.size() == 1);
  CHECK(data.pefs[0].first == 0);
  CHECK(data.pefs[0].last == 9);
  CHECK(run_checker(pef_json(data), "pef-ok.json") == 0);
  // Raise one factor of an active constraint by 0.1 %: find the tightest constraint and a cell in it.
  const auto V = SvSettingsModel{parse_rational("1e-3")}.vertices();
  const auto P = no_signalling_vertices();
  long double worst = -1;
  int cell = -1;
  for (const auto& nu : V)
    for (const auto& p : P) {
      const long double v = constraint_ld(nu, p, 0.01L, pef.F_decimal);
      if (v > worst) {
        worst = v;
        for (int k = 0; k < kChshCells; ++k)
          if (p[k] && std::strtold(pef.F_decimal[k].c_str(), nullptr) > 0.1L) cell = k;
      }
    }
  REQUIRE(cell >= 0);
  PefCertificateData bad = data;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15Lf", std::strtold(bad.pefs[0].F[cell].c_str(), nullptr) * 1.001L);
  bad.pefs[0].F[cell] = buf;
  CHECK(run_checker(pef_json(bad), "pef-raised.json") == 1);
}

TEST_CASE("Soundness: a local deterministic adversary with SV-biased settings is never certified", "[protocol-c]") {
  const CertifiedPef& pef = honest_pef();
  const Rational eps = parse_rational("1e-3");
  const auto V = SvSettingsModel{eps}.vertices();
  const auto P = no_signalling_vertices();
  // Expectation, exactly: for a deterministic box E[F] = the vertex-pair constraint, which must
  // be ≤ 1 in exact rationals; Jensen then gives E[log F] ≤ log E[F] ≤ 0. Checked for all 8 × 16.
  for (const auto& nu : V)
    for (std::size_t b = 0; b < 16; ++b) {
      Rational EF = 0;
      for (int k = 0; k < kChshCells; ++k)
        if (P[b][k]) EF += nu[k & 3] * pef.F_exact[k];
      CHECK(EF <= 1);
    }
  // The adversary of the issue: a = b = 0 always (wins CHSH unless x = y = 1), settings from an
  // SV source biased against (1,1): P(x=1) = ½−ε, P(y=1|x=1) = ½−ε. Win probability 1 − (½−ε)².
  const double e = 1e-3;
  std::array<double, 4> nu{(0.5 + e) * 0.5, (0.5 + e) * 0.5, (0.5 - e) * (0.5 + e), (0.5 - e) * (0.5 - e)};
  double mean = 0;
  for (int z = 0; z < 4; ++z) mean += nu[z] * pef.log2F_lower[chsh_cell(0, 0, z >> 1, z & 1)];
  CHECK(mean < 0);
  // Sampled runs (seeded): log2 T never reaches log2(1/ε_est) = 30 (Ville: P ≤ 2^-30).
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> U(0, 1);
  for (int run = 0; run < 5; ++run) {
    ProtocolCConfig cfg;
    cfg.max_trials = 200000;
    cfg.log2_inv_eps_est = 30;
    cfg.target_min_entropy = 1;
    ProtocolC prot(cfg, pef);
    std::vector<Trial> trials(cfg.max_trials);
    for (auto& t : trials) {
      t.u[0] = U(rng) < 0.5 - e ? 1 : 0;
      t.u[1] = U(rng) < (t.u[0] ? 0.5 - e : 0.5) ? 1 : 0;
    }
    prot.score(trials);
    const auto r = prot.finish();
    CHECK(r.log2_T_lower < 30);
    CHECK_FALSE(r.passed);
    CHECK(prot.stats().log2_T <= 0);
  }
  // A mixture of all 16 deterministic boxes (the adversary knows which, per trial): same bound.
  {
    ProtocolCConfig cfg;
    cfg.max_trials = 200000;
    cfg.target_min_entropy = 1;
    ProtocolC prot(cfg, pef);
    std::vector<Trial> trials(cfg.max_trials);
    for (auto& t : trials) {
      const int box = static_cast<int>(rng() & 15u);
      t.u[0] = U(rng) < 0.5 ? 1 : 0;
      t.u[1] = U(rng) < 0.5 ? 1 : 0;
      t.x[0] = static_cast<std::uint8_t>(t.u[0] ? (box >> 2) & 1 : (box >> 3) & 1);
      t.x[1] = static_cast<std::uint8_t>(t.u[1] ? box & 1 : (box >> 1) & 1);
    }
    prot.score(trials);
    CHECK(prot.finish().log2_T_lower < 30);
  }
}

TEST_CASE("Soundness: PR boxes are certified no more than their true entropy (1 bit per trial)", "[protocol-c]") {
  // A PR box's outcome a is uniform given z and any classical λ, and b = a ⊕ xy: H_min = 1 bit per
  // trial exactly, so a correct PEF may certify up to, never beyond, 1 bit per trial. The PEF condition
  // gives E[F·2^-β] ≤ 1 for PR boxes, hence E[log2 F] ≤ β (Jensen): checked for every SV vertex.
  const CertifiedPef& pef = honest_pef();
  const auto V = SvSettingsModel{parse_rational("1e-3")}.vertices();
  const auto P = no_signalling_vertices();
  for (const auto& nu : V)
    for (std::size_t b = 16; b < 24; ++b) {
      double mean = 0;
      for (int k = 0; k < kChshCells; ++k)
        if (P[b][k]) mean += to_double(nu[k & 3]) * 0.5 * pef.log2F_lower[k];
      CHECK(mean <= 0.01);
    }
  // Sampled: PR box a ⊕ b = xy, 50 % of trials replaced by a deterministic box: the certified
  // min-entropy stays below the true 0.5 bit per trial.
  std::mt19937_64 rng(7);
  ProtocolCConfig cfg;
  cfg.max_trials = 100000;
  ProtocolC prot(cfg, pef);
  std::vector<Trial> trials(cfg.max_trials);
  std::uint64_t pr_trials = 0;
  for (auto& t : trials) {
    t.u[0] = rng() & 1u;
    t.u[1] = rng() & 1u;
    if (rng() & 1u) {
      ++pr_trials;
      t.x[0] = rng() & 1u;
      t.x[1] = static_cast<std::uint8_t>(t.x[0] ^ (t.u[0] & t.u[1]));
    } else {
      t.x[0] = 0;
      t.x[1] = 0;
    }
  }
  prot.score(trials);
  const auto r = prot.finish();
  CHECK(r.min_entropy_lower < static_cast<double>(pr_trials));
}

TEST_CASE("ProtocolC scoring: counts, exact total, segments, stopping time, validation", "[protocol-c]") {
  const CertifiedPef& pef = honest_pef();
  const PhotonicChshModel m = eberhard_reference();
  const auto p = m.behaviour();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> U(0, 1);
  auto sample = [&](std::size_t n) {
    std::vector<Trial> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      Trial& t = out[i];
      t.index = i;
      t.u[0] = rng() & 1u;
      t.u[1] = rng() & 1u;
      const int z = 2 * t.u[0] + t.u[1];
      double r = U(rng);
      int c = 0;
      for (; c < 3; ++c) {
        r -= p[4 * c + z];
        if (r < 0) break;
      }
      t.x[0] = static_cast<std::uint8_t>(c >> 1);
      t.x[1] = static_cast<std::uint8_t>(c & 1);
    }
    return out;
  };
  SECTION("counts and the exact total agree with a direct loop") {
    const auto trials = sample(50000);
    ProtocolCConfig cfg;
    cfg.max_trials = 50000;
    ProtocolC prot(cfg, pef);
    CHECK(prot.score(std::span<const Trial>(trials).subspan(0, 1234)) == 1234);
    CHECK(prot.score(std::span<const Trial>(trials).subspan(1234)) == 50000 - 1234);
    CHECK(prot.done());
    long double direct = 0;
    for (const auto& t : trials) direct += pef.log2F_lower[chsh_cell(t.x[0], t.x[1], t.u[0], t.u[1])];
    const auto r = prot.finish();
    CHECK(r.trials == 50000);
    CHECK(static_cast<long double>(r.log2_T_lower) <= direct + 1e-9L);
    CHECK(static_cast<long double>(r.log2_T_lower) == Approx(static_cast<double>(direct)).epsilon(1e-12));
    CHECK(prot.stats().log2_T == Approx(static_cast<double>(direct)).epsilon(1e-12));
    // h = (log2 T − 30)/β.
    CHECK(r.min_entropy_lower == Approx((r.log2_T_lower - 30) / 0.01).epsilon(1e-12));
    // Honest mean gain per trial ≈ E[log2 F] (binomial noise: σ ≈ 0.02/√n).
    CHECK(prot.stats().mean_log2_gain == Approx(pef.log2_gain).margin(5 * 0.03 / std::sqrt(50000.0)));
  }
  SECTION("segments: a replacement PEF scores only later trials") {
    const auto trials = sample(3000);
    ProtocolCConfig cfg;
    cfg.max_trials = 3000;
    ProtocolC prot(cfg, pef);
    prot.score(std::span<const Trial>(trials).subspan(0, 1000));
    CHECK_THROWS_AS(prot.replace_pef(999, pef), std::logic_error);
    CertifiedPef other = pef;
    for (auto& v : other.log2F_lower) v = -1.0;  // a different (valid-looking) scoring table
    prot.replace_pef(2000, other);
    prot.score(std::span<const Trial>(trials).subspan(1000));
    REQUIRE(prot.segments().size() == 2);
    CHECK(prot.segments()[0].first == 0);
    CHECK(prot.segments()[0].last == 1999);
    CHECK(prot.segments()[1].first == 2000);
    CHECK(prot.segments()[1].last == 2999);
    long double direct = 0;
    for (std::size_t i = 0; i < 2000; ++i)
      direct += pef.log2F_lower[chsh_cell(trials[i].x[0], trials[i].x[1], trials[i].u[0], trials[i].u[1])];
    direct -= 1000;
    CHECK(prot.finish().log2_T_lower == Approx(static_cast<double>(direct)).epsilon(1e-12));
    CertifiedPef other_beta = pef;
    other_beta.beta = Rational(1, 50);
    CHECK_THROWS(prot.replace_pef(5000, other_beta));
  }
  SECTION("stop when certified: the first trial at which log2 T reaches the threshold") {
    const auto trials = sample(400000);
    ProtocolCConfig cfg;
    cfg.max_trials = 400000;
    cfg.target_min_entropy = 100;
    cfg.log2_inv_eps_est = 20;
    cfg.stop_when_certified = true;
    ProtocolC prot(cfg, pef);
    const std::size_t used = prot.score(trials);
    REQUIRE(prot.done());
    REQUIRE(used < trials.size());
    double run = 0, before = 0;
    for (std::size_t i = 0; i < used; ++i) {
      before = run;
      run += pef.log2F_lower[chsh_cell(trials[i].x[0], trials[i].x[1], trials[i].u[0], trials[i].u[1])];
    }
    const double threshold = 0.01 * 100 + 20;
    CHECK(before < threshold);
    CHECK(run >= threshold - 1e-9);
    const auto r = prot.finish();
    CHECK(r.stopped_early);
    CHECK(r.trials == used);
  }
  SECTION("settings and outcomes must be bits") {
    ProtocolCConfig cfg;
    cfg.max_trials = 10;
    ProtocolC prot(cfg, pef);
    Trial t;
    t.x[0] = 2;
    CHECK_THROWS_AS(prot.score(t), std::invalid_argument);
  }
}

TEST_CASE("One SV bit per party, party 0 first, through the ledger", "[protocol-c]") {
  // Bits 1,0 | 0,1 | 1,1: trial 0 → (1,0), trial 1 → (0,1), trial 2 → (1,1).
  BufferSvSource src({true, false, false, true, true, true}, "test");
  BitLedger ledger(src);
  Trial t;
  draw_setting_one_bit_per_party(ledger, 0, 2, t);
  CHECK((t.u[0] == 1 && t.u[1] == 0));
  draw_setting_one_bit_per_party(ledger, 1, 2, t);
  CHECK((t.u[0] == 0 && t.u[1] == 1));
  draw_setting_one_bit_per_party(ledger, 2, 2, t);
  CHECK((t.u[0] == 1 && t.u[1] == 1));
  CHECK(ledger.bits_drawn(BitPurpose::setting) == 6);
  CHECK_THROWS_AS(draw_setting_one_bit_per_party(ledger, 3, 2, t), SourceExhausted);
}

TEST_CASE("Planner: trials formula, and V = 0.99, η = 0.8, ε = 1e-3, 256 bits", "[protocol-c]") {
  // Closed form with σ = 0: n = ⌈(β·h + L)/g⌉.
  CHECK(trials_for_min_entropy(100, 0.01, 1e-4, 0, 30) == Approx(310000).margin(1));  // ceil of (1 + 30)/1e-4
  // With σ: n·g − zσ√n = c at the returned n (up to the ceiling).
  const double n = trials_for_min_entropy(300, 0.02, 5e-4, 4e-4, 31, 3);
  CHECK(n * 5e-4 - 3 * 0.02 * std::sqrt(n) == Approx(0.02 * 300 + 31).epsilon(1e-3));
  CHECK(std::isinf(trials_for_min_entropy(1, 0.01, 0, 1, 30)));

  const PlanC plan = plan_protocol_c(HardwareC{0.99, 0.8, 0, 1}, parse_rational("1e-3"), 256, 1e-9, 1e5);
  CHECK(plan.feasible);
  CHECK(plan.min_entropy_target == Approx(256 + 2 * std::log2(2e9)).epsilon(1e-12));
  // The plan must be at least as good as the fixed textbook configuration planned the same way
  // (its rate at ε = 0 is the reference value 0.0295 bit/trial at β = 0.01, an upper bound at ε > 0).
  CHECK(plan.trials > 0);
  CHECK(plan.trials < 1e6);
  CHECK(plan.bits_per_trial > 0.005);
  CHECK(plan.seconds == Approx(plan.trials / 1e5));
  WARN("plan: trials " << plan.trials << " beta " << plan.beta_exact << " bits/trial " << plan.bits_per_trial
                       << " E[log2 F] " << plan.log2_gain << " theta " << plan.model.theta);
  // Simulate the planned run with the chosen model: it must pass (completeness margin 3σ).
  const auto ref = joint_distribution(plan.model.behaviour());
  const CertifiedPef pef =
      make_certified_pef(SvSettingsModel{parse_rational("1e-3")}, ref, parse_rational(plan.beta_exact));
  ProtocolCConfig cfg;
  cfg.max_trials = static_cast<std::uint64_t>(plan.trials);
  cfg.log2_inv_eps_est = plan.log2_inv_eps_est;
  cfg.target_min_entropy = plan.min_entropy_target;
  ProtocolC prot(cfg, pef);
  const auto p = plan.model.behaviour();
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> U(0, 1);
  std::vector<Trial> block(4096);
  while (!prot.done()) {
    for (auto& t : block) {
      t.u[0] = rng() & 1u;
      t.u[1] = rng() & 1u;
      const int z = 2 * t.u[0] + t.u[1];
      double r = U(rng);
      int c = 0;
      for (; c < 3; ++c) {
        r -= p[4 * c + z];
        if (r < 0) break;
      }
      t.x[0] = static_cast<std::uint8_t>(c >> 1);
      t.x[1] = static_cast<std::uint8_t>(c & 1);
    }
    prot.score(block);
  }
  CHECK(prot.finish().passed);
}
